"""The actuator's side of the agent loop: browser sessions, actions done, pages seen."""

from __future__ import annotations

from typing import Any

import msgspec

from macrohard.contracts.envelope import Event

# Core NATS: `actuator.worker.<worker id>` reaches the replica holding a task's browser
# context (request-reply); the node-less handover between actuator replicas.
ACTUATOR_WORKER_PREFIX = "actuator.worker"


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
    # The end of a value too long to observe whole (`value` is its beginning): what a person
    # sees after scrolling the field to its bottom, so "the last word" can be read.
    value_end: str = ""
    tag: str = ""
    checked: bool | None = None
    selected: bool | None = None
    disabled: bool = False
    expanded: bool | None = None
    options: list[str] = []
    box: Box | None = None
    # A slider's or number field's bounds (input min/max/step, aria-valuemin/max).
    value_min: float | None = None
    value_max: float | None = None
    value_step: float | None = None
    # What a person sees rather than reads: a shape ("circle", "rect", "polygon", "ellipse",
    # "line", "path", "text" inside an SVG drawing; "box" for a text-less coloured HTML
    # element; "canvas", whose drawing is pixels only) and its colour as #rrggbb (an SVG
    # shape's fill, a box's background).
    shape: str = ""
    color: str = ""
    # A point inside a drawn shape, relative to its box, where its box's centre is not inside
    # it (a pie's sector, a ring): where a click presses this shape. None: the centre is.
    point: tuple[int, int] | None = None
    # Text styling a rich-text editor shows: "bold", "italic", "underline", "strike",
    # "color:#rrggbb" (only inside editable content, where formatting is the point).
    styles: list[str] = []


class PageObservation(msgspec.Struct, frozen=True, kw_only=True):
    """What the page looked like after an action: ids are stable within one document."""

    url: str
    title: str
    elements: list[PageElement]
    screenshot_sha256: str | None = None
    # Elements left out to keep the observation small (hidden or past the cap).
    omitted: int = 0
    # The text currently selected (highlighted) on the page, clipped like any text.
    selection: str = ""


class SessionOpened(Event, frozen=True, kw_only=True):
    """A worker (one actuator process) took the task's browser session.

    The aggregate id is the task id. A second SessionOpened names the replica that took the
    session over after the previous worker died (`restored_from`, `url` it reopened).
    """

    aggregate_type = "browser"

    task_id: str
    worker: str
    restored_from: str = ""
    url: str = ""


class ActionStarted(Event, frozen=True, kw_only=True):
    """The actuator is about to act on the page for this intent (recorded before the click).

    An intent with ActionStarted but no ActionExecuted was interrupted mid-action: it is never
    done again. What a redelivery reports follows from the write-ahead records after it: no
    ActionReachedSite (nothing with an effect left the browser: not done, outcome known), an
    ActionLanded (done: the page it led to is reopened), else `outcome_unknown`.
    """

    aggregate_type = "browser"

    task_id: str
    step: int
    intent_event_id: str
    action: str


class ActionReachedSite(Event, frozen=True, kw_only=True):
    """A request that can carry an effect left the browser while this intent's action was in
    flight (write-ahead: the request is held until this event is in the log, then sent).

    "Can carry an effect" is any method but GET/HEAD/OPTIONS, from any frame of the task's
    context (a form POST, a fetch/XHR PUT/PATCH/DELETE, a beacon). An interrupted action with
    none of these since its ActionStarted sent nothing a site could record: a redelivery
    reports it not done, with a known outcome. `url` is scrubbed of the task's secrets.
    """

    aggregate_type = "browser"

    task_id: str
    step: int
    intent_event_id: str
    method: str
    url: str


class ActionLanded(Event, frozen=True, kw_only=True):
    """Every request recorded by ActionReachedSite for this intent has been answered, and
    this is where the page stood then (the main frame's final URL after a form's redirect
    chain, e.g. a 303's target). A redelivery of the interrupted action opens it with a GET
    and reports the action done: the site has the effect, and this is the page it led to.
    """

    aggregate_type = "browser"

    task_id: str
    step: int
    intent_event_id: str
    url: str


class ActionExecuted(Event, frozen=True, kw_only=True):
    aggregate_type = "browser"

    task_id: str
    step: int
    intent_event_id: str
    action: str
    ok: bool
    error: str = ""
    duration_ms: float = 0.0
    # True when the action was refused by policy (allowlist, SSRF, invalid arguments).
    blocked: bool = False
    # True when an actuator stopped between ActionStarted and here: the action was not done
    # again, and whether it took effect is unknown (ok is False).
    outcome_unknown: bool = False
    # True when an actuator stopped after the action's requests reached the site and were
    # answered (ActionLanded): it was not done again; the page it led to was reopened.
    recovered: bool = False


class PageObserved(Event, frozen=True, kw_only=True):
    aggregate_type = "browser"

    task_id: str
    step: int
    observation: PageObservation
    intent_event_id: str = ""
    # Why the page could not be read (the observation is then empty): the planner ends the
    # task with this reason instead of deciding on nothing.
    error: str = ""
    # The answer to an `extract` intent: the values the task's output_schema asks for, read
    # from this page. The planner merges every extraction of a run into its result.
    extracted: Any = None


class SessionClosed(Event, frozen=True, kw_only=True):
    aggregate_type = "browser"

    task_id: str
    reason: str = ""


EVENTS: tuple[type[Event], ...] = (
    SessionOpened,
    ActionStarted,
    ActionReachedSite,
    ActionLanded,
    ActionExecuted,
    PageObserved,
    SessionClosed,
)
