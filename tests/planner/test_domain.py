"""The task fold and the planner's decisions: pure, so tested exhaustively."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from macrohard.contracts.agent import Intent, IntentEmitted, LeaseRequested
from macrohard.contracts.envelope import Event, envelope
from macrohard.contracts.tasks import (
    TaskCancelled,
    TaskCancelRequested,
    TaskCompleted,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
)
from macrohard.planner import domain
from macrohard.planner.domain import Ask, Ignore, Stop, TaskState

SUBMITTED = TaskSubmitted(task_id="t1", goal="Click OK", start_url="http://x.test/", max_steps=5)


def fold(events: list[Event]) -> TaskState:
    state = TaskState()
    for e in events:
        state = domain.evolve(state, envelope(e, tenant="acme", aggregate_id="t1"))
    return state


def intent(step: int, action: str = "click", **kw: object) -> IntentEmitted:
    return IntentEmitted(task_id="t1", step=step, intent=Intent(action=action, element=1), **kw)  # type: ignore[arg-type]


def running() -> list[Event]:
    return [SUBMITTED, *domain.start(TaskState(), SUBMITTED, "triton")]


def test_start_records_the_backend_requests_a_lease_and_opens_the_start_page() -> None:
    events = domain.start(TaskState(), SUBMITTED, "triton")
    assert [type(e) for e in events] == [TaskStarted, LeaseRequested, IntentEmitted]
    nav = events[-1]
    assert isinstance(nav, IntentEmitted) and nav.step == 0
    assert (nav.intent.action, nav.intent.url) == ("navigate", "http://x.test/")
    assert [type(e) for e in domain.start(TaskState(), SUBMITTED, "chat")] == [
        TaskStarted,
        IntentEmitted,
    ]


def test_start_twice_is_a_no_op() -> None:
    assert domain.start(fold(running()), SUBMITTED, "triton") == []


def test_observation_of_the_current_step_asks_for_the_next() -> None:
    assert domain.on_observed(fold(running()), 0, budget_exhausted=False) == Ask(step=1)


def test_stale_or_early_observations_are_ignored() -> None:
    state = fold([*running(), intent(1)])
    assert isinstance(domain.on_observed(state, 0, False), Ignore)
    assert isinstance(domain.on_observed(state, 2, False), Ignore)
    assert isinstance(domain.on_observed(fold([SUBMITTED]), 0, False), Ignore)


def test_cancel_budget_and_max_steps_stop_the_run() -> None:
    cancelled = fold([*running(), TaskCancelRequested(task_id="t1")])
    v = domain.on_observed(cancelled, 0, False)
    assert isinstance(v, Stop) and isinstance(v.events[0], TaskCancelled)
    v = domain.on_observed(fold(running()), 0, budget_exhausted=True)
    assert isinstance(v, Stop) and isinstance(v.events[0], TaskFailed)
    assert v.events[0].reason == "budget exhausted"
    at_limit = fold([*running(), *(intent(i) for i in range(1, 6))])
    v = domain.on_observed(at_limit, 5, False)
    assert isinstance(v, Stop) and "max_steps" in v.events[0].reason  # type: ignore[attr-defined]


def test_done_and_fail_intents_end_the_run() -> None:
    state = fold(running())
    done = domain.decided(
        state,
        1,
        Intent(action="done", reason="ok"),
        backend="b",
        label="",
        page_url="",
        previous_ok=True,
        previous_error="",
    )
    assert [type(e) for e in done] == [IntentEmitted, TaskCompleted]
    failed = domain.decided(
        state,
        1,
        Intent(action="fail", reason="no Checkout"),
        backend="b",
        label="",
        page_url="",
        previous_ok=None,
        previous_error="",
    )
    assert isinstance(failed[1], TaskFailed) and failed[1].reason == "no Checkout"
    after = fold([*running(), *done])
    assert after.status == "completed"
    assert isinstance(domain.on_observed(after, 1, False), Ignore)


def test_cancel_of_a_finished_or_unknown_task_does_nothing() -> None:
    assert domain.cancel(TaskState(), "x") == []
    assert (
        domain.cancel(fold([*running(), TaskFailed(task_id="t1", steps=1, reason="r")]), "x") == []
    )
    assert isinstance(domain.cancel(fold(running()), "")[0], TaskCancelled)


def test_previous_outcome_is_folded_onto_the_step_it_describes() -> None:
    state = fold([*running(), intent(1, previous_ok=False, previous_error="timeout")])
    assert (state.intents[0].ok, state.intents[0].error) == (False, "timeout")
    assert state.intents[1].ok is None


EVENT = st.one_of(
    st.builds(lambda s: intent(s), st.integers(0, 40)),
    st.just(TaskCancelRequested(task_id="t1")),
    st.just(TaskCompleted(task_id="t1", steps=1)),
    st.just(TaskFailed(task_id="t1", steps=1, reason="r")),
    st.just(TaskCancelled(task_id="t1", steps=1)),
)


@given(st.lists(EVENT, max_size=30), st.integers(-1, 45), st.booleans())
def test_fold_invariants(events: list[Event], observed: int, budget: bool) -> None:
    state = fold([*running(), *events])
    emitted = [e for e in events if isinstance(e, IntentEmitted)]
    # The step is always the last decision's, and every decision is kept, in order.
    assert state.step == (emitted[-1].step if emitted else 0)
    assert len(state.intents) == 1 + len(emitted)
    verdict = domain.on_observed(state, observed, budget)
    if state.terminal or observed != state.step:
        assert isinstance(verdict, Ignore)  # a finished run, or a page of another step
    if isinstance(verdict, Ask):
        assert verdict.step == state.step + 1 <= state.max_steps
        assert not budget and not state.cancel_requested


def test_a_decision_holds_across_metering_but_not_across_a_cancel_or_another_step() -> None:
    state = fold(running())
    assert domain.same_run_point(fold([*running()]), state)
    assert not domain.same_run_point(fold([*running(), TaskCancelRequested(task_id="t1")]), state)
    assert not domain.same_run_point(fold([*running(), intent(1)]), state)
