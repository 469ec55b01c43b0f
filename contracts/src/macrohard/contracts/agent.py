"""The planner's side of the agent loop: what it decides (intents) and what that cost."""

from __future__ import annotations

from typing import Any, Literal

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
    # Read the values the task's output_schema asks for off the current page (no page change):
    # the PageObserved that answers it carries them in `extracted`.
    "extract",
    # Gestures a person makes with the mouse and keyboard, each bounded by the actuator:
    "right_click",  # the element's context menu
    "hold",  # press and hold on the element for hold_ms
    "click_at",  # a point (x, y): inside the element's box, or of the viewport without one
    "select_text",  # select (highlight) `text` in the element's text; no text: all of it
    "set_value",  # a slider or number field to the number in `text`, read back to verify
    # Click `element` the moment the number `target_element` shows meets `text` ("< 53.1"),
    # watched in the page for up to wait_ms: a value that changes faster than a decision.
    "click_when",
    "done",
    "fail",
]


class Intent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One step the planner wants done. `element` is an observation index on the current page.

    `text` may name a secret as `{{secret:NAME}}`; only the actuator resolves it.
    """

    action: ActionKind
    element: int | None = None
    # drag: the destination element; set_value: an element whose text shows the value (a
    # slider without a value of its own), read back to verify.
    target_element: int | None = None
    text: str | None = None
    url: str | None = None
    keys: str | None = None
    values: list[str] = []
    dx: int = 0
    dy: int = 0
    # wait_for without an element or text: let this much time pass; click_when: how long
    # to watch the value.
    wait_ms: int = 0
    # A point in CSS pixels: relative to the element's box when there is one (click_at, and
    # drag to a point inside target_element), else of the viewport (click_at, drag to a point).
    x: int | None = None
    y: int | None = None
    # drag only: where to press on the source, relative to its box (default: its centre),
    # e.g. a resize handle at a corner.
    grip_x: int | None = None
    grip_y: int | None = None
    hold_ms: int = 0  # hold: how long the button stays down
    # click_at only: keep pressing, for up to this long, every element like this one (same
    # kind, class and colour, in the same drawing or container) where it is at that moment,
    # each as it comes into sight: things that move or keep arriving. 0: one press.
    repeat_ms: int = 0
    reason: str = ""
    # Index of the goal step this intent serves: lets a stateless model resume from history.
    plan_step: int | None = None
    # `extract` only: the values a model read itself (the chat backend, shaped by the task's
    # output_schema); None lets the actuator read them from the page (labels, tables, lists).
    data: Any = None


class LeaseRequested(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    model: str


class IntentEmitted(Event, frozen=True, kw_only=True):
    """One planner decision. With the fields below, a run reads back step by step from the
    task's own events: what the planner saw last, how the previous step went, what it chose."""

    aggregate_type = "task"

    task_id: str
    step: int
    intent: Intent
    backend: str = ""
    element_label: str = ""  # the chosen element as observed ("button 'Submit'")
    page_url: str = ""  # the page the decision was made on
    previous_ok: bool | None = None  # outcome of step - 1 as the actuator reported it
    previous_error: str = ""
    # True when the step was replayed from the tenant's playbook instead of asking the model.
    replayed: bool = False
    # The stream sequence of the RunLearned it was replayed from (0: none). A run follows
    # one recording to its end: the playbook may learn a newer run meanwhile, whose steps
    # are numbered differently.
    playbook_seq: int = 0


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
    # A call made on a second (or third) car to check another car's answer: the same work,
    # paid the same to its car's owner, but the platform's cost: the tenant is not charged
    # for it. Its answer is compared, never used.
    verification: bool = False
    checks: str = ""  # a verification's checked car: whose work the check's cost is part of


class InferenceVerified(Event, frozen=True, kw_only=True):
    """A call's answer was re-executed on other cars and they agreed (bit for bit, or
    within the model's stated tolerance)."""

    aggregate_type = "task"

    task_id: str
    step: int
    model: str
    node_id: str
    verifiers: list[str]


class InferenceDisputed(Event, frozen=True, kw_only=True):
    """Cars disagreed on one call; a third decided by majority. `wrong` lost the dispute:
    their answers were never used and they were neither paid nor billed for them."""

    aggregate_type = "task"

    task_id: str
    step: int
    model: str
    node_ids: list[str]  # every car that answered, in the order asked
    majority: list[str]  # the cars whose (agreeing) answer was used; [] if none agreed
    wrong: list[str]
    digests: dict[str, str] = {}  # node -> SHA-256 of its answer, to trace what it said


class InferenceRetracted(Event, frozen=True, kw_only=True):
    """An answer used at `step` came from a car later quarantined for lying, while the
    answer was still held, and no other car had checked it: it may have been wrong. Traces
    it in the task's log to the intent it produced (what reached the actuator); the tenant
    is credited for it (`AnswersCredited`) and the car's owner is not paid for it."""

    aggregate_type = "task"

    task_id: str
    step: int
    model: str
    node_id: str
    inference_event_id: str  # the InferenceCompleted of the suspect answer
    intent_event_id: str = ""  # the IntentEmitted of that step ("" if none came of it)
    quarantine_event_id: str = ""  # the NodeQuarantined that makes it suspect
    reason: str = ""


# Why a recorded step acted on the element it did: a goal value is in its label ("value"),
# the goal's own words are ("words"), it was the only element of its role ("only"), or the
# page alone chose it among others of its role ("page": the answer a read-the-page goal found).
ChosenBy = Literal["", "value", "words", "only", "page"]


class StepResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a recorded step changed on its page, as the next observation showed it; written
    with the recorded goal's values (a replay swaps in its own before comparing).

    kind: "value" (the acted-on field now holds `value`), "checked" (its checked state is now
    `value`, "true"/"false"), "page" (the page is now the site `value`), "gone" (the acted-on
    element left the page), "appeared" (an element of role `value` appeared: one more than
    before)."""

    kind: Literal["value", "checked", "page", "gone", "appeared"]
    value: str = ""


class PlaybookStep(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One step of a solved run, as it can be done again on a fresh page."""

    intent: Intent
    element_label: str = ""  # the element as observed then: re-grounded by this label
    nth: int = 0  # which of the elements carrying that label (0 = the first)
    page_url: str = ""  # the page the step was decided on: where a replay must be
    chosen_by: ChosenBy = ""  # why this element ("": recorded before this was kept)
    # The page the step was decided on, all it showed but ids and places: a choice the page
    # alone justified is replayed only on a page that shows the same.
    page_digest: str = ""
    results: list[StepResult] = []  # what it changed: checked after it is replayed


class RunLearned(Event, frozen=True, kw_only=True):
    """A tenant's solved run, kept so a later goal of the same shape on the same site is
    replayed instead of asked of the model. The aggregate is the tenant's playbook entry for
    one (site, goal shape): its subject carries the tenant, so no other tenant reads it."""

    aggregate_type = "playbook"

    task_id: str
    site: str  # scheme://host[:port]/path of the start page
    shape: str  # the goal with its values taken out ("enter {} into the {} field")
    slots: list[str]  # the values taken out, in order
    steps: list[PlaybookStep]


EVENTS: tuple[type[Event], ...] = (
    LeaseRequested,
    IntentEmitted,
    InferenceCompleted,
    RunLearned,
    InferenceVerified,
    InferenceDisputed,
    InferenceRetracted,
)
