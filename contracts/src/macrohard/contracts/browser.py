"""The actuator's side of the agent loop: browser sessions, actions done, pages seen."""

from __future__ import annotations

import msgspec

from macrohard.contracts.envelope import Event


class Box(msgspec.Struct, frozen=True, array_like=True):
    x: int
    y: int
    w: int
    h: int


class PageElement(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One interactive or text element, small enough to hand many of them to a model."""

    id: int
    role: str
    name: str = ""
    text: str = ""
    value: str | None = None
    tag: str = ""
    checked: bool | None = None
    selected: bool | None = None
    disabled: bool = False
    expanded: bool | None = None
    options: list[str] = []
    box: Box | None = None


class PageObservation(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    title: str
    elements: list[PageElement]
    screenshot_sha256: str | None = None


class SessionOpened(Event, frozen=True, kw_only=True):
    aggregate_type = "browser"

    task_id: str
    worker: str


class ActionExecuted(Event, frozen=True, kw_only=True):
    aggregate_type = "browser"

    task_id: str
    step: int
    intent_event_id: str
    action: str
    ok: bool
    error: str = ""
    duration_ms: float = 0.0


class PageObserved(Event, frozen=True, kw_only=True):
    aggregate_type = "browser"

    task_id: str
    step: int
    observation: PageObservation


class SessionClosed(Event, frozen=True, kw_only=True):
    aggregate_type = "browser"

    task_id: str
    reason: str = ""


EVENTS: tuple[type[Event], ...] = (
    SessionOpened,
    ActionExecuted,
    PageObserved,
    SessionClosed,
)
