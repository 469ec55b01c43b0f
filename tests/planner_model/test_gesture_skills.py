"""Skills that need gestures, on hand-built pages (no benchmark page): sliders and spinners,
shapes and colours, text selection, drag to reorder, small-board games."""

from __future__ import annotations

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import Box, PageElement, PageObservation
from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide


def el(
    id: int, role: str, text: str = "", y: int = 0, x: int = 0, w: int = 30, h: int = 14,
    **kw: object,
) -> PageElement:  # fmt: skip
    return PageElement(id=id, role=role, text=text, box=Box(x, y, w, h), **kw)  # type: ignore[arg-type]


def obs(*elements: PageElement, selection: str = "") -> PageObservation:
    return PageObservation(
        url="http://app.test/", title="", elements=list(elements), selection=selection
    )


def run(goal: str, page: PageObservation, steps: int = 8) -> list[Intent]:
    """The intents the model chooses on a page that does not change, every action ok."""
    history: list[PastStep] = []
    for _ in range(steps):
        intent = decide(PlanRequest(goal=goal, observation=page, history=history))
        history.append(PastStep(intent=intent))
        if intent.action in ("done", "fail"):
            break
    return [h.intent for h in history]


def test_sliders_get_the_goal_numbers_in_page_order_then_submit() -> None:
    page = obs(
        el(1, "text", "Pick a combination", y=0),
        el(2, "text", y=40, name="ui slider handle"),
        el(3, "text", "0", y=60),
        el(4, "slider", y=90, name="Volume", value="10", value_min=0, value_max=50),
        el(5, "button", "Submit", y=130),
    )
    intents = run("Set the sliders to the combination [7, 25] and submit.", page)
    assert [(i.action, i.element, i.target_element, i.text) for i in intents[:3]] == [
        ("set_value", 2, 3, "7"),  # no value of its own: read from the number after it
        ("set_value", 4, None, "25"),
        ("click", 5, None, None),
    ]
    assert intents[-1].action == "done"
    one = run("Select -3 with the slider and hit Submit.", page)
    assert (one[0].action, one[0].element, one[0].text) == ("set_value", 2, "-3")
    assert (one[1].action, one[1].element) == ("click", 5)
    nth = run("Set the 2nd slider to 40", page)
    assert (nth[0].action, nth[0].element, nth[0].text) == ("set_value", 4, "40")


def test_a_spinner_already_at_its_value_is_left_alone() -> None:
    page = obs(el(1, "spinbutton", name="Guests", value="4"), el(2, "button", "OK", y=40))
    intents = run("Set the spinner to 4 and press OK", page)
    assert [(i.action, i.element) for i in intents] == [("click", 2), ("done", None)]


def shape(id: int, kind: str, color: str, x: int, y: int, size: int, text: str = "") -> PageElement:
    return el(id, "graphic", text, y=y, x=x, w=size, h=size, shape=kind, color=color)


def test_shapes_by_colour_size_kind_and_glyph() -> None:
    page = obs(
        el(1, "text", "A drawing", y=0),
        shape(2, "circle", "#ff0000", 10, 40, 20),
        shape(3, "circle", "#0000ff", 40, 40, 10),
        shape(4, "rect", "#0000ff", 70, 40, 20),
        shape(5, "text", "#008000", 100, 40, 22, text="7"),
        shape(6, "text", "#000000", 130, 40, 11, text="q"),
        el(7, "button", "Cancel", y=90),
    )
    for goal, want in [
        ("Click on a small blue circle", 3),
        ("Click on the large blue item", 4),
        ("Click on a red shape", 2),
        ("Click on a large 7", 5),
        ("Click on a small q", 6),
        ("Click on a green digit", 5),
        ("Click on the Cancel button", 7),  # not about looks: an ordinary click
    ]:
        intents = run(goal, page)
        assert (intents[0].action, intents[0].element) == ("click", want), goal
        assert intents[1].action == "done", goal


def test_colour_names_and_shades_of_a_hue() -> None:
    swatches = [
        ("#ff0000", 10), ("#808000", 40), ("#00ff00", 70), ("#ffc0cb", 100),  # red olive lime pink
    ]  # fmt: skip
    page = obs(*(shape(i, "box", c, x, 40, 20) for i, (c, x) in enumerate(swatches, start=1)))
    assert run("Click on the olive colored box.", page)[0].element == 2
    assert run("Click on the lime colored box.", page)[0].element == 3
    shades = [
        ("#d97a7a", 10), ("#4d1a1a", 40), ("#7ad97a", 70), ("#e6e6f5", 100), ("#c4a3a3", 130),
    ]  # fmt: skip
    page = obs(
        *(shape(i, "box", c, x, 40, 20) for i, (c, x) in enumerate(shades, start=1)),
        el(9, "button", "Submit", y=90),
    )
    intents = run("Select all the shades of red and press Submit.", page, steps=10)
    assert [(i.action, i.element) for i in intents] == [
        ("click", 1), ("click", 2), ("click", 5), ("click", 9), ("done", None),
    ]  # fmt: skip


def test_highlight_a_paragraph_or_a_phrase_then_submit() -> None:
    page = obs(
        el(1, "paragraph", "First block of prose here.", y=20, tag="p"),
        el(2, "paragraph", "Second block " + "long " * 40 + "…", y=60, tag="p"),
        el(3, "text", "Some other words", y=100),
        el(4, "button", "Submit", y=140),
    )
    intents = run("Highlight the text in the 2nd paragraph and click submit.", page)
    # A clipped paragraph is selected whole: the model never names text it cannot see.
    assert [(i.action, i.element, i.text) for i in intents] == [
        ("select_text", 2, None), ("click", 4, None), ("done", None, None),
    ]  # fmt: skip
    phrase = run('Highlight the words "block of" and press Submit', page)
    assert (phrase[0].action, phrase[0].element, phrase[0].text) == ("select_text", 1, "block of")
    # What the page reports as selected already counts: nothing to do again.
    selected = obs(*page.elements, selection="block of")
    again = run('Highlight the words "block of" and press Submit', selected)
    assert (again[0].action, again[0].element) == ("click", 4)


def listing(names: list[str], x: int = 20) -> list[PageElement]:
    return [
        el(10 + i, "text", n, y=40 + 30 * i, x=x, w=100, tag="div") for i, n in enumerate(names)
    ]


def test_drag_an_item_to_a_position_of_its_list() -> None:
    page = obs(*listing(["Ann", "Bo", "Cy", "Di"]), el(30, "text", "Other", y=40, x=300))
    for goal, target, down in [
        ("Drag Cy to the top.", 10, False),
        ("Drag Bo to the 4th position.", 13, True),
        ("Drag Cy up by one position.", 11, False),
        ("Drag Ann down by one position.", 11, True),
    ]:
        (move, *_) = run(goal, page)
        assert (move.action, move.target_element) == ("drag", target), goal
        assert move.y == (12 if down else 2), goal  # past the middle, on the far side
    # Already there: nothing to do.
    assert run("Drag Ann to the 1st position.", page)[0].action == "done"


def test_sort_moves_one_item_at_a_time_then_submits() -> None:
    unsorted = obs(*listing(["5", "-3", "12"]), el(40, "button", "Submit", y=200))
    goal = "Sort the numbers in increasing order, starting with the lowest number at the top."
    first = decide(PlanRequest(goal=goal, observation=unsorted))
    assert (first.action, first.element, first.target_element) == ("drag", 11, 10)
    done = obs(*listing(["-3", "5", "12"]), el(40, "button", "Submit", y=200))
    after = decide(PlanRequest(goal=goal, observation=done, history=[PastStep(intent=first)]))
    assert (after.action, after.element) == ("click", 40)
    down = decide(PlanRequest(goal="Sort the numbers in descending order", observation=done))
    assert (down.action, down.element, down.target_element) == ("drag", 12, 10)


def test_numbers_clicked_in_order_from_memory_once_they_are_hidden() -> None:
    shown = obs(
        shape(1, "text", "#000000", 100, 40, 20, text="2"),
        shape(2, "text", "#000000", 10, 80, 20, text="1"),
        shape(3, "text", "#000000", 50, 120, 20, text="3"),
        el(4, "text", "0", y=300, x=300),  # a figure in a status line, not an item
    )
    goal = "Click on the numbers in ascending order."
    first = decide(PlanRequest(goal=goal, observation=shown))
    assert (first.action, first.element) == ("click", 2)
    hidden = obs(
        *(shape(i, "rect", "#000000", x, y, 20) for i, x, y in [(5, 100, 40), (6, 50, 120)])
    )
    history = [PastStep(intent=first)]
    second = decide(PlanRequest(goal=goal, observation=hidden, history=history))
    assert (second.action, second.x, second.y) == ("click_at", 110, 50)
    history.append(PastStep(intent=second))
    third = decide(PlanRequest(goal=goal, observation=hidden, history=history))
    assert (third.action, third.x, third.y) == ("click_at", 60, 130)


def board(marks: str) -> PageObservation:
    """A 3x3 board of framed cells, row by row ('.' free); marks are images named x / o."""
    cells = [
        el(1 + i, "text", y=40 + 44 * (i // 3), x=10 + 44 * (i % 3), w=42, h=42,
           shape="box", name="" if m == "." else m)
        for i, m in enumerate(marks)
    ]  # fmt: skip
    return obs(el(20, "text", "Score: 0", y=300), *cells)


def test_a_board_game_takes_the_win_blocks_the_loss_and_stops_when_over() -> None:
    goal = "Playing as 'X', win a game of tic-tac-toe."
    win = decide(PlanRequest(goal=goal, observation=board("xx.oo....")))
    assert (win.action, win.element) == ("click", 3)  # x x _ : complete the row
    block = decide(PlanRequest(goal=goal, observation=board("x...oo...")))
    assert (block.action, block.element) == ("click", 4)  # o o on row 2: block at its start
    first = decide(PlanRequest(goal=goal, observation=board("....o....")))
    assert first.element in (1, 3, 7, 9)  # against the centre, only a corner avoids a loss
    assert decide(PlanRequest(goal=goal, observation=board("xxxoo...."))).action == "done"
    as_o = decide(PlanRequest(goal="Playing as 'O', win the game", observation=board("oo.xx.x..")))
    assert (as_o.action, as_o.element) == ("click", 3)


def test_style_words_in_an_editor_by_selection_and_shortcut() -> None:
    editor = el(1, "textbox", y=40, w=200, h=80, tag="div", value="Neque, porro quisquam")
    para = el(2, "paragraph", "Neque, porro quisquam", y=50, x=5, w=150, tag="p")
    page = obs(editor, para, el(3, "button", "Submit", y=150))
    goal = "Using the text editor, give the text Neque, the style bold and press Submit."
    select = decide(PlanRequest(goal=goal, observation=page))
    assert (select.action, select.element, select.text) == ("select_text", 1, "Neque,")
    history = [PastStep(intent=select)]
    chord = decide(PlanRequest(goal=goal, observation=page, history=history))
    assert (chord.action, chord.keys) == ("press", "Control+b")
    # The page shows the words bold: the step is done, whatever the history says.
    bold = el(4, "text", "Neque,", y=50, x=5, tag="strong", styles=["bold"])
    styled = obs(editor, para, bold, el(3, "button", "Submit", y=150))
    after = decide(PlanRequest(goal=goal, observation=styled))
    assert (after.action, after.element) == ("click", 3)
    every = decide(PlanRequest(goal="Make everything italic", observation=page))
    assert (every.action, every.element, every.text) == ("select_text", 1, None)
