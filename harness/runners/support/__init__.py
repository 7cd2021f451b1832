"""What the runners share or run in their children: progress, Ctrl-C, load drivers (closed and
open loop), raw load rows, workloads, micro inputs and counts, the sweep's subjects, the
profiling load and the profiled child."""
