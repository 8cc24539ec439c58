"""bkwatch: a terminal live monitor for BlueKing ops tasks."""

import gc

__version__ = "0.1.0"


def tune_gc() -> None:
    """Set the process's garbage-collector thresholds for polling.

    Each poll allocates thousands of short-lived objects (hosts, nodes) that never form cycles;
    with the default first-generation threshold of 700 they trigger ~120 collections per round of
    500 polls. Entry points (the CLI, the benchmarks measuring a bkwatch process) call this once.

    Only the first generation's threshold is raised. The screen leaves cyclic garbage behind on
    every key and focus change (Textual recomposes the footer's keys and builds a virtual node per
    component class each time it restyles a widget); it lives a few seconds, so it reaches the
    oldest generation, and only a full collection frees it. With the older thresholds raised as
    well (20, 100), a full collection came once in about 100 million allocations, and the garbage
    piled up meanwhile: ~1.3 MiB a minute while browsing, in steps. With CPython's (10, 10) a full
    collection runs once the objects promoted since the last one reach a quarter of the
    long-lived ones, which bounds the garbage to that share.
    """
    gc.set_threshold(50_000, 10, 10)
