"""The record: what bkwatch saw, kept in SQLite in the data directory (`db.py` the file,
`recorder.py` the writer a poller tells of every update, `rows.py` what a snapshot becomes,
`story.py` one task's story read back, `render.py` it as Markdown and HTML, `flaky.py` hosts that
failed in more than one task)."""

from __future__ import annotations

from bkwatch.record.db import Limits, RecordError, db_path
from bkwatch.record.recorder import Recorder

__all__ = ["Limits", "RecordError", "Recorder", "db_path"]
