"""How each profile's ESB takes credentials, remembered across runs.

bkwatch sends credentials in the ``X-Bkapi-Authorization`` header on the ESB as on the gateway
(the paas2 ESB reads that header first; bk-apis §10.4). An older ESB that ignores the header
answers "APP Code [bk_app_code] cannot be empty"; the client then moves the credentials into a
JSON body (POST, which the ESB accepts for every component), never into a URL, and this module
remembers that per profile and ESB address in the data directory, so ``config show`` can say so
and later runs do not ask twice. ``config.toml`` is never written for it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Literal

import orjson

from bkwatch.config import data_dir

EsbAuth = Literal["header", "body"]
FILE_NAME = "esb_auth.json"


class EsbAuthMemory:
    """Per (profile, ESB address): "body" once the ESB refused header credentials."""

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: remembered for this process only

    def _read(self) -> dict[str, dict[str, object]]:
        if self.path is None:
            return {}
        try:
            doc = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}  # missing or damaged: header first again, which is always safe
        return doc if isinstance(doc, dict) else {}

    @staticmethod
    def _key(profile: str, esb_url: str | None) -> str:
        return f"{profile} {(esb_url or '').rstrip('/')}"

    def mode(self, profile: str, esb_url: str | None) -> EsbAuth:
        entry = self._read().get(self._key(profile, esb_url))
        return "body" if isinstance(entry, dict) and entry.get("mode") == "body" else "header"

    def since(self, profile: str, esb_url: str | None) -> float | None:
        entry = self._read().get(self._key(profile, esb_url))
        at = entry.get("since") if isinstance(entry, dict) else None
        return float(at) if isinstance(at, int | float) else None

    def remember_body(self, profile: str, esb_url: str | None) -> None:
        if self.path is None:
            return
        doc = self._read()
        doc[self._key(profile, esb_url)] = {"mode": "body", "since": time.time()}
        with contextlib.suppress(OSError):  # not remembered: the next run finds out again
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".esb_auth.")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
                os.replace(tmp, self.path)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise


def default_memory() -> EsbAuthMemory:
    return EsbAuthMemory(data_dir() / FILE_NAME)
