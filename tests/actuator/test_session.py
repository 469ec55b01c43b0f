"""The browser session aggregate, delivery decisions and the tenant read (pure folds)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from macrohard.actuator.session import BrowserSession, Delivery, evolve, plan_delivery
from macrohard.actuator.tenants import evolve_domains
from macrohard.contracts.browser import (
    ActionExecuted,
    PageElement,
    PageObservation,
    PageObserved,
    SessionClosed,
    SessionOpened,
)
from macrohard.contracts.envelope import Envelope, Event
from macrohard.contracts.tenancy import TenantDomainsChanged, TenantOnboarded
from tests.actuator.conftest import browser_envelope


def env(event: Event, event_id: str = "e") -> Envelope:
    return browser_envelope(event, event_id)


def observed(intent: str, url: str, ids: list[int]) -> Envelope:
    elements = [PageElement(id=i, role="button", name=f"b{i}") for i in ids]
    return env(
        PageObserved(
            task_id="task",
            step=1,
            intent_event_id=intent,
            observation=PageObservation(url=url, title="", elements=elements),
        )
    )


def executed(intent: str) -> Envelope:
    return env(
        ActionExecuted(task_id="task", step=1, intent_event_id=intent, action="click", ok=True)
    )


def fold(*events: Envelope) -> BrowserSession:
    state = BrowserSession()
    for e in events:
        state = evolve(state, e)
    return state


def test_session_fold_remembers_elements_of_the_current_document() -> None:
    state = fold(
        env(SessionOpened(task_id="task", worker="w1")),
        executed("i1"),
        observed("i1", "https://a/1", [1, 2]),
        executed("i2"),
        observed("i2", "https://a/1", [2, 3]),
    )
    assert state.open and state.worker == "w1" and state.last_url == "https://a/1"
    assert set(state.seen) == {1, 2, 3} and state.executed == {"i1", "i2"}
    moved = evolve(state, observed("i3", "https://a/2", [1]))
    assert set(moved.seen) == {1} and moved.last_url == "https://a/2"
    closed = evolve(moved, env(SessionClosed(task_id="task")))
    assert not closed.open


def test_takeover_reopens_at_the_last_url() -> None:
    state = fold(
        env(SessionOpened(task_id="task", worker="w1")),
        observed("i1", "https://a/1", [1]),
        env(SessionOpened(task_id="task", worker="w2", restored_from="w1", url="https://a/1")),
    )
    assert state.worker == "w2" and state.last_url == "https://a/1"


OPEN_W1 = fold(env(SessionOpened(task_id="task", worker="w1")))


@pytest.mark.parametrize(
    ("state", "worker", "has_context", "unreachable", "expected"),
    [
        (BrowserSession(), "w1", False, False, Delivery.EXECUTE),
        (OPEN_W1, "w1", True, False, Delivery.EXECUTE),
        (OPEN_W1, "w1", False, False, Delivery.TAKE_OVER),  # restarted under the same id
        (OPEN_W1, "w2", False, False, Delivery.FORWARD),
        (OPEN_W1, "w2", False, True, Delivery.TAKE_OVER),
        (fold(env(SessionOpened(task_id="task", worker="w1")), executed("i")), "w1", True, False,
         Delivery.OBSERVE),
        (fold(env(SessionOpened(task_id="task", worker="w1")), executed("i")), "w2", False, False,
         Delivery.FORWARD),
        (fold(env(SessionOpened(task_id="task", worker="w1")), executed("i")), "w2", False, True,
         Delivery.TAKE_OVER),
        (fold(executed("i"), observed("i", "u", [])), "w1", True, False, Delivery.SKIP),
        (fold(executed("i"), observed("i", "u", [])), "w9", False, True, Delivery.SKIP),
        (fold(env(SessionOpened(task_id="task", worker="w1")), env(SessionClosed(task_id="task"))),
         "w2", False, False, Delivery.EXECUTE),
    ],
)  # fmt: skip
def test_plan_delivery(
    state: BrowserSession, worker: str, has_context: bool, unreachable: bool, expected: Delivery
) -> None:
    got = plan_delivery(
        state, "i", worker=worker, has_context=has_context, holder_unreachable=unreachable
    )
    assert got is expected


@given(st.sampled_from(["w1", "w2"]), st.booleans(), st.booleans())
def test_an_executed_and_observed_intent_is_never_repeated(
    worker: str, has_context: bool, unreachable: bool
) -> None:
    state = fold(executed("i"), observed("i", "u", [1]))
    decision = plan_delivery(
        state, "i", worker=worker, has_context=has_context, holder_unreachable=unreachable
    )
    assert decision is Delivery.SKIP


def test_allowed_domains_fold_follows_the_tenant() -> None:
    onboarded = TenantOnboarded(
        tenant_id="t", name="t", plan="p", allowed_domains=["a.com"], monthly_budget="1"
    )
    state = evolve_domains(None, env(onboarded))
    assert state == ("a.com",)
    state = evolve_domains(state, env(TenantDomainsChanged(tenant_id="t", allowed_domains=[])))
    assert state == ()
    assert evolve_domains(state, env(SessionClosed(task_id="x"))) == ()
