"""The monitor's log file and the redaction on every log record.

While the screen runs, stderr *is* the screen: log records go to a 0600 file in the log directory
instead. The file's formatter and a filter on the HTTP libraries' loggers redact every record (httpx
logs every request URL, and an ESB GET carries bk_app_secret in its query).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from typing import Any

from bkwatch.config import log_dir
from bkwatch.redact import redact

# Loggers of the HTTP stack: httpx logs every request URL (an ESB GET carries bk_app_secret in
# its query), httpcore its connection steps at DEBUG.
HTTP_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")


class _ScrubbingFormatter(logging.Formatter):
    """Log lines with every secret of the profile masked, tracebacks included."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


class RedactingFilter(logging.Filter):
    """Redacts a library logger's records before any handler sees them: ours, or one that a
    program embedding bkwatch (or `logging.basicConfig(level=DEBUG)`) has set up."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        safe = redact(message, self.secrets)
        if safe != message:
            record.msg, record.args = safe, None
        return True


def guard_http_logs(secrets: Iterable[str]) -> None:
    """Install (or replace) the redacting filter on the HTTP stack's loggers."""
    redacting = RedactingFilter(secrets)
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(old)
        logger.addFilter(redacting)


class _PrivateLogFile(RotatingFileHandler):
    """Log files (and their rotations) made readable by their owner only, whatever the umask:
    they hold server messages and task URLs."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)  # a file an older version left readable by all
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def log_to_file(secrets: list[str], *, debug: bool = False) -> None:
    """Send bkwatch's log records to `log_dir()/bkwatch.log` while the screen runs: stderr *is*
    the screen, and a stray traceback there would tear the display. With `debug`, DEBUG records
    and the HTTP stack's records (every request URL) go there too, redacted like the rest."""
    handler: logging.Handler
    try:
        directory = log_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = _PrivateLogFile(
            directory / "bkwatch.log", maxBytes=1_000_000, backupCount=2, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(_ScrubbingFormatter(secrets))
    logger = logging.getLogger("bkwatch")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False
    guard_http_logs(secrets)
    if debug:
        for name in HTTP_LOGGERS:
            http_logger = logging.getLogger(name)
            http_logger.handlers[:] = [handler]
            http_logger.setLevel(logging.DEBUG)
            http_logger.propagate = False
