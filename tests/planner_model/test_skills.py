"""General web skills of the planner model on hand-built pages (no benchmark page): waiting,
'VALUE as the FIELD', the n-th widget or field of a kind, dates through a calendar widget."""

from __future__ import annotations

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import Box, PageElement, PageObservation
from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide
from macrohard.planner_model.web_planner.goal import parse_goal


def el(id: int, role: str, text: str = "", y: int = 0, x: int = 0, **kw: object) -> PageElement:
    return PageElement(id=id, role=role, text=text, box=Box(x, y, 30, 14), **kw)  # type: ignore[arg-type]


def obs(*elements: PageElement) -> PageObservation:
    return PageObservation(url="http://app.test/", title="", elements=list(elements))


def test_goal_grammar_for_waits_named_values_and_nth_widgets() -> None:
    kinds = [s.kind for s in parse_goal("Press Start, wait 2 seconds, then press Stop.")]
    assert kinds == ["click", "wait", "click"]
    (fill,) = parse_goal("Pick 3/4/2021 as the delivery date")
    assert (fill.kind, fill.value, fill.kind_hint) == ("fill", "3/4/2021", "delivery date")
    nth, typed = parse_goal('Tick the 2nd checkbox and type the number "12" into the 3rd field')
    assert (nth.kind, nth.ordinal, nth.kind_hint) == ("click_nth", 2, "checkbox")
    assert (typed.kind, typed.value, typed.ordinal) == ("fill", "12", 3)


def test_waits_once_then_goes_on() -> None:
    page = obs(el(1, "button", "Start", y=10), el(2, "button", "Stop", y=40))
    goal = "Press Start, wait 2 seconds, then press Stop."
    first = decide(PlanRequest(goal=goal, observation=page))
    assert (first.action, first.element) == ("click", 1)
    wait = decide(PlanRequest(goal=goal, observation=page, history=[PastStep(intent=first)]))
    assert wait.action == "wait_for" and wait.wait_ms >= 2000
    last = decide(
        PlanRequest(goal=goal, observation=page, history=[PastStep(intent=first),
                    PastStep(intent=wait)])
    )  # fmt: skip
    assert (last.action, last.element) == ("click", 2)


def test_the_nth_radio_and_the_nth_field() -> None:
    page = obs(
        *(el(i, "radio", y=10, x=20 * i, checked=False) for i in (1, 2, 3)),
        *(el(i, "textbox", y=40, x=20 * i, value="") for i in (4, 5, 6)),
        el(7, "button", "Submit", y=80),
    )
    goal = 'Choose the 3rd radio button and enter "x" into the 2nd text field'
    radio = decide(PlanRequest(goal=goal, observation=page))
    assert (radio.action, radio.element) == ("check", 3)
    typed = decide(PlanRequest(goal=goal, observation=page, history=[PastStep(intent=radio)]))
    assert (typed.action, typed.element, typed.text) == ("type", 5, "x")


def _calendar(month: str, year: str, n: int = 30) -> list[PageElement]:
    return [
        el(20, "text", "Prev", y=80, x=30),
        el(21, "text", month, y=80, x=60),
        el(22, "text", year, y=80, x=100),
        el(23, "text", "Next", y=80, x=130),
        *(el(100 + d, "link", str(d), y=100 + 12 * (d // 7), x=15 * (d % 7)) for d in range(1, n)),
    ]


def test_a_read_only_date_field_is_set_through_its_calendar() -> None:
    goal = "Select 10/11/2016 as the date and hit submit."
    field = el(3, "textbox", y=50, value="")
    label = el(2, "text", "Date:", y=50, x=-40)
    submit = el(4, "button", "Submit", y=200)
    typed = decide(PlanRequest(goal=goal, observation=obs(label, field, submit)))
    assert (typed.action, typed.text) == ("type", "10/11/2016")
    # Typing timed out: the field is read-only, a calendar sets it.
    history = [PastStep(intent=typed, ok=False, error="TimeoutError: Locator.fill: Timeout")]
    opened = decide(PlanRequest(goal=goal, observation=obs(label, field, submit), history=history))
    assert (opened.action, opened.element) == ("click", 3)
    history.append(PastStep(intent=opened))
    page = obs(label, field, submit, *_calendar("December", "2016"))
    back = decide(PlanRequest(goal=goal, observation=page, history=history))
    assert (back.action, back.element) == ("click", 20)  # previous month
    history.append(PastStep(intent=back))
    page = obs(label, field, submit, *_calendar("October", "2016"))
    day = decide(PlanRequest(goal=goal, observation=page, history=history))
    assert (day.action, day.element) == ("click", 111)
    history.append(PastStep(intent=day))
    filled = obs(label, el(3, "textbox", y=50, value="10/11/2016"), submit)
    send = decide(PlanRequest(goal=goal, observation=filled, history=history))
    assert (send.action, send.element) == ("click", 4)
    assert isinstance(send, Intent)


def test_values_the_goal_points_at_are_read_beside_their_key() -> None:
    rows = [("Colour", "Teal"), ("City", "Oslo")]
    cells = [
        el(10 + 2 * i + j, "cell", text, y=60 + 16 * i, x=10 + 90 * j)
        for i, row in enumerate(rows)
        for j, text in enumerate(row)
    ]
    field = el(20, "textbox", y=120, value="")
    page = obs(*cells, field, el(21, "button", "Submit", y=150))
    typed = decide(
        PlanRequest(goal="Enter the value of City into the text field", observation=page)
    )
    assert (typed.action, typed.element, typed.text) == ("type", 20, "Oslo")

    # Each field takes the value shown beside its own label; a label above belongs to the
    # field below it only when the field has none on its own row.
    def form(city: str) -> PageObservation:
        return obs(
            *cells,
            el(30, "label", "City:", y=120, x=0),
            el(31, "textbox", y=120, x=60, value=city),
            el(32, "label", "Colour:", y=136, x=0),
            el(33, "textbox", y=136, x=60, value=""),
        )

    goal = "Enter the value that corresponds with each label into the form"
    first = decide(PlanRequest(goal=goal, observation=form("")))
    assert (first.element, first.text) == (31, "Oslo")
    history = [PastStep(intent=first)]
    second = decide(PlanRequest(goal=goal, observation=form("Oslo"), history=history))
    assert (second.element, second.text) == (33, "Teal")


def test_a_container_is_scrolled_to_its_end_then_the_goal_goes_on() -> None:
    page = obs(el(1, "textbox", "long text", y=50, tag="textarea"), el(2, "button", "OK", y=200))
    goal = "Scroll the textarea to the bottom of the text hit OK."
    scroll = decide(PlanRequest(goal=goal, observation=page))
    assert (scroll.action, scroll.element) == ("scroll", 1) and scroll.dy > 0
    ok = decide(PlanRequest(goal=goal, observation=page, history=[PastStep(intent=scroll)]))
    assert (ok.action, ok.element) == ("click", 2)
