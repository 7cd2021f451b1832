"""How fast the token-cache simulator runs (goal: >= 1,000,000 simulated requests in <= 5 s).

Runs each provider configuration of the seed-report workload (100 requests/minute) over enough
virtual hours to pass one million requests in all, and, side by side for the same configuration
right after it, the bare cost of the provider calls alone (a loop calling `get_grant` with the
same clock and arrival times), so the ratio shows what the simulator adds on top of the code it
measures. Each pair runs `--repeat` times; the fastest of each is kept (noise only slows down).

    python bench/bench_simulate.py [--hours 48] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import numpy.typing as npt

from harness.records import capture_environment
from harness.runners.simulate import HOUR_S, build_rig, run_simulation
from harness.runners.support.workloads import (
    ProviderConfig,
    Workload,
    arrival_times_s,
    load_workload,
)

GOAL_REQUESTS = 1_000_000
GOAL_S = 5.0


def simulator_s(workload: Workload, config: ProviderConfig) -> float:
    """Wall seconds of `run_simulation` for one provider configuration (arrivals included)."""
    one = workload.with_overrides(providers=(config,))
    environment = capture_environment()  # once per run in real use, not per configuration
    start_s = time.perf_counter()
    run_simulation(one, environment=environment)
    return time.perf_counter() - start_s


def bare_s(workload: Workload, config: ProviderConfig, times: npt.NDArray[np.float64]) -> float:
    """The same provider calls with nothing around them: the floor the simulator sits on."""
    rig = build_rig(config, workload.token_lifetime_s)
    clock, get_grant = rig.clock, rig.provider.get_grant
    start_s = time.perf_counter()
    for now_s in times.tolist():
        clock.now_s = now_s
        get_grant()
    return time.perf_counter() - start_s


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--hours", type=float, default=48.0, help="virtual hours per provider")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pair (fastest kept)")
    args = parser.parse_args()
    workload = load_workload("seed-report").with_overrides(duration_h=args.hours)
    times = arrival_times_s(workload.arrivals, args.hours * HOUR_S, workload.seed)
    total_sim_s = total_bare_s = 0.0
    for config in workload.providers:
        sim = min(simulator_s(workload, config) for _ in range(args.repeat))
        bare = min(bare_s(workload, config, times) for _ in range(args.repeat))
        print(f"{config.name:20} {len(times):,} requests: simulator {sim:.2f} s, "
              f"bare calls {bare:.2f} s, bare/simulator {bare / sim:.2f}")  # fmt: skip
        total_sim_s, total_bare_s = total_sim_s + sim, total_bare_s + bare
    requests = len(times) * len(workload.providers)
    rate = requests / total_sim_s
    print(f"simulator: {requests:,} requests in {total_sim_s:.2f} s = {rate:,.0f} requests/s")
    print(f"simulator / bare-call rate: {total_bare_s / total_sim_s:.2f}")
    needed_s = GOAL_REQUESTS / rate
    verdict = "meets" if needed_s <= GOAL_S else "MISSES"
    print(f"1,000,000 requests take {needed_s:.2f} s: {verdict} the goal of <= {GOAL_S:.0f} s")


if __name__ == "__main__":
    main()
