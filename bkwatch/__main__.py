"""`python -m bkwatch` runs the command line."""

from bkwatch.entry import run

raise SystemExit(run())
