"""A log produced the way a real run produces it, and a way to run `mh` against it.

`recorded_run` appends, through the real EventStore with optimistic concurrency, a tenant
onboarding and one task's full lifecycle across the task and browser aggregates: submitted,
started, a session, three planner steps with inference, actions and observations, and
completion — every event caused by the one before it, all under one correlation id, at
100 ms intervals so timings are known. A second tenant's failed task is the noise that
filters must remove.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Coroutine
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from macrohard.cli.main import main
from macrohard.contracts import envelope
from macrohard.contracts.agent import InferenceCompleted, Intent, IntentEmitted
from macrohard.contracts.browser import (
    ActionExecuted,
    PageElement,
    PageObservation,
    PageObserved,
    SessionClosed,
    SessionOpened,
)
from macrohard.contracts.envelope import Envelope, Event
from macrohard.contracts.tasks import TaskCompleted, TaskFailed, TaskStarted, TaskSubmitted
from macrohard.contracts.tenancy import TenantOnboarded
from macrohard.eventlog.store import EventStore

BASE = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
SCREENSHOT = "ab" * 32


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


MhRunner = Callable[..., Coroutine[Any, Any, Result]]


@pytest.fixture
def mh(nats_url: str, database_url: str, tmp_path: Path) -> MhRunner:
    """Run `mh ARGS --nats ... --database ...` in a thread (it calls asyncio.run)."""

    async def run(*argv: str, platform: bool = True) -> Result:
        args = list(argv)
        if platform:
            args += ["--nats", nats_url, "--database", database_url, "--data-dir", str(tmp_path)]

        def call() -> Result:
            out, err = io.StringIO(), io.StringIO()
            code = 0
            with redirect_stdout(out), redirect_stderr(err):
                try:
                    main(args)
                except SystemExit as exc:
                    code = int(exc.code or 0)
            return Result(code, out.getvalue(), err.getvalue())

        return await asyncio.to_thread(call)

    return run


@dataclass
class RecordedRun:
    """What the log holds: every envelope appended and where it landed."""

    task_id: str
    correlation_id: str
    envelopes: list[Envelope] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)  # event id -> stream seq

    def seq_of(self, event_type: str, nth: int = 0) -> int:
        matches = [e for e in self.envelopes if e.type == event_type]
        return self.sequences[matches[nth].id]


class _Writer:
    def __init__(self, store: EventStore, run: RecordedRun) -> None:
        self.store = store
        self.run = run
        self.versions: dict[tuple[str, str], int] = {}
        self.clock = 0

    async def emit(
        self, event: Event, tenant: str, agg_id: str, cause: Envelope | None
    ) -> Envelope:
        self.clock += 1
        env = envelope(
            event,
            tenant=tenant,
            aggregate_id=agg_id,
            correlation_id=cause.correlation_id if cause else None,
            causation_id=cause.id if cause else None,
            occurred_at=BASE + timedelta(milliseconds=100 * self.clock),
        )
        key = (env.aggregate_type, agg_id)
        result = await self.store.append([env], expected_version=self.versions.get(key, 0))
        self.versions[key] = result.version
        self.run.envelopes.append(env)
        self.run.sequences[env.id] = result.version
        return env


def login_page() -> PageObservation:
    return PageObservation(
        url="https://app.acme.test/login",
        title="Sign in",
        elements=[
            PageElement(id=1, role="heading", name="Sign in"),
            PageElement(id=2, role="textbox", name="Email"),
            PageElement(id=3, role="button", name="Continue"),
        ],
    )


async def record_task(store: EventStore, tenant: str = "acme", task_id: str = "t-1") -> RecordedRun:
    run = RecordedRun(task_id, "")
    w = _Writer(store, run)
    await w.emit(
        TenantOnboarded(
            tenant_id=tenant,
            name="Acme",
            plan="team",
            allowed_domains=["acme.test"],
            monthly_budget="100.00",
        ),
        tenant,
        tenant,
        None,
    )
    submitted = await w.emit(
        TaskSubmitted(task_id=task_id, goal="sign in as ops", start_url=login_page().url),
        tenant,
        task_id,
        None,
    )
    run.correlation_id = submitted.correlation_id
    started = await w.emit(
        TaskStarted(task_id=task_id, backend="local"), tenant, task_id, submitted
    )
    session = f"b-{task_id}"
    opened = await w.emit(
        SessionOpened(task_id=task_id, worker="actuator-1"), tenant, session, started
    )
    seen = await w.emit(
        PageObserved(task_id=task_id, step=0, observation=login_page()), tenant, session, opened
    )
    intents = [
        Intent(action="type", element=2, text="ops@acme.test", reason="fill the email"),
        Intent(action="click", element=3, reason="continue"),
    ]
    pages = [
        PageObservation(
            url="https://app.acme.test/login", title="Sign in", elements=login_page().elements
        ),
        PageObservation(
            url="https://app.acme.test/home",
            title="Home",
            elements=[PageElement(id=1, role="heading", name="Welcome ops")],
            screenshot_sha256=SCREENSHOT,
        ),
    ]
    for step, (intent, page) in enumerate(zip(intents, pages, strict=True), start=1):
        decided = await w.emit(
            IntentEmitted(task_id=task_id, step=step, intent=intent, backend="local"),
            tenant,
            task_id,
            seen,
        )
        await w.emit(
            InferenceCompleted(
                task_id=task_id,
                step=step,
                model="planner-minilm",
                node_id="car-1",
                owner_account="owner-1",
                lease_id="lease-1",
                compute_ms=12.5,
                input_bytes=900,
                output_bytes=80,
            ),
            tenant,
            task_id,
            seen,
        )
        done = await w.emit(
            ActionExecuted(
                task_id=task_id,
                step=step,
                intent_event_id=decided.id,
                action=intent.action,
                ok=True,
                duration_ms=40.0 + step,
            ),
            tenant,
            session,
            decided,
        )
        seen = await w.emit(
            PageObserved(task_id=task_id, step=step, observation=page), tenant, session, done
        )
    finish = await w.emit(
        IntentEmitted(task_id=task_id, step=3, intent=Intent(action="done"), backend="local"),
        tenant,
        task_id,
        seen,
    )
    await w.emit(
        TaskCompleted(task_id=task_id, steps=3, result="signed in"), tenant, task_id, finish
    )
    await w.emit(SessionClosed(task_id=task_id, reason="task finished"), tenant, session, finish)
    return run


@pytest.fixture
async def recorded_run(store: EventStore) -> RecordedRun:
    run = await record_task(store)
    # Noise: another tenant's task that failed, in its own correlation.
    noise = await store.append(
        [
            envelope(
                TaskSubmitted(task_id="t-9", goal="x", start_url="https://b.test"),
                tenant="globex",
                aggregate_id="t-9",
            )
        ],
        expected_version=0,
    )
    await store.append(
        [
            envelope(
                TaskFailed(task_id="t-9", steps=0, reason="no lease"),
                tenant="globex",
                aggregate_id="t-9",
            )
        ],
        expected_version=noise.version,
    )
    return run
