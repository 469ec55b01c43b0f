"""The agent loop: what the planner decides (intents) and what the actuator did and saw."""

from __future__ import annotations

from typing import Literal

import msgspec
from macrohard.contracts.envelope import Event

ActionKind = Literal[
    "navigate",
    "click",
    "type",
    "clear",
    "select",
    "check",
    "uncheck",
    "press",
    "hover",
    "scroll",
    "drag",
    "wait_for",
    "upload",
    "back",
    "done",
    "fail",
]


class Intent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One step the planner wants done. `element` is an observation index on the current page.

    `text` may name a secret as `{{secret:NAME}}`; only the actuator resolves it.
    """

    action: ActionKind
    element: int | None = None
    target_element: int | None = None  # drag destination
    text: str | None = None
    url: str | None = None
    keys: str | None = None
    values: list[str] = []
    dx: int = 0
    dy: int = 0
    reason: str = ""


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


class LeaseRequested(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    model: str


class IntentEmitted(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    step: int
    intent: Intent
    backend: str = ""


class InferenceCompleted(Event, frozen=True, kw_only=True):
    """One model call on a car node: what billing meters and owners are paid for."""

    aggregate_type = "task"

    task_id: str
    step: int
    model: str
    node_id: str
    owner_account: str
    lease_id: str
    compute_ms: float
    input_bytes: int
    output_bytes: int
    energy_wh: float = 0.0


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
    LeaseRequested,
    IntentEmitted,
    InferenceCompleted,
    SessionOpened,
    ActionExecuted,
    PageObserved,
    SessionClosed,
)
