"""`bkwatch sim`: run the simulator in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from . import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN, DEMO_USERNAME, SimConfig, Simulator
from .faults import KINDS, normalize


def _fault(text: str) -> tuple[str, str | None, float]:
    """KIND[:ROUTE][@PROB]"""
    spec, _, prob = text.partition("@")
    kind, _, route = spec.partition(":")
    try:
        return normalize(kind), route or None, float(prob) if prob else 1.0
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bkwatch sim",
        description="Run a simulated BlueKing (JOB, SOPS, BKFlow, "
        "NodeMan, GSEKit) over ESB and API-gateway paths.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--frozen", action="store_true", help="no automatic evolution (use the /_sim/ API)")
    p.add_argument("--no-arrivals", action="store_true", help="no new tasks over time")
    p.add_argument("--tasks-per-system", type=int, default=6)
    p.add_argument("--job-hosts", type=int, default=24, help="hosts per JOB step (up to 10000)")
    p.add_argument(
        "--log-kb", type=int, default=16, help="script log per JOB host, in KB (up to 5120 = 5 MB)"
    )
    p.add_argument("--nodeman-hosts", type=int, default=40, help="hosts per NodeMan job (up to 5000)")
    p.add_argument(
        "--pipeline-nodes", type=int, default=12, help="activities per SOPS/BKFlow task (up to 1000)"
    )
    p.add_argument("--gsekit-tasks", type=int, default=16)
    p.add_argument(
        "--gsekit-all-rows", action="store_true", help="old GSEKit: all job_tasks rows without ids"
    )
    p.add_argument(
        "--sops-cache", type=float, default=0.0, metavar="SECONDS", help="SOPS stale cache (real: 10)"
    )
    p.add_argument(
        "--rate-limit-reset", type=int, default=30, metavar="SECONDS", help="wait a 429 fault asks for"
    )
    p.add_argument(
        "--nodeman-page-cap", type=int, default=0, metavar="N", help="cap NodeMan pages at N rows (a proxy)"
    )
    p.add_argument("--nodeman-no-all-rows", action="store_true", help="old NodeMan: refuse pagesize=-1")
    p.add_argument(
        "--esb-params-only", action="store_true", help="old ESB: ignore the X-Bkapi-Authorization header"
    )
    p.add_argument(
        "--fault",
        action="append",
        type=_fault,
        default=[],
        metavar="KIND[:ROUTE][@PROB]",
        help=f"inject a fault; kinds: {', '.join(KINDS)}",
    )
    p.add_argument(
        "--cron-every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="a cron-launched JOB job in biz 2 this often",
    )
    p.add_argument(
        "--burst-every", type=float, default=0.0, metavar="SECONDS", help="a burst of new tasks this often"
    )
    p.add_argument("--burst-size", type=int, default=10, metavar="N", help="tasks per burst (10)")
    p.add_argument("--access-log", action="store_true")
    return p


class _Stopped(Exception):
    """SIGTERM arrived."""


def _stop(_signum: int, _frame: object) -> None:
    raise _Stopped


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = SimConfig(
        seed=args.seed,
        speed=args.speed,
        frozen=args.frozen,
        arrivals=False if args.no_arrivals else None,
        tasks_per_system=args.tasks_per_system,
        job_hosts=min(args.job_hosts, 10_000),
        log_bytes=max(1, min(args.log_kb, 5120)) * 1024,
        nodeman_hosts=min(args.nodeman_hosts, 5_000),
        pipeline_nodes=min(args.pipeline_nodes, 1_000),
        gsekit_tasks=args.gsekit_tasks,
        gsekit_rows_without_ids=args.gsekit_all_rows,
        sops_cache_seconds=args.sops_cache,
        rate_limit_reset=args.rate_limit_reset,
        cron_interval=max(0.0, args.cron_every),
        burst_every=max(0.0, args.burst_every),
        burst_size=max(0, args.burst_size),
        nodeman_page_cap=max(0, args.nodeman_page_cap),
        nodeman_all_rows=not args.nodeman_no_all_rows,
        esb_reads_header=not args.esb_params_only,
    )
    sim = Simulator(config)
    for kind, route, prob in args.fault:
        sim.faults.set(kind, route=route, probability=prob)
    try:
        ctx = sim.serve(
            args.host,
            args.port,
            log_level="info" if args.access_log else "warning",
            access_log=args.access_log,
        )
        server = ctx.__enter__()
    except OSError as exc:
        print(f"bkwatch sim: {exc}", file=sys.stderr)
        return 1
    try:
        # A service manager or a script stops us with SIGTERM; SIGINT may be ignored (a
        # background shell), so both end the same way: the server shut down, exit status 0.
        # Set before the lines below: whoever reads them may send it at once.
        signal.signal(signal.SIGTERM, _stop)
        examples: dict[str, str] = {}
        for t in sim.world.tasks():
            examples.setdefault(t.system, t.target)
        print(f"ESB base URL (BK_COMPONENT_API_URL): {server.base_url}")
        print(f"API gateway template (BK_API_URL_TMPL): {server.apigw_tmpl}   stage: prod")
        print(
            f"credentials: app_code={DEMO_APP_CODE} app_secret={DEMO_APP_SECRET} "
            f"username={DEMO_USERNAME} (or bk_token={DEMO_TOKEN})"
        )
        print("example targets: " + "  ".join(examples.values()))
        print(f"admin API: {server.base_url}/_sim/tasks   faults: {server.base_url}/_sim/faults")
        print("Ctrl-C to stop (or SIGTERM).", flush=True)
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, _Stopped):
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM while closing: go at once
        ctx.__exit__(None, None, None)


if __name__ == "__main__":
    raise SystemExit(main())
