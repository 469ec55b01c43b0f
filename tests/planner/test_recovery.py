"""A page the platform failed to show is opened again a few times, then the run ends."""

from __future__ import annotations

from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.envelope import Event
from macrohard.contracts.tasks import TaskFailed
from macrohard.planner import recovery
from macrohard.planner.domain import TaskState
from tests.planner.test_domain import SUBMITTED, fold, running

UNSEEN = "the page stopped responding within 20 s; its browser was reset"


def unseen(state: TaskState, page_url: str = "") -> list[Event]:
    return recovery.unseen_page(
        state, state.step + 1, UNSEEN, page_url, backend="triton", previous_ok=True,
        previous_error="",
    )  # fmt: skip


def test_the_page_is_opened_again_where_the_browser_was() -> None:
    events = unseen(fold(running()), "http://x.test/form?t=1")
    assert len(events) == 1 and isinstance(events[0], IntentEmitted)
    again = events[0]
    assert again.step == 1 and again.intent.action == "navigate"
    assert again.intent.url == "http://x.test/form?t=1"
    assert again.intent.reason.startswith(recovery.RECOVER) and UNSEEN in again.intent.reason
    assert not again.replayed


def test_without_a_url_the_last_page_seen_then_the_start_page() -> None:
    typed = IntentEmitted(
        task_id="t1", step=1, intent=Intent(action="type", element=3, text="Ada"),
        page_url="http://x.test/step2",
    )  # fmt: skip
    events = unseen(fold([*running(), typed]))
    assert isinstance(events[0], IntentEmitted) and events[0].intent.url == "http://x.test/step2"
    events = unseen(fold(running()), "about:blank")
    assert isinstance(events[0], IntentEmitted) and events[0].intent.url == SUBMITTED.start_url


def test_after_max_recoveries_the_run_ends_with_the_error() -> None:
    events: list[Event] = list(running())
    for _ in range(recovery.MAX_RECOVERIES):
        state = fold(events)
        again = unseen(state, "http://x.test/")
        assert isinstance(again[0], IntentEmitted)
        events.extend(again)
    state = fold(events)
    assert recovery.recoveries(state) == recovery.MAX_RECOVERIES
    end = unseen(state, "http://x.test/")
    assert end == [TaskFailed(task_id="t1", steps=state.step + 1, reason=UNSEEN)]


def test_the_models_own_navigations_are_not_recoveries() -> None:
    own = IntentEmitted(
        task_id="t1", step=1, intent=Intent(action="navigate", url="http://x.test/a")
    )
    assert recovery.recoveries(fold([*running(), own])) == 0
