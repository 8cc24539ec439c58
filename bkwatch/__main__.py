"""`python -m bkwatch` runs the command line."""

from bkwatch import run

raise SystemExit(run())
