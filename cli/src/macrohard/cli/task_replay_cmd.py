"""`mh task replay <task-id>`: walk a finished task's steps — what the agent saw, decided,
did and saw next — from the log alone; `--live` re-runs the intents in a fresh browser."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from macrohard.actuator.public import AllowedDomains
from macrohard.cli import readout
from macrohard.cli.platform import add_platform_args
from macrohard.cli.readout import Session
from macrohard.cli.task_steps import (
    TaskRecord,
    describe_action,
    describe_intent,
    describe_page,
    task_record,
)
from macrohard.eventlog import logview
from macrohard.eventlog.logview import LogEvent
from macrohard.eventlog.store import EventStore


def task_subcommands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """`mh task ...` may be shared with other modules (e.g. a submit command): reuse it."""
    existing = sub.choices.get("task")
    if existing is None:
        existing = sub.add_parser("task", help="look at and re-run tasks")
        return existing.add_subparsers(dest="task_command", required=True)
    for action in existing._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return existing.add_subparsers(dest="task_command", required=True)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = task_subcommands(sub).add_parser("replay", help="walk a finished task's recorded steps")
    p.add_argument("task_id")
    p.add_argument("--tenant", help="the task's tenant (default: any)")
    p.add_argument("--screenshots", type=Path, help="the screenshot store, to show each file")
    p.add_argument("--live", action="store_true", help="re-run the intents in a fresh Chromium")
    p.add_argument("--json", action="store_true")
    add_platform_args(p)
    p.set_defaults(func=lambda args: asyncio.run(task_replay(args)))


async def task_events(session: Session, task_id: str, tenant: str | None) -> list[LogEvent]:
    """The task aggregate's events plus everything its request caused (browser, inference)."""
    filt = logview.subject_filter(tenant, f"task/{task_id}")
    own = [e async for e in logview.scan(session.nc, filt)]
    if not own:
        return []
    found = {e.sequence: e for e in own}
    for cid in {str(e.envelope.get("correlation_id")) for e in own}:
        for e in await logview.find_by_correlation(session, cid):
            found[e.sequence] = e
    if not any(e.envelope.get("aggregate_type") == "browser" for e in found.values()):
        # A planner that starts a new correlation per step still names the task: scan for it.
        browser = logview.subject_filter(tenant, "browser")
        async for e in logview.scan(session.nc, browser):
            if e.payload.get("task_id") == task_id:
                found[e.sequence] = e
    return sorted(found.values(), key=lambda e: e.sequence)


def screenshot_path(store: Path | None, sha: str | None) -> Path | None:
    """A content-addressed file: flat, fanned out by prefix, or with an extension."""
    if store is None or not sha:
        return None
    for candidate in (store / sha, store / sha[:2] / sha):
        if candidate.exists():
            return candidate
    return next(iter(sorted(store.glob(f"**/{sha}*"))), None)


def _shot(store: Path | None, observation: dict[str, Any] | None) -> str:
    sha = (observation or {}).get("screenshot_sha256")
    if not sha:
        return ""
    path = screenshot_path(store, sha)
    if store is None:
        return f"screenshot {sha[:12]}"
    return f"screenshot {path}" if path else f"screenshot {sha[:12]} (not in {store})"


def render(record: TaskRecord, store: Path | None) -> list[str]:
    sub = record.submitted or {}
    outcome = record.outcome
    lines = [
        f"task {record.task_id}: {sub.get('goal', '?')!r}",
        f"  start {sub.get('start_url', '?')}  "
        + (f"{outcome.type} {readout.key_fields(outcome.payload)}" if outcome else "NOT FINISHED"),
    ]
    if record.first_observation is not None:
        lines.append(f"  opened  {describe_page(record.first_observation)}")
    for step in record.steps:
        t = step.intent_event.occurred_at - record.started_at if record.started_at else None
        at = f" t+{t.total_seconds() * 1000:.0f} ms" if t is not None else ""
        lines.append(f"step {step.number}{at}")
        lines.append(f"  saw     {describe_page(step.seen)}")
        lines.append(f"  decided {describe_intent(step)}")
        if step.inference:
            inf = step.inference
            lines.append(
                f"  model   {inf.get('model')} on {inf.get('node_id')} "
                f"in {float(inf.get('compute_ms', 0.0)):.0f} ms"
            )
        lines.append(f"  did     {describe_action(step)}")
        lines.append(
            f"  then    {describe_page(step.observed)} {_shot(store, step.observed)}".rstrip()
        )
    return lines


async def task_replay(args: argparse.Namespace) -> int:
    async with readout.connect(args, database=True) as session:
        events = await task_events(session, args.task_id, args.tenant)
        if not events:
            print(f"no task {args.task_id} in the log", file=sys.stderr)
            return 1
        tenant = str(events[0].envelope.get("tenant", ""))
        # The live re-run browses with the actuator's guard, so the tenant's allowlist
        # as the log has it now (None: an unknown tenant may browse nowhere).
        allowed = await AllowedDomains(EventStore(session.nc)).of(tenant) if args.live else None
    record = task_record(args.task_id, events)
    live = None
    if args.live:
        from macrohard.cli.live_rerun import LiveRerunRefused, rerun

        try:
            live = await rerun(record, tenant, allowed)
        except LiveRerunRefused as exc:
            print(f"live re-run refused: {exc}", file=sys.stderr)
            return 1
    if args.json:
        readout.print_json(
            {
                "task_id": record.task_id,
                "submitted": record.submitted,
                "outcome": record.outcome.type if record.outcome else None,
                "steps": [
                    {
                        "step": s.number,
                        "saw": s.seen,
                        "intent": s.intent,
                        "target": s.target(),
                        "action": s.action,
                        "observed": s.observed,
                        "screenshot": str(
                            screenshot_path(
                                args.screenshots, (s.observed or {}).get("screenshot_sha256")
                            )
                            or ""
                        ),
                    }
                    for s in record.steps
                ],
                "live": [_live_json(ls) for ls in live or []],
            }
        )
        return 0
    for line in render(record, args.screenshots):
        print(line)
    if live is not None:
        print("live re-run (recorded | live):")
        for ls in live:
            mark = "=" if ls.matches else "≠"
            print(
                f'  step {ls.number} {mark} {ls.recorded_url} "{ls.recorded_title}" | '
                f'{ls.url} "{ls.title}"'
                + (f"  ({ls.note})" if ls.note else "")
                + ("" if ls.ok else "  FAILED")
            )
    if not record.finished:
        print("(the task has not finished yet)", file=sys.stderr)
    return 0


def _live_json(ls: Any) -> dict[str, Any]:
    return {
        "step": ls.number,
        "ok": ls.ok,
        "note": ls.note,
        "url": ls.url,
        "title": ls.title,
        "recorded_url": ls.recorded_url,
        "recorded_title": ls.recorded_title,
        "matches": ls.matches,
    }
