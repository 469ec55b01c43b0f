"""The MiniWoB++ bench's figures: a per-task table to paste (task, success, episodes, the
reasons of its failures, counted) and the summary, also written as JSON with `--json`."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from typing import Any

from macrohard.bench.miniwob_scoring import Episode

# The targets for the two development lists; any other list gets the first's.
TARGETS = {"first": ">= 0.95", "second": ">= 0.85"}
REASON_CHARS = 110


def per_task(tasks: Sequence[str], episodes: Sequence[Episode]) -> dict[str, dict[str, Any]]:
    """Per task: success rate, episodes run, mean steps and wall time, and each distinct
    failure reason with how many episodes failed for it (most frequent first)."""
    out: dict[str, dict[str, Any]] = {}
    for task in tasks:
        eps = [e for e in episodes if e.task == task]
        n = max(len(eps), 1)
        reasons = Counter(short_reason(e.reason) for e in eps if not e.success)
        out[task] = {
            "success": sum(e.success for e in eps) / n,
            "episodes": len(eps),
            "mean_steps": sum(e.steps for e in eps) / n,
            "mean_wall_s": sum(e.wall_s for e in eps) / n,
            "reasons": dict(reasons.most_common()),
        }
    return out


def short_reason(reason: str) -> str:
    """A failure reason cut to a table cell, its seed-specific tail dropped."""
    text = " ".join((reason or "no reason given").split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def task_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    """The per-task figures as a Markdown table: pastes into a note or an issue as is."""
    lines = [
        "| task | success | episodes | mean steps | mean wall s | failures (count: reason) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for task, row in rows.items():
        why = "; ".join(f"{n}: {r}" for r, n in row["reasons"].items()).replace("|", "/")
        lines.append(
            f"| {task} | {row['success']:.2f} | {row['episodes']} | {row['mean_steps']:.1f} "
            f"| {row['mean_wall_s']:.1f} | {why} |"
        )
    return lines


def report(args: argparse.Namespace, tasks: list[str], episodes: list[Episode]) -> None:
    """Print the per-task table and the summary; the same figures go to `--json`."""
    from macrohard.bench.report import report as summary

    rows = per_task(tasks, episodes)
    print(
        f"\nMiniWoB++ per task ({args.path} path, --tasks {args.tasks}, "
        f"{args.episodes} episodes, seed {args.seed}):\n"
    )
    print("\n".join(task_table(rows)) + "\n", flush=True)
    mean = sum(float(r["success"]) for r in rows.values()) / max(len(rows), 1)
    results: dict[str, Any] = {
        "mean_success": mean,
        "path": args.path,
        "backend": args.backend if args.path == "platform" else "in-process",
        "tasks_list": args.tasks,
        "episode_max_ms": args.max_ms,
        "concurrency": max(1, int(getattr(args, "concurrency", 1))),
        "episodes_total": len(episodes),
        "failures_total": sum(not e.success for e in episodes),
        "failures_without_reason": sum(not e.success and not e.reason for e in episodes),
        "tasks": rows,
        "failures": [
            {"task": e.task, "seed": e.seed, "goal": e.goal, "reward": e.reward, "reason": e.reason}
            for e in episodes
            if not e.success
        ],
    }
    target = TARGETS.get(str(args.tasks), TARGETS["first"])
    summary("MiniWoB++ summary", results, args.json_path, targets={"mean_success": target})
