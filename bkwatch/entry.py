"""The `bkwatch` command's entry point (and `python -m bkwatch`'s): the command line imported
inside a Ctrl-C handler, so an interrupt while it loads (the first ~0.1 s) exits with 130 like one
a moment later, not with Python's traceback. Apart from the package root, which everything imports:
a root importing the command line would tie every module into one import cycle."""

from __future__ import annotations


def run() -> int:
    try:
        from bkwatch.cli import main
    except KeyboardInterrupt:
        return 130
    return main()
