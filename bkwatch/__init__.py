"""bkwatch: a terminal live monitor for BlueKing ops tasks."""

import gc

__version__ = "0.1.0"


def tune_gc() -> None:
    """Set the process's garbage-collector thresholds for polling.

    Each poll allocates thousands of short-lived objects (hosts, nodes) that never form cycles;
    with the default first-generation threshold of 700 they trigger ~120 collections per round of
    500 polls. Entry points (the CLI, the benchmarks measuring a bkwatch process) call this once.
    """
    gc.set_threshold(50_000, 20, 100)
