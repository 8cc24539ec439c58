"""One way to replace a private file whole: the watch lists, the history and the config file.

The new content goes to a temp file beside the target (``.NAME.PID-RANDOM.tmp``, mode 0600
whatever the umask), is fsynced, renamed over the target, and the directory is fsynced: a crash
leaves the old file or the new one, never half of one, and never a copy others can read.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path


def temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def temp_files(path: Path) -> list[Path]:
    """Temp files of `path` left by writers that died between creating and renaming them."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.\d+-[0-9a-f]{{8}}\.tmp")
    try:
        return [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return []


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` whole with `data`, readable by its owner only. Raises OSError, leaving
    `path` as it was and no temp file behind."""
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # whatever the umask took away
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)
