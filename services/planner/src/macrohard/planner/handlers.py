"""What the planner reacts to: a submitted task, each observed page, cancels and budgets.

One process manager per task, with no state of its own in memory: every handler folds the
task's events, decides (domain.py), and appends the result with an id derived from the
cause and the aggregate version it decided on, so a redelivery or a second replica cannot
emit a step twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from macrohard.contracts.agent import Intent, IntentEmitted, RunLearned
from macrohard.contracts.approvals import (
    ApprovalPolicy,
    ApprovalPolicySet,
    TaskApprovalDenied,
    TaskApproved,
    TaskNeedsApproval,
)
from macrohard.contracts.billing import BudgetExhausted, BudgetRestored
from macrohard.contracts.browser import (
    ActionExecuted,
    PageElement,
    PageObservation,
    PageObserved,
    SessionOpened,
)
from macrohard.contracts.envelope import Envelope, Event, RecordedEvent, caused_by
from macrohard.contracts.tasks import TaskCancelRequested, TaskCompleted, TaskSubmitted
from macrohard.eventlog import EventStore, Loaded
from macrohard.planner import approvals, domain, playbook, recovery, results
from macrohard.planner.backends import DecisionRequest, PlannerBackend
from macrohard.planner.domain import Ask, Ignore, PastIntent, TaskState

log = logging.getLogger("macrohard.planner")


class BudgetBook:
    """Tenants whose budget is exhausted, from BudgetExhausted until BudgetRestored."""

    def __init__(self) -> None:
        self._exhausted: set[str] = set()

    def apply(self, event: Event) -> None:
        if isinstance(event, BudgetExhausted):
            self._exhausted.add(event.tenant_id)
        elif isinstance(event, BudgetRestored):
            self._exhausted.discard(event.tenant_id)

    def exhausted(self, tenant: str) -> bool:
        return tenant in self._exhausted


class Planner:
    def __init__(
        self,
        store: Callable[[], EventStore],
        backend: Callable[[], PlannerBackend],
        budgets: BudgetBook | None = None,
    ) -> None:
        # Factories: the service connects after its handlers are declared.
        self._store_fn, self._backend_fn = store, backend
        self._backend: PlannerBackend | None = None
        self.budgets = budgets or BudgetBook()

    @property
    def store(self) -> EventStore:
        return self._store_fn()

    @property
    def backend(self) -> PlannerBackend:
        if self._backend is None:
            self._backend = self._backend_fn()
        return self._backend

    async def load(self, tenant: str, task_id: str) -> Loaded[TaskState]:
        return await self.store.load(domain.evolve, TaskState(), tenant, "task", task_id)

    async def _append(
        self, events: list[Event], cause: Envelope, task_id: str, version: int, purpose: str
    ) -> None:
        envs = [
            caused_by(e, cause, aggregate_id=task_id, purpose=f"{purpose}:{i}")
            for i, e in enumerate(events)
        ]
        await self.store.append(envs, expected_version=version)
        # A run that ended, or paused for a person, holds no car.
        if any(isinstance(e, (*domain.TERMINAL_EVENTS, TaskNeedsApproval)) for e in events):
            await self.backend.release(task_id)

    async def approval_policy(self, tenant: str) -> ApprovalPolicy | None:
        """The tenant's approval policy in force now (the last one it set), if any."""
        events = await self.store.read_aggregate(tenant, "approvals", tenant)
        policies = [r.payload.policy for r in events if isinstance(r.payload, ApprovalPolicySet)]
        return policies[-1] if policies else None

    # ---- handlers ----------------------------------------------------------------------

    async def on_task_event(self, rec: RecordedEvent) -> None:
        ev, env = rec.payload, rec.envelope
        loaded = await self.load(env.tenant, env.aggregate_id)
        if isinstance(ev, TaskSubmitted):
            policy = await self.approval_policy(env.tenant)
            events = domain.start(loaded.state, ev, self.backend.name, policy)
            purpose = "start"
        elif isinstance(ev, TaskApproved | TaskApprovalDenied):
            events = approvals.answered(loaded.state, ev)
            purpose = "approval"
        elif isinstance(ev, TaskCancelRequested):
            events = domain.cancel(loaded.state, ev.reason)
            purpose = "cancel"
        else:
            return
        if events:
            await self._append_once(events, env, loaded, purpose)

    async def on_budget_event(self, rec: RecordedEvent) -> None:
        self.budgets.apply(rec.payload)

    async def on_page_observed(self, rec: RecordedEvent) -> None:
        ev, env = rec.payload, rec.envelope
        if not isinstance(ev, PageObserved):
            return
        loaded = await self.load(env.tenant, ev.task_id)
        state = loaded.state
        verdict = domain.on_observed(state, ev.step, self.budgets.exhausted(env.tenant))
        if isinstance(verdict, Ignore):
            log.info("observation ignored", extra={"task": ev.task_id, "why": verdict.why})
            return
        if not isinstance(verdict, Ask):
            await self._append_once(verdict.events, env, loaded, "stop", task_id=ev.task_id)
            return
        outcome = await self._outcome(env, ev.step)
        ok, error = outcome.ok, outcome.error
        lost = domain.unknown_effect(state, ev.step, outcome.unknown, outcome.takeover_step)
        if lost is not None:
            await self._append_once(lost.events, env, loaded, "lost", task_id=ev.task_id)
            return
        if ev.error:
            # The platform failed to show the page. Reopening it loses the page as a
            # takeover does: after an effect of unknown outcome that is the same verdict.
            lost = domain.unknown_effect(state, ev.step, outcome.unknown, ev.step)
            if lost is not None:
                await self._append_once(lost.events, env, loaded, "lost", task_id=ev.task_id)
                return
            events = recovery.unseen_page(
                state, verdict.step, ev.error, ev.observation.url, backend=self.backend.name,
                previous_ok=ok, previous_error=error,
            )  # fmt: skip
            await self._append_once(events, env, loaded, "recover", task_id=ev.task_id)
            return
        history = list(state.intents)
        if history:
            last = history[-1]
            history[-1] = PastIntent(
                step=last.step, intent=last.intent, label=last.label, ok=ok, error=error
            )
        history = domain.history_on_page(history, outcome.takeover_step)
        request = DecisionRequest(
            tenant=env.tenant,
            task_id=ev.task_id,
            step=verdict.step,
            goal=state.goal,
            observation=ev.observation,
            history=history,
            cause=env,
            car_wait_s=state.car_wait_s,
            output_schema=state.output_schema,
        )
        intent, recording = None, 0
        if outcome.takeover_step is None:
            # After a takeover the page was reloaded under the run (what was typed is gone):
            # the recorded run no longer matches it, and the model decides from the page.
            intent, recording = await self._replayed(env.tenant, state, ev.observation, ok)
        replayed = intent is not None
        if intent is None:
            try:
                intent = await self.backend.next_intent(request)
            except Exception as exc:
                # The error (a car's, an address) is the operator's business: logged here
                # with the correlation id; the tenant's failure reason says only what happened.
                log.warning(
                    "planner backend failed",
                    extra={"task": ev.task_id, "error": repr(exc),
                           "correlation_id": env.correlation_id},
                )  # fmt: skip
                intent = Intent(
                    action="fail", reason="planner backend error: the model did not answer"
                )
        label = _label(ev.observation.elements, intent.element)
        element = next((e for e in ev.observation.elements if e.id == intent.element), None)
        why = approvals.needs_approval(state.approval, intent, element)
        if why:  # held for the tenant: nothing reaches the browser until they answer
            events = approvals.pause(
                state, verdict.step, intent, label=label, page_url=ev.observation.url, why=why,
                previous_ok=ok, previous_error=error,
            )  # fmt: skip
        else:
            events = domain.decided(
                state,
                verdict.step,
                intent,
                backend=self.backend.name,
                label=label,
                page_url=ev.observation.url,
                previous_ok=ok,
                previous_error=error,
                replayed=replayed,
                playbook_seq=recording,
            )
            extractions = (
                await self._extractions(env.tenant, ev.task_id)
                if state.output_schema is not None and results.ends_with_completion(events)
                else []
            )
            events = results.with_result(events, state, ev.observation, extractions)
        # The model call itself writes to the task (the inference client's InferenceCompleted),
        # so append at the version after it, provided nothing that matters moved meanwhile
        # (another decision, a cancel, the end of the run): then decide again instead.
        fresh = await self.load(env.tenant, ev.task_id)
        if domain.same_run_point(fresh.state, state):
            loaded = fresh
        await self._append_once(events, env, loaded, "decide", task_id=ev.task_id)
        if any(isinstance(e, TaskCompleted) for e in events):
            await self._learn(env, state, history, events[0])

    # ---- the playbook: solved runs replayed for goals of the same shape ------------------

    async def _replayed(
        self, tenant: str, state: TaskState, observation: PageObservation, ok: bool | None
    ) -> tuple[Intent | None, int]:
        """The next step of the tenant's solved run of this goal shape, if the page allows,
        and the recording it came from (its stream sequence)."""
        recording = state.recording
        if not recording:
            # The entry's latest RunLearned: two direct reads, however many runs it has seen.
            shape, _ = playbook.goal_shape(state.goal)
            entry = playbook.playbook_id(playbook.site_of(state.start_url), shape)
            recording = await self.store.aggregate_version(tenant, "playbook", entry)
            if recording == 0:
                return None, 0
        # Once a run replays a recording it keeps to it: runs completing meanwhile append
        # newer ones, and step k of one is not step k of another (a run that needed an extra
        # key press shifts every later step; switching mid-run skipped a form's select).
        learned = (await self.store.read_sequence(recording)).payload
        if not isinstance(learned, RunLearned) or learned.site != playbook.site_of(state.start_url):
            return None, 0
        past = [p for p in state.intents if p.step > 0]
        decided = [(p.intent, p.replayed, p.ok) for p in past]
        at = playbook.resume_at(learned, decided)
        if at is None:
            return None, 0
        if any(p.replayed for p in past):
            # What each replayed step changed must be what its recorded step changed.
            pages = await self._pages(tenant, state.task_id)
            steps = [p.step for p in past]
            slots = playbook.goal_shape(state.goal)[1]
            if not playbook.results_held(learned, slots, decided, steps, pages):
                return None, 0
        intent = playbook.replay(learned, state.goal, at[0], observation, ok, resumed=at[1])
        if intent is None:
            return None, 0
        if intent.action == "done" and not playbook.every_goal_step_served(learned, decided):
            return None, 0  # the recording's end without all its steps: the model decides
        return intent, recording

    async def _learn(
        self, cause: Envelope, state: TaskState, history: list[PastIntent], last: Event
    ) -> None:
        """Keep a completed run in the tenant's playbook (not one that was all replay: the
        playbook already holds it). Idempotent: the id derives from the deciding cause."""
        assert isinstance(last, IntentEmitted)
        past = [p for p in history if p.step > 0]  # with the outcome of the step before done
        if past and all(p.replayed for p in past) and last.replayed:
            return
        decisions = [(p.intent, p.label, p.page_url, p.ok) for p in past]
        decisions.append((last.intent, last.element_label, last.page_url, None))
        pages = await self.store.read_aggregate(cause.tenant, "browser", state.task_id)
        if any(
            (isinstance(r.payload, ActionExecuted) and r.payload.outcome_unknown)
            or (isinstance(r.payload, SessionOpened) and r.payload.restored_from)
            or (isinstance(r.payload, PageObserved) and r.payload.error)
            for r in pages
        ):
            # An action whose effect is unknown, or a page reloaded under the run: the steps
            # that got the run done are not the ones it recorded (a select that took effect
            # but reported a failure would be left out, and every replay would skip it).
            # A page the platform failed to show was reopened by the platform's own
            # navigation to this task's URL: recorded, every replay went to that one task's
            # page (the drill's form with another task's token: submits repeated there,
            # and the replaying tasks completed without their own).
            return
        learned = playbook.learn(
            state.task_id, state.goal, state.start_url, decisions, _decided_on(pages)
        )
        if learned is None:
            return
        entry = playbook.playbook_id(learned.site, learned.shape)
        await self.store.append(
            [caused_by(learned, cause, aggregate_id=entry, purpose="learn")],
            expected_version=None,
        )

    async def _pages(self, tenant: str, task_id: str) -> dict[int, PageObservation]:
        """The pages the run saw, by the step decided on each."""
        return _decided_on(await self.store.read_aggregate(tenant, "browser", task_id))

    async def _extractions(self, tenant: str, task_id: str) -> list[Any]:
        """What the run's `extract` intents read, in log order (the actuator's answers)."""
        pages = await self.store.read_aggregate(tenant, "browser", task_id)
        return [
            r.payload.extracted
            for r in pages
            if isinstance(r.payload, PageObserved) and r.payload.extracted is not None
        ]

    async def _append_once(
        self,
        events: list[Event],
        cause: Envelope,
        loaded: Loaded[TaskState],
        purpose: str,
        task_id: str | None = None,
    ) -> None:
        """Append what was decided on `loaded.version`. A ConcurrencyConflict propagates: the
        consumer redelivers, and the next attempt decides again from the newer state (which
        usually says the step was already taken: Ignore)."""
        await self._append(events, cause, task_id or cause.aggregate_id, loaded.version, purpose)

    async def _outcome(self, observed: Envelope, step: int) -> StepOutcome:
        """How step `step` went, and the last takeover, from the task's browser session."""
        events = await self.store.read_aggregate(
            observed.tenant, observed.aggregate_type, observed.aggregate_id
        )
        outcome = StepOutcome()
        restored = False
        for rec in events:
            p = rec.payload
            if isinstance(p, SessionOpened) and p.restored_from:
                restored = True
            elif isinstance(p, PageObserved) and restored:
                # The first page after a takeover is the reloaded one.
                outcome.takeover_step, restored = p.step, False
            elif isinstance(p, ActionExecuted) and p.step == step:
                outcome.ok, outcome.error, outcome.unknown = p.ok, p.error, p.outcome_unknown
        return outcome


@dataclass(slots=True)
class StepOutcome:
    ok: bool | None = None
    error: str = ""
    unknown: bool = False
    takeover_step: int | None = None


def _label(elements: list[PageElement], element_id: int | None) -> str:
    e = next((e for e in elements if e.id == element_id), None)
    return playbook.element_label(e) if e is not None else ""


def _decided_on(records: Sequence[RecordedEvent]) -> dict[int, PageObservation]:
    """The pages a run saw, by the step decided on each: step k is decided on the page
    observed after step k - 1."""
    return {
        r.payload.step + 1: r.payload.observation
        for r in records
        if isinstance(r.payload, PageObserved)
    }
