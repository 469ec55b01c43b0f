"""Skills that compute the answer from the page (hand-built pages, no benchmark page):
solving the equation shown, classifying numbers, generating until a condition holds,
guessing by the page's feedback."""

from __future__ import annotations

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import Box, PageElement, PageObservation
from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide


def el(id: int, role: str, text: str = "", y: int = 0, x: int = 0, **kw: object) -> PageElement:
    return PageElement(id=id, role=role, text=text, box=Box(x, y, 30, 14), **kw)  # type: ignore[arg-type]


def obs(*elements: PageElement) -> PageObservation:
    return PageObservation(url="http://app.test/", title="", elements=list(elements))


def run(goal: str, page: PageObservation, history: list[PastStep]) -> Intent:
    return decide(PlanRequest(goal=goal, observation=page, history=history))


def test_solves_the_equation_shown_and_types_the_answer() -> None:
    goal = "Solve for x, then type your answer into the box."
    page = obs(el(1, "text", "12 - x = 20", y=10), el(2, "textbox", y=40, value=""),
               el(3, "button", "Check", y=70))  # fmt: skip
    typed = run(goal, page, [])
    assert (typed.action, typed.element, typed.text) == ("type", 2, "-8")


def test_marks_each_number_by_its_category_in_its_row() -> None:
    goal = "Label every number as even or odd, then click Done when finished."
    rows = [(10, "7"), (40, "-2"), (70, "0")]
    page = obs(
        *(el(i * 10 + 1, "button", "Even", y=y, x=0) for i, (y, _) in enumerate(rows)),
        *(el(i * 10 + 2, "text", n, y=y, x=60) for i, (y, n) in enumerate(rows)),
        *(el(i * 10 + 3, "button", "Odd", y=y, x=120) for i, (y, _) in enumerate(rows)),
        el(99, "button", "Done", y=100),
    )
    history: list[PastStep] = []
    clicks = []
    for _ in range(4):
        intent = run(goal, page, history)
        clicks.append(intent.element)
        history.append(PastStep(intent=intent))
    assert clicks == [3, 11, 21, 99]  # 7 odd, -2 even, 0 even, then Done


def test_generates_until_the_number_shown_meets_the_condition() -> None:
    goal = "Generate a number less than 4, then press submit."

    def page(shown: str) -> PageObservation:
        return obs(el(1, "text", shown, y=10), el(2, "button", "Generate", y=40),
                   el(3, "button", "Submit", y=40, x=60))  # fmt: skip

    first = run(goal, page("-"), [])
    assert (first.action, first.element) == ("click", 2)
    again = run(goal, page("7"), [PastStep(intent=first)])
    assert (again.action, again.element) == ("click", 2)
    submit = run(goal, page("3"), [PastStep(intent=first), PastStep(intent=again)])
    assert (submit.action, submit.element) == ("click", 3)


def test_guesses_by_bisection_on_higher_and_lower_feedback() -> None:
    goal = "Guess the number between 1 and 20 and press Submit."
    secret, history = 15, []

    def page(feedback: str) -> PageObservation:
        return obs(el(1, "text", feedback, y=10), el(2, "spinbutton", y=40, value=""),
                   el(3, "button", "Submit", y=70))  # fmt: skip

    feedback, guesses = "Waiting", []
    for _ in range(12):
        intent = run(goal, page(feedback), history)
        history.append(PastStep(intent=intent))
        if intent.action == "type":
            guesses.append(int(intent.text or "0"))
        elif guesses and guesses[-1] == secret:
            break
        else:
            g = guesses[-1]
            feedback = "The number is higher than" if g < secret else "The number is lower than"
    assert guesses[-1] == secret and len(guesses) <= 5


def test_cards_are_turned_over_one_by_one_then_the_greatest_is_picked() -> None:
    goal = "Find and pick the card with the greatest number, then press submit."
    values = [7, 12, 3]
    submit = el(9, "button", "Submit", y=150, x=40)

    def table(showing: int | None) -> PageObservation:
        cards = [
            el(i + 1, "generic", str(values[i]) if i == showing else "", y=70, x=10 + 50 * i)
            for i in range(3)
        ]
        return obs(*cards, submit)

    history: list[PastStep] = []
    showing: int | None = None
    for _ in range(6):
        intent = run(goal, table(showing), history)
        history.append(PastStep(intent=intent))
        if intent.element == 9:
            break
        showing = (intent.element or 1) - 1
    assert [h.intent.element for h in history] == [1, 2, 3, 2, 9]  # 12 is turned over last


def test_one_of_each_named_item_by_its_plus_then_the_order_control() -> None:
    goal = "Add one of each item: Green tea, Scone"
    page = obs(
        el(1, "text", "Scone", y=10), el(2, "text", "-", y=10, x=100),
        el(3, "text", "+", y=10, x=130),
        el(4, "text", "Green tea", y=50), el(5, "text", "-", y=50, x=100),
        el(6, "text", "+", y=50, x=130),
        el(7, "button", "Add!", y=90),
    )  # fmt: skip
    history: list[PastStep] = []
    for _ in range(3):
        history.append(PastStep(intent=run(goal, page, history)))
    assert [h.intent.element for h in history] == [6, 3, 7]
    assert run(goal, page, history).action == "done"


def shown_beside(label: str, value: str, button: str) -> PageObservation:
    """A value beside its label (1, 2) and a button below them (3)."""
    return obs(el(1, "text", label, y=10, x=0), el(2, "text", value, y=10, x=40),
               el(3, "button", button, y=40))  # fmt: skip


def test_a_comparison_is_watched_in_the_page_and_acted_on_when_it_holds() -> None:
    goal = "Sell ACME shares when the quote is greater than $20.50."

    def page(quote: str) -> PageObservation:
        return shown_beside("Quote:", quote, "Sell")

    # The actuator watches the quote inside the page (it moves faster than a decision).
    sell = run(goal, page("$19.90"), [])
    assert (sell.action, sell.element, sell.target_element) == ("click_when", 3, 2)
    assert (sell.text, sell.wait_ms) == ("> 20.5", 10_000)
    assert run(goal, page("$20.90"), [PastStep(intent=sell)]).action == "done"


def test_a_condition_that_is_no_comparison_is_looked_at_until_it_holds_then_acted_on() -> None:
    goal = "Press Go when the count is odd."

    def page(count: str) -> PageObservation:
        return shown_beside("Count:", count, "Go")

    wait = run(goal, page("4"), [])
    assert wait.action == "wait_for" and wait.wait_ms > 0
    go = run(goal, page("5"), [PastStep(intent=wait)])
    assert (go.action, go.element) == ("click", 3)
