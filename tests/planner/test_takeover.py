"""After an actuator crash the page was reloaded: the planner never completes on old steps.

The real offline planner model runs in-process on real NATS; the test writes the actuator's
side of the log (a takeover is a second SessionOpened naming the dead worker).
"""

from __future__ import annotations

from macrohard.contracts.agent import IntentEmitted
from macrohard.contracts.browser import (
    ActionExecuted,
    PageElement,
    PageObservation,
    PageObserved,
    SessionOpened,
)
from macrohard.contracts.tasks import TaskCompleted, TaskFailed, TaskSubmitted
from macrohard.eventlog import EventStore
from macrohard.planner.handlers import Planner
from tests.planner.test_service import append, planner, task_events

GOAL = 'Enter "Ada" into the name field, enter "Eng" into the team field and click Save.'


def form(name: str = "", team: str = "", url: str = "http://shop.test/") -> PageObservation:
    return PageObservation(
        url=url,
        title="Join",
        elements=[
            PageElement(id=0, role="textbox", name="Name", value=name),
            PageElement(id=1, role="textbox", name="Team", value=team),
            PageElement(id=2, role="button", name="Save"),
        ],
    )


async def acted(
    store: EventStore,
    p: Planner,
    step: int,
    page: PageObservation,
    *,
    ok: bool = True,
    error: str = "",
    unknown: bool = False,
    takeover: bool = False,
) -> IntentEmitted | TaskCompleted | TaskFailed:
    """The actuator's report of `step` (after a takeover when asked), then the planner's turn."""
    if takeover:
        await append(
            store, SessionOpened(task_id="t1", worker="act-b", restored_from="act-a"), "t1"
        )
    action = ActionExecuted(
        task_id="t1",
        step=step,
        intent_event_id=f"i{step}",
        action="x",
        ok=ok,
        error=error,
        outcome_unknown=unknown,
    )
    await append(store, action, "t1")
    rec = await append(store, PageObserved(task_id="t1", step=step, observation=page), "t1")
    await p.on_page_observed(rec)
    last = (await task_events(store))[-1]
    assert isinstance(last, IntentEmitted | TaskCompleted | TaskFailed)
    return last


async def start(store: EventStore) -> Planner:
    p = planner(store)
    submitted = TaskSubmitted(task_id="t1", goal=GOAL, start_url="http://shop.test/")
    await p.on_task_event(await append(store, submitted, "t1"))
    await append(store, SessionOpened(task_id="t1", worker="act-a"), "t1")
    return p


def what(e: IntentEmitted | TaskCompleted | TaskFailed) -> tuple[str, int | None, str | None]:
    assert isinstance(e, IntentEmitted), e
    return (e.intent.action, e.intent.element, e.intent.text)


async def test_a_takeover_does_not_complete_a_half_filled_form(store: EventStore) -> None:
    p = await start(store)
    assert what(await acted(store, p, 0, form())) == ("type", 0, "Ada")
    assert what(await acted(store, p, 1, form(name="Ada"))) == ("type", 1, "Eng")
    # The actuator holding the browser dies; the survivor reloads the form: both fields empty,
    # and step 2 was not done. Continuing from the history would click Save on an empty name.
    step3 = await acted(
        store, p, 2, form(), ok=False, error="the browser session moved", takeover=True
    )
    assert what(step3) == ("type", 0, "Ada")
    assert what(await acted(store, p, 3, form(name="Ada"))) == ("type", 1, "Eng")
    assert what(await acted(store, p, 4, form(name="Ada", team="Eng")))[:2] == ("click", 2)
    done = await acted(store, p, 5, form(name="Ada", team="Eng", url="http://shop.test/saved"))
    assert isinstance(done, TaskCompleted)
    events = await task_events(store)
    typed = [e.intent.text for e in events if isinstance(e, IntentEmitted)][1:]
    assert typed == ["Ada", "Eng", "Ada", "Eng", None, None]


async def test_an_interrupted_click_whose_browser_was_lost_is_not_repeated(
    store: EventStore,
) -> None:
    p = await start(store)
    await acted(store, p, 0, form())
    await acted(store, p, 1, form(name="Ada"))
    assert what(await acted(store, p, 2, form(name="Ada", team="Eng")))[:2] == ("click", 2)
    # Killed mid-click: the survivor found ActionStarted without ActionExecuted.
    end = await acted(store, p, 3, form(), ok=False, unknown=True, takeover=True)
    assert isinstance(end, TaskFailed) and "not repeated" in end.reason
    events = await task_events(store)
    clicks = [e for e in events if isinstance(e, IntentEmitted) and e.intent.action == "click"]
    assert len(clicks) == 1


async def test_an_interrupted_action_on_a_live_page_lets_the_model_decide(
    store: EventStore,
) -> None:
    """Without a takeover the page is the real one: the model sees what the click did."""
    p = await start(store)
    await acted(store, p, 0, form())
    await acted(store, p, 1, form(name="Ada"))
    await acted(store, p, 2, form(name="Ada", team="Eng"))
    saved = form(name="Ada", team="Eng", url="http://shop.test/saved")
    end = await acted(store, p, 3, saved, ok=False, unknown=True)
    assert not isinstance(end, TaskFailed)
