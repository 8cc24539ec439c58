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


_deferred = False


def defer_gc() -> None:
    """No collection until `resume_gc`: for the monitor's start, up to its first rows.

    Importing Textual, httpx and the monitor and building the screen makes ~110,000 container
    objects, nine in ten of them alive for the whole run (modules, classes, functions, widgets):
    with the first generation's threshold at 50,000 that was two collections before the first
    row, each going over every object made since the last (10-30 ms each on the shared 2-core
    machine).
    """
    global _deferred
    if gc.isenabled():
        gc.disable()
        _deferred = True


def resume_gc() -> None:
    """The collector back on once the first rows are drawn (nothing when `defer_gc` did not
    turn it off): its first pass then goes over what the start made, as the two would have.

    Not `gc.freeze()` with it, though it would spare every later full collection those
    ~90,000 objects: some of them become garbage later (the footer's first keys, widgets of the
    first layout), ~8,000 objects after a minute of browsing, which frozen are never freed.
    """
    global _deferred
    if _deferred:
        _deferred = False
        gc.enable()
