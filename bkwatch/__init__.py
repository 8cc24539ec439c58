"""bkwatch: a terminal live monitor for BlueKing ops tasks."""

__version__ = "0.1.0"
