"""Benchmarks that print figures and ratios measured side by side (`mh bench <name>`).

Never timed tests: each benchmark measures the platform and its baseline in the same run
on the same servers, and the ratio is what counts on a shared, noisy machine. Each module
has a `register(subparsers)` giving its name and flags; `mh bench` lists them in this order.
"""

BENCH_MODULES = [
    "macrohard.bench.eventlog",
    "macrohard.bench.gateway",
    "macrohard.bench.billing",
    "macrohard.bench.miniwob",
    "macrohard.bench.agent_overhead",
    "macrohard.bench.registry",
]
