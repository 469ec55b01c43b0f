"""A page the platform failed to show is opened again a few times, then the run ends."""

from __future__ import annotations

from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.browser import ActionExecuted, PageObservation, PageObserved
from macrohard.contracts.envelope import Event
from macrohard.contracts.tasks import TaskFailed
from macrohard.eventlog import EventStore
from macrohard.planner import recovery
from macrohard.planner.domain import TaskState
from macrohard.planner.handlers import Planner
from tests.planner.test_domain import SUBMITTED, fold, running
from tests.planner.test_service import append, task_events
from tests.planner.test_takeover import acted, form, start

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


async def observed_with(
    store: EventStore, p: Planner, step: int, *, ok: bool, unknown: bool, error: str
) -> Event:
    """The actuator's report of `step`, whose page it could not show; the planner's turn."""
    done = ActionExecuted(
        task_id="t1", step=step, intent_event_id=f"i{step}", action="x", ok=ok,
        outcome_unknown=unknown,
    )  # fmt: skip
    await append(store, done, "t1")
    blank = PageObservation(url="http://shop.test/", title="", elements=[])
    seen = PageObserved(task_id="t1", step=step, observation=blank, error=error)
    await p.on_page_observed(await append(store, seen, "t1"))
    return (await task_events(store))[-1]


async def test_the_planner_reopens_an_unseen_page_but_never_after_an_unknown_click(
    store: EventStore,
) -> None:
    p = await start(store)
    first = await acted(store, p, 0, form())
    assert isinstance(first, IntentEmitted) and first.intent.action == "type"
    # The typing's page could not be shown: opened again, no model call on an empty page.
    again = await observed_with(store, p, 1, ok=True, unknown=False, error=UNSEEN)
    assert isinstance(again, IntentEmitted) and again.intent.action == "navigate"
    assert again.intent.url == "http://shop.test/"
    assert again.intent.reason.startswith(recovery.RECOVER)
    # The model goes on from the reopened page, up to its Save click.
    step = 3
    decision = await acted(store, p, 2, form())
    while isinstance(decision, IntentEmitted) and decision.intent.action != "click":
        page = form("Ada") if decision.intent.text == "Ada" else form("Ada", "Eng")
        decision = await acted(store, p, step, page)
        step += 1
    assert isinstance(decision, IntentEmitted) and decision.intent.action == "click"
    # The click's outcome is unknown and its page could not be shown: a reload and a second
    # try could submit twice, so the run ends.
    end = await observed_with(store, p, decision.step, ok=False, unknown=True, error=UNSEEN)
    assert isinstance(end, TaskFailed) and "unknown" in end.reason
