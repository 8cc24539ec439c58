"""Requests/second the simulator sustains for a 1,000-host JOB payload over loopback.

python benchmarks/sim_rps.py [--hosts 1000] [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import httpx

from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME, SimConfig, Simulator


def run(base_url: str, params: dict[str, object], headers: dict[str, str], seconds: float, clients: int):
    counts = [0] * clients
    sizes = [0] * clients
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as c:
            while time.monotonic() < stop:
                r = c.get("/api/bk-job/prod/api/v3/get_job_instance_status", params=params, headers=headers)
                r.raise_for_status()
                counts[i] += 1
                sizes[i] = len(r.content)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - t0), max(sizes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    sim = Simulator(SimConfig(seed=1, job_hosts=args.hosts, tasks_per_system=6, arrivals=False))
    headers = {
        "X-Bkapi-Authorization": json.dumps(
            {"bk_app_code": DEMO_APP_CODE, "bk_app_secret": DEMO_APP_SECRET, "bk_username": DEMO_USERNAME}
        )
    }
    with sim.serve() as server:
        for label, job_id, scope in (
            ("finished job (cached body)", 20001, "2"),
            ("running job", 20005, "9991"),
        ):
            params = {
                "bk_scope_type": "biz" if scope == "2" else "biz_set",
                "bk_scope_id": scope,
                "job_instance_id": job_id,
                "return_ip_result": "true",
            }
            for clients in (1, args.clients):
                rps, size = run(server.base_url, params, headers, args.seconds, clients)
                print(
                    f"{label}: {args.hosts} hosts x 3 steps, {size / 1024:.0f} KiB body, "
                    f"{clients} client(s): {rps:.0f} req/s"
                )


if __name__ == "__main__":
    main()
