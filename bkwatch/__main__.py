"""`python -m bkwatch` runs the command line."""

from bkwatch.cli import main

raise SystemExit(main())
