"""How fast the token-cache simulator runs (goal: >= 1,000,000 simulated requests in <= 5 s).

Runs the seed-report workload (four provider configurations at 100 requests/minute) over enough
virtual hours to pass one million requests, and, side by side in the same run, the bare cost of
the provider calls alone (a loop calling `get_grant` on the same providers with the same
clock), so the ratio shows what the simulator adds on top of the code it measures.

    python bench/bench_simulate.py [--hours 48]
"""

from __future__ import annotations

import argparse
import time

from harness.runners.simulate import HOUR_S, build_rig, run_simulation
from harness.runners.workloads import arrival_times_s, load_workload

GOAL_REQUESTS = 1_000_000
GOAL_S = 5.0


def simulator_rate(hours: float) -> tuple[int, float]:
    """Requests simulated and wall seconds for the seed-report workload over `hours`."""
    workload = load_workload("seed-report").with_overrides(duration_h=hours)
    start_s = time.perf_counter()
    records = run_simulation(workload)
    elapsed_s = time.perf_counter() - start_s
    return int(sum(sum(r.get("requests").values) for r in records)), elapsed_s


def bare_rate(hours: float) -> tuple[int, float]:
    """The same provider calls with nothing around them: the floor the simulator sits on."""
    workload = load_workload("seed-report").with_overrides(duration_h=hours)
    times_s = arrival_times_s(workload.arrivals, hours * HOUR_S, workload.seed).tolist()
    total_s, count = 0.0, 0
    for config in workload.providers:
        rig = build_rig(config, workload.token_lifetime_s)
        clock, get_grant = rig.clock, rig.provider.get_grant
        start_s = time.perf_counter()
        for now_s in times_s:
            clock.now_s = now_s
            get_grant()
        total_s += time.perf_counter() - start_s
        count += len(times_s)
    return count, total_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=48.0, help="virtual hours per provider")
    hours = parser.parse_args().hours
    requests, elapsed_s = simulator_rate(hours)
    bare_requests, bare_s = bare_rate(hours)
    rate, floor = requests / elapsed_s, bare_requests / bare_s
    print(f"simulator: {requests:,} requests in {elapsed_s:.2f} s = {rate:,.0f} requests/s")
    print(f"bare provider calls: {bare_requests:,} in {bare_s:.2f} s = {floor:,.0f} calls/s")
    print(f"simulator / bare rate: {rate / floor:.2f}")
    needed_s = GOAL_REQUESTS / rate
    verdict = "meets" if needed_s <= GOAL_S else "MISSES"
    print(f"1,000,000 requests take {needed_s:.2f} s: {verdict} the goal of <= {GOAL_S:.0f} s")


if __name__ == "__main__":
    main()
