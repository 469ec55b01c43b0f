"""`mh bench replay-cache`: the agent learns from its log.

The same goal shapes run twice for one tenant through the whole platform (gateway -> planner
service -> model -> actuator), on local pages (MiniWoB++ pages served on loopback). The
second round uses other seeds, so the values in each goal and the page's layout differ from
the first round: what can be reused is the shape of the work, not its answer. Printed side
by side from one run: success and model calls per round, and the wall-time ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from macrohard.bench.miniwob_scoring import Episode

SECOND_ROUND_SEED_OFFSET = 1000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from macrohard.bench.miniwob import PAGE_LOAD_MS, add_concurrency_arg
    from macrohard.bench.servers import add_server_args
    from macrohard.bench.tasklists import tasks_help

    p = sub.add_parser(
        "replay-cache",
        help="the same goal shapes twice for one tenant: model calls and time, first vs second",
    )
    # Twenty goal shapes of the first list, one shape per task page (tasklists/replay-cache.txt)
    p.add_argument("--tasks", default="replay-cache", help=tasks_help())
    add_concurrency_arg(p)
    p.add_argument("--seed", type=int, default=0, help="first round's seed (second: +1000)")
    p.add_argument("--max-ms", type=int, default=60000)
    p.add_argument("--max-steps", type=int, default=20)
    p.add_argument("--page-load-ms", type=int, default=PAGE_LOAD_MS)
    p.add_argument("--backend", choices=["in-process", "triton"], default="in-process")
    p.add_argument("--browser", choices=["actuator", "peer"], default="actuator")
    add_server_args(p)
    p.set_defaults(func=lambda args: asyncio.run(bench(args)))


async def bench(args: argparse.Namespace) -> None:
    from macrohard.bench.miniwob import _platform, task_pages
    from macrohard.bench.tasklists import task_list
    from macrohard.eventlog.logs import configure_logging

    configure_logging("bench-replay-cache", level="WARNING")
    args.episodes, args.path = 1, "platform"
    tasks = task_list(args.tasks)
    async with task_pages() as (pages, browser):
        rounds = await _platform(args, tasks, pages, browser, _two_rounds)
    _report(args, tasks, rounds)


async def _two_rounds(
    args: argparse.Namespace,
    tasks: list[str],
    pages: Any,
    browser: Any,
    planner: Any,
    use_peer: bool,
    http: Any,
    tenant: str,
    key: str,
) -> list[tuple[list[Episode], float]]:
    """Each shape once, then each shape again with other values, for the same tenant."""
    from macrohard.bench.miniwob import _platform_episodes

    out: list[tuple[list[Episode], float]] = []
    first_seed = args.seed
    for offset, label in ((0, "first"), (SECOND_ROUND_SEED_OFFSET, "second")):
        print(f"-- {label} round (seeds from {first_seed + offset})", flush=True)
        args.seed = first_seed + offset
        t0 = time.perf_counter()
        episodes = await _platform_episodes(
            args, tasks, pages, browser, planner, use_peer, http, tenant, key
        )
        out.append((episodes, time.perf_counter() - t0))
    args.seed = first_seed
    return out


def _report(
    args: argparse.Namespace, tasks: list[str], rounds: list[tuple[list[Episode], float]]
) -> None:
    from rich.console import Console
    from rich.table import Table

    from macrohard.bench.report import report

    (first, wall_first), (second, wall_second) = rounds
    table = Table(title="Replay cache: per goal shape (first round -> second round)")
    for col in ("task", "success", "model calls", "replayed steps", "wall s"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for a, b in zip(first, second, strict=True):
        table.add_row(
            a.task,
            f"{int(a.success)} -> {int(b.success)}",
            f"{a.model_steps} -> {b.model_steps}",
            f"{a.replayed_steps} -> {b.replayed_steps}",
            f"{a.wall_s:.1f} -> {b.wall_s:.1f}",
        )
    Console().print(table)
    calls_first = sum(e.model_steps for e in first)
    calls_second = sum(e.model_steps for e in second)
    results: dict[str, Any] = {
        "goal_shapes": len(tasks),
        "backend": args.backend,
        "success_first": sum(e.success for e in first) / max(len(first), 1),
        "success_second": sum(e.success for e in second) / max(len(second), 1),
        "model_calls_first": calls_first,
        "model_calls_second": calls_second,
        "replayed_steps_second": sum(e.replayed_steps for e in second),
        "model_calls_ratio": calls_first / max(calls_second, 1),
        "wall_first_s": wall_first,
        "wall_second_s": wall_second,
        "wall_ratio": wall_second / max(wall_first, 1e-9),
        "failures": [
            {"round": n, "task": e.task, "seed": e.seed, "reason": e.reason}
            for n, episodes in ((1, first), (2, second))
            for e in episodes
            if not e.success
        ],
    }
    report(
        "Replay cache summary (second / first)",
        results,
        args.json_path,
        targets={
            "success_second": ">= success_first",
            "model_calls_ratio": ">= 5 (first / second)",
        },
    )
