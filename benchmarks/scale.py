"""Scale: 2,000 watched tasks at the default Cadence against a simulator process, for 60 s.

Reports the CPU share of one core used by the bkwatch engine (this process), the poll lag
distribution (actual vs intended start, PollUpdate.lag) and how many watches were never polled.

python -m benchmarks.scale [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from benchmarks.common import Row, emit, parser, percentile, sim_process, sim_profile, usable
from bkwatch import tune_gc
from bkwatch.client import BkClient
from bkwatch.poller import Poller, PollUpdate
from bkwatch.systems.adapters import fetch_task
from bkwatch.targets import parse_target


async def _stop(runner: asyncio.Task[None]) -> int:
    """Cancel the poller; returns how many cancels it swallowed before stopping (0 is right)."""
    for ignored in range(20):
        runner.cancel()
        done, _ = await asyncio.wait({runner}, timeout=5)
        if done:
            with contextlib.suppress(asyncio.CancelledError):
                runner.result()
            return ignored
    raise RuntimeError("Poller.run() kept running through 20 cancels")


async def run(base_url: str, sim_cpu: object, targets: list[str], seconds: float) -> list[Row]:
    client = BkClient(sim_profile(base_url))
    updates: list[tuple[float, PollUpdate]] = []
    poller = Poller(
        lambda t: fetch_task(client, t), on_update=lambda u: updates.append((time.monotonic(), u))
    )
    for t in targets:
        poller.add(parse_target(t))
    s0 = sim_cpu()  # type: ignore[operator]
    w0, c0 = time.monotonic(), time.process_time()
    runner = asyncio.create_task(poller.run())
    await asyncio.sleep(seconds)
    wall, cpu = time.monotonic() - w0, time.process_time() - c0
    sim_share = (sim_cpu() - s0) / wall  # type: ignore[operator]
    starved = sum(1 for w in poller.watches.values() if w.polls == 0)
    updates = [(at, u) for at, u in updates if at <= w0 + wall]  # the window only
    ignored = await _stop(runner)
    await client.aclose()

    lags = [u.lag for _, u in updates]
    # Once every watch has had its first poll, what steady state looks like.
    first_round_done = max((at for at, u in updates if u.watch.polls == 1), default=w0)
    steady = [u.lag for at, u in updates if at > first_round_done and u.watch.polls > 1]
    errors = sum(1 for _, u in updates if u.error is not None)
    share = cpu / wall
    notes = [
        f"{len(targets):,} watches, {seconds:g} s, {len(updates):,} polls ({len(updates) / wall:,.0f}/s), "
        f"{errors} failed",
        f"poll lag all polls: p50 {percentile(lags, 50) * 1000:,.0f} ms, "
        f"p99 {percentile(lags, 99) * 1000:,.0f} ms "
        f"(all watches added at once; every one had its first poll {first_round_done - w0:.1f} s in)",
        f"poll lag after the first round: p50 {percentile(steady, 50) * 1000:,.0f} ms, "
        f"p99 {percentile(steady, 99) * 1000:,.0f} ms over {len(steady):,} polls",
        f"simulator process CPU: {sim_share * 100:.0f} % of one core",
    ]
    if ignored:
        notes.append(
            f"Poller.run() swallowed {ignored} cancel(s) before stopping: cancelling the task running "
            "it did not stop it the first time"
        )
    all_p99, steady_p99 = percentile(lags, 99) * 1000, percentile(steady, 99) * 1000
    return [
        Row("scale", "watches never polled", starved, "watches", None, "", None, "0", starved == 0, notes),
        Row(
            "scale",
            "engine CPU share of one core",
            share * 100,
            "%",
            None,
            "",
            None,
            "<= 10 %",
            share <= 0.10,
        ),
        Row(
            "scale",
            "poll lag p99 after the first round",
            steady_p99,
            "ms",
            percentile(steady, 50) * 1000,
            "p50, ms",
            None,
            "<= 50 ms",
            steady_p99 <= 50,
        ),
        Row(
            "scale",
            "poll lag p99 over all polls (the first round's spread included)",
            all_p99,
            "ms",
            percentile(lags, 50) * 1000,
            "p50, ms",
            None,
            "<= 1,000 ms",
            all_p99 <= 1000,
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    tune_gc()  # as the bkwatch command does at start
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    n, seconds = (2000, 15.0) if args.quick else (2000, 60.0)
    with sim_process("--no-arrivals", "--tasks-per-system", str(n // 5 + 2)) as sim:
        targets = usable(sim.targets())[:n]
        rows = asyncio.run(run(sim.base_url, sim.cpu, targets, seconds))
    emit(rows, args.json)


if __name__ == "__main__":
    main()
