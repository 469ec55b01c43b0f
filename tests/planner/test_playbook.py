"""The agent learns from its log: a tenant's solved run is replayed for a goal of the same
shape on the same site, re-grounded on the new page; the model is asked only where the page
differs; never across tenants. Real NATS, the real in-process planner model."""

from __future__ import annotations

import msgspec

from macrohard.contracts.agent import (
    Intent,
    IntentEmitted,
    PlaybookStep,
    RunLearned,
    StepResult,
)
from macrohard.contracts.browser import (
    ActionExecuted,
    Box,
    PageElement,
    PageObservation,
    PageObserved,
)
from macrohard.contracts.envelope import Event, RecordedEvent, envelope
from macrohard.contracts.tasks import TaskCompleted, TaskSubmitted
from macrohard.eventlog import EventStore
from macrohard.planner import playbook, playbook_evidence
from macrohard.planner.backends import InProcessBackend
from macrohard.planner.handlers import Planner
from macrohard.planner_model.web_planner import SEARCH

SITE = "http://shop.test/profile"
CHANGED = "Save changes"


def page(name: str = "", *, shuffled: bool = False, save: str = "Save") -> PageObservation:
    """The profile form; `shuffled` renders it with other ids and another element order."""
    field = PageElement(id=40 if shuffled else 1, role="textbox", name="Name", value=name)
    other = PageElement(id=41 if shuffled else 2, role="textbox", name="City", value="")
    button = PageElement(id=7 if shuffled else 3, role="button", name=save)
    heading = PageElement(id=2 if shuffled else 9, role="heading", text="Your profile")
    elements = [button, heading, other, field] if shuffled else [field, other, button, heading]
    return PageObservation(url=f"{SITE}?session=xyz", title="Profile", elements=elements)


async def append(store: EventStore, tenant: str, task_id: str, event: Event) -> RecordedEvent:
    env = envelope(event, tenant=tenant, aggregate_id=task_id)
    await store.append([env], expected_version=None)
    recs = await store.read_aggregate(tenant, env.aggregate_type, task_id)
    return next(r for r in recs if r.envelope.id == env.id)


async def run(
    store: EventStore,
    planner: Planner,
    tenant: str,
    task_id: str,
    goal: str,
    pages: list[PageObservation],
) -> list[Event]:
    """Drive a run: page k is what the browser shows after step k (a scripted browser)."""
    submitted = TaskSubmitted(task_id=task_id, goal=goal, start_url=SITE)
    await planner.on_task_event(await append(store, tenant, task_id, submitted))
    for step, shown in enumerate(pages):
        done = ActionExecuted(
            task_id=task_id, step=step, intent_event_id="x", action="any", ok=True
        )
        await append(store, tenant, task_id, done)
        seen = PageObserved(task_id=task_id, step=step, observation=shown)
        await planner.on_page_observed(await append(store, tenant, task_id, seen))
        events = [r.payload for r in await store.read_aggregate(tenant, "task", task_id)]
        if isinstance(events[-1], TaskCompleted):
            return events
    raise AssertionError(f"{task_id} did not complete: {events[-1]}")


def intents(events: list[Event]) -> list[IntentEmitted]:
    return [e for e in events if isinstance(e, IntentEmitted) and e.step > 0]


async def test_a_solved_shape_is_replayed_regrounded_and_never_across_tenants(
    store: EventStore,
) -> None:
    calls: list[str] = []
    backend = InProcessBackend()
    model = backend.next_intent

    async def counted(request):  # type: ignore[no-untyped-def]
        calls.append(request.task_id)
        return await model(request)

    backend.next_intent = counted  # type: ignore[method-assign]
    planner = Planner(store=lambda: store, backend=lambda: backend)

    first = await run(
        store, planner, "acme", "t1", 'Enter "Ada" into the Name field and click Save.',
        [page(), page("Ada"), page("Ada")],
    )  # fmt: skip
    done = first[-1]
    assert isinstance(done, TaskCompleted)
    assert (done.replayed_steps, done.model_steps) == (0, 3)
    assert calls == ["t1"] * 3
    shape, _ = playbook.goal_shape('Enter "Ada" into the Name field and click Save.')
    entry = playbook.playbook_id(SITE, shape)
    learned = [r.payload for r in await store.read_aggregate("acme", "playbook", entry)]
    assert len(learned) == 1 and isinstance(learned[0], RunLearned)

    # Same shape, other values, the page rendered differently: replayed, no model call.
    second = await run(
        store, planner, "acme", "t2", 'Enter "Bob" into the Name field and click Save.',
        [page(shuffled=True), page("Bob", shuffled=True), page("Bob", shuffled=True)],
    )  # fmt: skip
    steps = intents(second)
    assert [(i.intent.action, i.intent.element, i.intent.text) for i in steps] == [
        ("type", 40, "Bob"),
        ("click", 7, None),
        ("done", None, None),
    ]
    assert all(i.replayed for i in steps)
    assert isinstance(second[-1], TaskCompleted)
    assert (second[-1].replayed_steps, second[-1].model_steps) == (3, 0)
    assert calls == ["t1"] * 3  # the model was not asked at all

    # Where the page differs (the button reads "Save changes"), the model takes that step,
    # and the recording is rejoined after it (the final `done`, checked on the page).
    third = await run(
        store, planner, "acme", "t3", 'Enter "Cy" into the Name field and click Save.',
        [page(save=CHANGED), page("Cy", save=CHANGED), page("Cy", save=CHANGED),
         page("Cy", save=CHANGED)],
    )  # fmt: skip
    assert isinstance(third[-1], TaskCompleted)
    assert (third[-1].replayed_steps, third[-1].model_steps) == (2, 1)
    assert [i.replayed for i in intents(third)] == [True, False, True]
    assert calls.count("t3") == third[-1].model_steps

    # Another tenant, same goal shape, same site: its own model run, nothing replayed.
    other = await run(
        store, planner, "globex", "t4", 'Enter "Dee" into the Name field and click Save.',
        [page(), page("Dee"), page("Dee")],
    )  # fmt: skip
    assert isinstance(other[-1], TaskCompleted)
    assert (other[-1].replayed_steps, other[-1].model_steps) == (0, 3)
    assert not any(i.replayed for i in intents(other))


def test_goal_shape_takes_values_out() -> None:
    assert playbook.goal_shape('Enter "Kim" into the Name field and press Submit.') == (
        "enter {} into the {} field and press {}.",
        ["Kim", "Name", "Submit"],
    )
    assert playbook.goal_shape("Select 12/17/2016 as the date.")[1] == ["12/17/2016"]
    a, _ = playbook.goal_shape("Find the email by Celestyn and forward it to Theresita.")
    b, _ = playbook.goal_shape("Find the email by Ana and forward it to Bo.")
    assert a == b


def test_replay_refuses_another_page_and_a_failed_previous_step() -> None:
    learned = RunLearned(
        task_id="t",
        site=SITE,
        shape="click {}.",
        slots=["Save"],
        steps=[
            PlaybookStep(
                intent=Intent(action="click", element=3),
                element_label="button 'Save'",
                page_url=SITE,
            )
        ],
    )
    assert playbook.replay(learned, "Click Save.", 0, page(), None) is not None
    elsewhere = PageObservation(url="http://shop.test/other", title="", elements=page().elements)
    assert playbook.replay(learned, "Click Save.", 0, elsewhere, None) is None
    assert playbook.replay(learned, "Click Save.", 0, page(), False) is None
    assert playbook.replay(learned, "Click Save.", 1, page(), True) is None  # nothing left
    assert playbook.replay(learned, "Click Save now.", 0, page(), True) is None  # other shape
    assert playbook.swap("Ada and Adam", ["Ada", "Adam"], ["Adam", "Eve"]) == "Adam and Eve"


def test_a_drag_or_a_point_is_never_replayed_with_its_old_target() -> None:
    # Only the acted-on element is re-grounded: a drop target, a value display or a point
    # recorded on the old page could be anything on this one.
    for intent in (
        Intent(action="drag", element=3, target_element=4),
        Intent(action="set_value", element=3, target_element=4, text="5"),
        Intent(action="click_at", element=3, x=5, y=5),
    ):
        learned = RunLearned(
            task_id="t", site=SITE, shape="click {}.", slots=["Save"],
            steps=[PlaybookStep(intent=intent, element_label="button 'Save'", page_url=SITE)],
        )  # fmt: skip
        assert playbook.replay(learned, "Click Save.", 0, page(), None) is None, intent


def test_nameless_fields_are_found_again_by_the_text_beside_them() -> None:
    def form(first: int, second: int) -> PageObservation:
        return PageObservation(url=SITE, title="", elements=[
            PageElement(id=first, role="text", text="Username", box=Box(0, 10, 60, 14)),
            PageElement(id=first + 1, role="textbox", value="", box=Box(70, 10, 80, 14)),
            PageElement(id=second, role="text", text="Password", box=Box(0, 40, 60, 14)),
            PageElement(id=second + 1, role="textbox", value="", box=Box(70, 40, 80, 14)),
        ])  # fmt: skip

    recorded = form(1, 3)
    decisions = [
        (Intent(action="type", element=4, text="pw1"), "textbox ''", SITE, True),
        (Intent(action="done"), "", SITE, None),
    ]
    learned = playbook.learn("t", 'Log in with the password "pw1"', SITE, decisions, {1: recorded})
    assert learned is not None
    assert learned.steps[0].element_label == "textbox '' beside 'Password'"
    # The fields come in the other order now: the password field is still the one taken.
    again = playbook.replay(learned, 'Log in with the password "pw2"', 0, form(10, 1), None)
    assert again is not None and (again.element, again.text) == (2, "pw2")


def test_a_value_used_only_in_a_derived_way_stops_replay_where_it_may_matter() -> None:
    learned = RunLearned(
        task_id="t", site=SITE, shape="open the {} result for {}.", slots=["7th", "cats"],
        steps=[
            PlaybookStep(intent=Intent(action="type", element=1, text="cats"),
                         element_label="textbox 'Search'", page_url=SITE),
            PlaybookStep(intent=Intent(action="click", element=9), element_label="link '2'",
                         page_url=SITE),
        ],
    )  # fmt: skip
    page = PageObservation(url=SITE, title="", elements=[
        PageElement(id=1, role="textbox", name="Search", box=Box(0, 0, 9, 9)),
        PageElement(id=9, role="link", name="2", box=Box(0, 20, 9, 9)),
    ])  # fmt: skip
    # "7th" chose page 2 without being written anywhere: with "3rd", page 2 may be wrong.
    first = playbook.replay(learned, 'Open the 3rd result for "dogs".', 0, page, None)
    assert first is not None and first.text == "dogs"
    assert playbook.replay(learned, 'Open the 3rd result for "dogs".', 1, page, True) is None
    # With the same ordinal, the whole run replays.
    assert playbook.replay(learned, 'Open the 7th result for "dogs".', 1, page, True) is not None


def _step(action: str, plan: int, label: str = "", **kw: object) -> PlaybookStep:
    return PlaybookStep(
        intent=Intent(action=action, plan_step=plan, **kw),  # type: ignore[arg-type]
        element_label=label,
        page_url=SITE,
    )


def test_after_the_model_took_a_differing_step_the_recording_is_rejoined() -> None:
    learned = RunLearned(
        task_id="t", site=SITE, shape="enter {} as the date and hit submit.", slots=["1/2/2020"],
        steps=[
            _step("type", 0, "date ''", element=1, text="2020-01-02"),
            _step("click", 1, "button 'Submit'", element=3),
            _step("done", 3),
        ],
    )  # fmt: skip
    model_typed = Intent(action="type", element=1, text="2021-03-04", plan_step=0)
    # All replayed so far: the recording walks on one by one.
    assert playbook.resume_at(learned, []) == (0, False)
    # The model typed the date the recording typed differently: rejoin at the Submit.
    assert playbook.resume_at(learned, [(model_typed, False, None)]) == (1, True)
    replayed_submit = Intent(action="click", element=3, plan_step=1)
    assert playbook.resume_at(
        learned, [(model_typed, False, True), (replayed_submit, True, None)]
    ) == (2, True)
    # The model set the date another way (its calendar): not the recording's; the run
    # stays the model's until its own last action for that goal step is the recording's.
    calendar = Intent(action="click", element=20, plan_step=0)
    assert (
        playbook.resume_at(learned, [(model_typed, False, False), (calendar, False, None)]) is None
    )
    # A model step that served no plan step, or one with nothing recorded after it.
    assert playbook.resume_at(learned, [(Intent(action="click", element=3), False, None)]) is None
    done = Intent(action="done", plan_step=3)
    assert playbook.resume_at(learned, [(done, False, None)]) is None
    # Rejoined after a changed value was used in a derived way: the later steps replay.
    form = PageObservation(url=SITE, title="", elements=page(save="Submit").elements)
    goal = "Enter 3/4/2021 as the date and hit submit."
    again = playbook.replay(learned, goal, 1, form, True, resumed=True)
    assert again is not None and again.element == 3


def test_a_label_that_differs_only_in_its_numbers_is_found_when_it_is_the_only_one() -> None:
    learned = RunLearned(
        task_id="t", site=SITE, shape="expand the section.", slots=[],
        steps=[_step("click", 0, "tab 'Section #40'", element=2)],
    )  # fmt: skip

    def tabs(*names: str) -> PageObservation:
        return PageObservation(url=SITE, title="", elements=[
            PageElement(id=10 + i, role="tab", name=n) for i, n in enumerate(names)
        ])  # fmt: skip

    one = playbook.replay(learned, "Expand the section.", 0, tabs("Section #7", "Submit"), None)
    assert one is not None and one.element == 10
    assert (
        playbook.replay(learned, "Expand the section.", 0, tabs("Section #7", "Section #8"), None)
        is None
    )  # fmt: skip  (which one is not on the page)


def test_text_read_off_the_page_is_not_replayed_onto_another_page() -> None:
    # The goal has no values, so both runs share its shape; what was typed was read off the
    # recorded page (the last word of a text, a sum) and this page may show another.
    learned = RunLearned(
        task_id="t", site=SITE, shape="type the last word of the text and press {}.",
        slots=["Submit"],
        steps=[
            _step("type", 0, "textbox 'Name'", element=1, text="lorem"),
            _step("click", 1, "button 'Save'", element=3),
            _step("done", 2),
        ],
    )  # fmt: skip
    goal = "Type the last word of the text and press Submit."
    assert playbook.replay(learned, goal, 0, page(), None) is None
    # Text the goal itself holds is replayed; so is a secret the actuator fills in.
    quoted = msgspec.structs.replace(
        learned,
        shape="type {} and press {}.",
        slots=["lorem", "Submit"],
    )
    again = playbook.replay(quoted, 'Type "ipsum" and press Submit.', 0, page(), None)
    assert again is not None and again.text == "ipsum"
    secret = msgspec.structs.replace(
        learned, steps=[_step("type", 0, "textbox 'Name'", element=1, text="{{secret:pw}}")]
    )
    assert playbook.replay(secret, goal, 0, page(), None) is not None


def test_keys_that_spell_text_read_off_the_page_are_typed_again_by_the_model() -> None:
    # A command typed key by key into a terminal names a file the old page listed.
    goal = "Use the terminal to delete a file ending with .py"
    shape, slots = playbook.goal_shape(goal)
    learned = RunLearned(
        task_id="t", site=SITE, shape=shape, slots=slots,
        steps=[_step("press", 0, "textbox 'Name'", element=1, keys="r m Space a . p y Enter")],
    )  # fmt: skip
    assert playbook.spelled("r m Space a . p y Enter") == "rm a.py"
    assert playbook.spelled("Control+a Enter") == ""
    assert playbook.replay(learned, goal, 0, page(), None) is None
    said = msgspec.structs.replace(
        learned, steps=[_step("press", 0, "textbox 'Name'", element=1, keys=". p y Enter")]
    )
    assert playbook.replay(said, goal, 0, page(), None) is not None  # the goal's own text


def test_a_goal_step_of_several_actions_is_never_rejoined_on_an_equal_count() -> None:
    # The recording walked its calendar two months back; this date is eight months back.
    # Two clicks of the model's walk are not the date: the run stays the model's.
    learned = RunLearned(
        task_id="t", site=SITE, shape="select {} as the date and hit submit.",
        slots=["10/11/2016"],
        steps=[
            _step("click", 0, "textbox ''", element=3),
            _step("click", 0, "link 'Prev'", element=15),
            _step("click", 0, "link 'Prev'", element=57),
            _step("click", 0, "link '11'", element=119),
            _step("click", 1, "button 'Submit'", element=4),
            _step("done", 2),
        ],
    )  # fmt: skip
    walk = [(Intent(action="click", element=15, plan_step=0), False, True)] * 4
    assert playbook.resume_at(learned, walk) is None


def test_a_field_an_ordinal_chose_among_look_alikes_is_chosen_again() -> None:
    def form(*beside: str) -> PageObservation:
        elements = []
        for n, text in enumerate(beside):
            elements.append(
                PageElement(id=10 * n + 1, role="text", text=text, box=Box(0, 40 * n, 60, 14))
            )
            elements.append(
                PageElement(id=10 * n + 2, role="textbox", value="", box=Box(70, 40 * n, 80, 14))
            )
        return PageObservation(url=SITE, title="", elements=elements)  # fmt: skip

    learned = playbook.learn(
        "t", 'Enter the number "-7" into the 2nd text field.', SITE,
        [(Intent(action="type", element=12, text="-7"), "textbox ''", SITE, True),
         (Intent(action="done"), "", SITE, None)],
        {1: form("Alpha", "Beta", "Gamma")},
    )  # fmt: skip
    assert learned is not None and learned.steps[0].element_label == "textbox '' beside 'Beta'"
    goal = 'Enter the number "16" into the 3rd text field.'
    # "2nd" chose the field and is written nowhere: on a page of three fields, the model
    # chooses (the field beside 'Beta' is found again, but it is not the 3rd).
    assert playbook.replay(learned, goal, 0, form("Alpha", "Beta", "Gamma"), None) is None
    assert learned.steps[0].chosen_by == "page"
    # Recorded as the only field of its kind: no choice was made, and the typed value is
    # replayed into the one field there is, whatever text stands beside it now.
    only = playbook.learn(
        "t", 'Enter the number "-7" into the 2nd text field.', SITE,
        [(Intent(action="type", element=2, text="-7"), "textbox ''", SITE, True),
         (Intent(action="done"), "", SITE, None)],
        {1: form("Alpha")},
    )  # fmt: skip
    assert only is not None and only.steps[0].chosen_by == "only"
    alone = playbook.replay(only, goal, 0, form("Beta"), None)
    assert alone is not None and (alone.element, alone.text) == (2, "16")


async def test_a_run_keeps_to_the_recording_it_started_replaying(store: EventStore) -> None:
    """The drill's false completion: a run replayed step k of whichever recording was the
    latest at each step. A run that needed an extra key press completed meanwhile, the
    indices shifted, and the form was submitted without one of its fields."""
    planner = Planner(store=lambda: store, backend=lambda: InProcessBackend())
    goal = 'Enter "{}" into the Name field and click Save.'
    await run(
        store, planner, "initech", "r1", goal.format("Ada"), [page(), page("Ada"), page("Ada")]
    )
    entry = playbook.playbook_id(SITE, playbook.goal_shape(goal.format("Ada"))[0])
    plain = (await store.read_aggregate("initech", "playbook", entry))[-1].payload
    assert isinstance(plain, RunLearned)
    escape = PlaybookStep(
        intent=Intent(action="press", keys="Escape", reason="dismiss overlays", plan_step=0),
        page_url=SITE,
    )
    # The latest recording when the run starts: an Escape first, then the same steps.
    with_escape = await append(
        store, "initech", entry,
        RunLearned(task_id="r2", site=plain.site, shape=plain.shape, slots=plain.slots,
                   steps=[escape, *plain.steps]),
    )  # fmt: skip

    task = "r3"
    submitted = TaskSubmitted(task_id=task, goal=goal.format("Bob"), start_url=SITE)
    await planner.on_task_event(await append(store, "initech", task, submitted))
    shown = [page(), page(), page("Bob"), page("Bob")]
    for step, observation in enumerate(shown):
        done = ActionExecuted(task_id=task, step=step, intent_event_id="x", action="a", ok=True)
        await append(store, "initech", task, done)
        seen = PageObserved(task_id=task, step=step, observation=observation)
        await planner.on_page_observed(await append(store, "initech", task, seen))
        if step == 1:
            # Another run of the shape completes meanwhile, without the Escape.
            await append(store, "initech", entry, msgspec.structs.replace(plain, task_id="r4"))
    events = [r.payload for r in await store.read_aggregate("initech", "task", task)]
    steps = intents(events)
    assert [i.intent.action for i in steps] == ["press", "type", "click", "done"]
    assert steps[1].intent.text == "Bob"
    assert {i.playbook_seq for i in steps} == {with_escape.sequence}
    assert isinstance(events[-1], TaskCompleted)


def test_a_replayed_done_needs_every_goal_step_of_the_recording() -> None:
    def step(action: str, plan: int | None) -> PlaybookStep:
        return PlaybookStep(intent=Intent(action=action, plan_step=plan))  # type: ignore[arg-type]

    learned = RunLearned(
        task_id="t", site=SITE, shape="s", slots=[],
        steps=[step("type", 0), step("select", 1), step("check", 2), step("click", 3),
               step("done", 4)],
    )  # fmt: skip

    def decided(*plans: tuple[int | None, bool | None]) -> list[tuple[Intent, bool, bool | None]]:
        return [(Intent(action="click", plan_step=p), True, ok) for p, ok in plans]

    assert playbook.every_goal_step_served(
        learned, decided((0, True), (1, True), (2, True), (3, None))
    )
    # The select (plan step 1) never happened, or failed: not done.
    assert not playbook.every_goal_step_served(learned, decided((0, True), (2, True), (3, None)))
    assert not playbook.every_goal_step_served(
        learned, decided((0, True), (1, False), (2, True), (3, None))
    )
    # Steps without a plan step (a press the model added) neither count nor hurt.
    assert playbook.every_goal_step_served(
        learned, decided((None, True), (0, True), (1, True), (2, True), (3, True))
    )


def test_a_value_read_beside_a_field_did_not_choose_it() -> None:
    # The page shows the goal beside its date field: the field's key holds the date, but
    # the date chose nothing there; the calendar's day did, so the date changing stops replay.
    learned = RunLearned(
        task_id="t", site=SITE, shape="select {} as the date and hit submit.",
        slots=["12/24/2016"],
        steps=[
            _step("click", 0, "textbox '' beside 'Select 12/24/2016 as the date'", element=3),
            _step("click", 0, "link '24'", element=49),
            _step("click", 1, "button 'Submit'", element=4),
            _step("done", 3),
        ],
    )  # fmt: skip
    shown = PageObservation(url=SITE, title="", elements=[
        PageElement(id=1, role="text", text="Select 12/09/2016 as the date",
                    box=Box(0, 10, 60, 14)),
        PageElement(id=3, role="textbox", value="", box=Box(70, 10, 80, 14)),
    ])  # fmt: skip
    goal = "Select 12/09/2016 as the date and hit submit."
    assert playbook.replay(learned, goal, 0, shown, None) is None


def test_a_search_the_model_pressed_on_with_is_the_models_again() -> None:
    # "Press Generate until the number is even": the recording pressed once (its page
    # showed an even number); this page may need more, so the model presses and looks.
    press = _step("click", 0, "button 'Generate'", element=3,
                  reason=f"{SEARCH} press button 'Generate'")  # fmt: skip
    learned = RunLearned(
        task_id="t", site=SITE, shape="generate an even number, then press submit.", slots=[],
        steps=[press, _step("click", 1, "button 'Submit'", element=4), _step("done", 3)],
    )  # fmt: skip
    shown = PageObservation(url=SITE, title="", elements=[
        PageElement(id=3, role="button", name="Generate"),
        PageElement(id=4, role="button", name="Submit"),
    ])  # fmt: skip
    goal = "Generate an even number, then press submit."
    assert playbook.replay(learned, goal, 0, shown, None) is None
    # After the model's own press, the model looks again; after its submit, replay goes on.
    assert playbook.resume_at(learned, [(press.intent, False, True)]) is None
    submit = Intent(action="click", element=4, plan_step=1)
    assert playbook.resume_at(learned, [(press.intent, False, True), (submit, False, None)]) == (
        2,
        True,
    )


def test_what_the_page_chose_among_look_alikes_or_by_points_is_the_models() -> None:
    def shown(y: int) -> Box:
        return Box(0, y, 40, 14)

    buttons = PageObservation(url=SITE, title="", elements=[
        PageElement(id=2, role="button", name="Odd", box=shown(0)),
        PageElement(id=3, role="button", name="Even", box=shown(0)),
        PageElement(id=5, role="button", name="Odd", box=shown(20)),
        PageElement(id=6, role="button", name="Even", box=shown(20)),
    ])  # fmt: skip
    goal = "Mark the numbers as odd or even."
    # Which 'Odd' of the two followed from the number beside it: no goal value says.
    odd = RunLearned(
        task_id="t", site=SITE, shape="mark the numbers as odd or even.", slots=[],
        steps=[_step("click", 0, "button 'Odd'", element=5), _step("done", 1)],
    )  # fmt: skip
    assert playbook.replay(odd, goal, 0, buttons, None) is None
    # Look-alikes out of view (each inbox row's icon behind the open message) do not count.
    one_shown = PageObservation(url=SITE, title="", elements=[
        PageElement(id=2, role="button", name="Odd"), PageElement(id=5, role="button", name="Odd"),
        PageElement(id=9, role="button", name="Odd", box=shown(40)),
    ])  # fmt: skip
    again = playbook.replay(odd, goal, 0, one_shown, None)
    assert again is not None and again.element == 2  # the recorded rank (nth 0)
    # A goal step the recording did partly by a drag: its other steps are the model's too,
    # and after the model's own drag, the model looks again before the recording rejoins.
    drag = Intent(action="drag", element=2, target_element=3, plan_step=0)
    sort = RunLearned(
        task_id="t", site=SITE, shape="sort the list.", slots=[],
        steps=[
            _step("click", 0, "button 'Even'", element=3),
            PlaybookStep(intent=drag, element_label="button 'Odd'", page_url=SITE),
            _step("click", 1, "button 'Even'", element=6),
            _step("done", 2),
        ],
    )  # fmt: skip
    assert playbook.replay(sort, "Sort the list.", 0, buttons, None) is None
    assert playbook.resume_at(sort, [(drag, False, True)]) is None


def _figure(shape: str) -> PageObservation:
    """A read-the-page goal's page: a drawn figure and one button per answer."""
    answers = [
        PageElement(id=10 + n, role="button", name=name, box=Box(0, 30 * n, 60, 20))
        for n, name in enumerate(("Circle", "Square", "Letter"))
    ]
    drawn = PageElement(id=5, role="graphics", shape=shape, color="#ff0000", box=Box(0, 0, 9, 9))
    return PageObservation(url=SITE, title="", elements=[drawn, *answers])


FIGURE_GOAL = "Click the button that best describes the figure below."


def test_why_each_step_was_taken_is_recorded_with_it() -> None:
    profile = page()
    login = PageObservation(url=SITE, title="", elements=[
        PageElement(id=1, role="text", text="Verify password", box=Box(0, 10, 60, 14)),
        PageElement(id=2, role="textbox", value="", box=Box(70, 10, 80, 14)),
        PageElement(id=3, role="text", text="Password", box=Box(0, 40, 60, 14)),
        PageElement(id=4, role="textbox", value="", box=Box(70, 40, 80, 14)),
    ])  # fmt: skip
    goal = 'Enter "Ada" into the Name field and press submit twice.'

    def why(observation: PageObservation, element: int, goal: str = goal) -> str:
        _, slots = playbook.goal_shape(goal)
        e = next(e for e in observation.elements if e.id == element)
        return playbook_evidence.chosen_by(goal, slots, observation, e)

    assert why(profile, 1) == "value"  # 'Name' is a value of the goal
    assert why(login, 2, 'Enter the password "pw" into both fields.') == "words"
    assert why(profile, 3) == "only"  # the one button: nothing was chosen
    assert why(_figure("circle"), 10, FIGURE_GOAL) == "page"  # the answer the page showed
    # Look-alikes that differ only in their numbers: the page's numbers chose.
    items = PageObservation(url=SITE, title="", elements=[
        PageElement(id=1, role="link", name="Item 3"),
        PageElement(id=2, role="link", name="Item 7"),
    ])  # fmt: skip
    assert why(items, 2, "Open the item with the largest number.") == "page"


def test_a_page_chosen_answer_is_never_replayed_when_the_page_changed() -> None:
    learned = playbook.learn(
        "t", FIGURE_GOAL, SITE,
        [(Intent(action="click", element=10, plan_step=0), "button 'Circle'", SITE, True),
         (Intent(action="done", plan_step=2), "", SITE, None)],
        {1: _figure("circle"), 2: _figure("circle")},
    )  # fmt: skip
    assert learned is not None and learned.steps[0].chosen_by == "page"
    # Another figure: the model reads the page and answers.
    assert playbook.replay(learned, FIGURE_GOAL, 0, _figure("rect"), None) is None
    # The very same page (ids aside): the same answer holds.
    again = playbook.replay(learned, FIGURE_GOAL, 0, _figure("circle"), None)
    assert again is not None and again.element == 10
    # The model answered in one step: the recording is rejoined after it (its `done`).
    answered = Intent(action="click", element=11, plan_step=0)
    assert playbook.resume_at(learned, [(answered, False, None)]) == (1, True)


def test_acting_when_the_page_had_already_done_a_goal_step_is_the_models_call() -> None:
    # "Buy when the price is below $50": the recording's page showed a low price at once,
    # so it bought without waiting; this page may not, so the model looks first.
    learned = RunLearned(
        task_id="t", site=SITE, shape="buy {} stock when the price is less than {}.",
        slots=["UBN", "$53.10"],
        steps=[_step("click", 1, "button 'Buy'", element=3), _step("done", 3)],
    )  # fmt: skip
    shown = PageObservation(url=SITE, title="", elements=[
        PageElement(id=3, role="button", name="Buy"),
    ])  # fmt: skip
    goal = "Buy HLW stock when the price is less than $47.10."
    assert playbook.replay(learned, goal, 0, shown, None) is None
    waited = Intent(action="wait_for", wait_ms=500, plan_step=0, reason=f"{SEARCH} wait")
    bought = Intent(action="click", element=3, plan_step=1)
    assert playbook.resume_at(learned, [(waited, False, True)]) is None
    assert playbook.resume_at(learned, [(waited, False, True), (bought, False, None)]) == (1, True)


def test_a_model_step_standing_in_for_the_last_of_a_goal_step_rejoins_the_recording() -> None:
    typed = _step("type", 0, "textbox 'Tags:'", element=1, text="Sa")
    picked = _step("click", 0, "listitem 'San Marino'", element=7)
    learned = RunLearned(
        task_id="t", site=SITE, shape="enter an item that starts with {} and ends with {}.",
        slots=["Sa", "ino"],
        steps=[typed, picked, _step("click", 1, "button 'Submit'", element=4), _step("done", 2)],
    )  # fmt: skip
    model_pick = Intent(action="click", element=9, plan_step=0)
    replayed = [(typed.intent, True, True)]
    assert playbook.resume_at(learned, [*replayed, (model_pick, False, None)]) == (2, True)
    # A step before the last of its goal step never stands in (a month walked back: how
    # many more this date needs is open), nor one after the model's own earlier step.
    walk = RunLearned(
        task_id="t", site=SITE, shape="s", slots=[],
        steps=[typed, picked, picked, _step("click", 1, "button 'Submit'", element=4)],
    )  # fmt: skip
    assert playbook.resume_at(walk, [*replayed, (model_pick, False, None)]) is None
    own = [(typed.intent, False, True), (model_pick, False, None)]
    assert playbook.resume_at(learned, own) is None


def test_a_replayed_step_whose_result_differs_hands_over_to_the_model() -> None:
    goal = 'Enter "Ada" into the Name field and click Save.'
    decisions = [
        (Intent(action="type", element=1, text="Ada", plan_step=0), "textbox 'Name'", SITE, True),
        (Intent(action="click", element=3, plan_step=1), "button 'Save'", SITE, True),
        (Intent(action="done", plan_step=2), "", SITE, None),
    ]
    learned = playbook.learn(
        "t", goal, SITE, decisions, {1: page(), 2: page("Ada"), 3: page("Ada")}
    )
    assert learned is not None
    assert learned.steps[0].results == [StepResult(kind="value", value="Ada")]
    _, slots = playbook.goal_shape('Enter "Bob" into the Name field and click Save.')
    typed = Intent(action="type", element=1, text="Bob", plan_step=0)
    # The page after the replayed typing shows the new value: it held.
    assert playbook.results_held(learned, slots, [(typed, True, True)], [1], {2: page("Bob")})
    # It shows nothing typed (a field that ignored the keys): the model takes over.
    assert not playbook.results_held(learned, slots, [(typed, True, True)], [1], {2: page()})
    # A model step's result is the model's business; an unknown page after it says nothing.
    assert playbook.results_held(learned, slots, [(typed, False, True)], [1], {2: page()})
    assert playbook.results_held(learned, slots, [(typed, True, None)], [1], {})


async def test_the_model_takes_over_where_a_replayed_result_differs(store: EventStore) -> None:
    planner = Planner(store=lambda: store, backend=lambda: InProcessBackend())
    goal = 'Enter "{}" into the Name field and click Save.'
    await run(store, planner, "umbrella", "u1", goal.format("Ada"),
              [page(), page("Ada"), page("Ada")])  # fmt: skip
    # The replayed typing left the field empty: every later step is the model's.
    events = await run(store, planner, "umbrella", "u2", goal.format("Bob"),
                       [page(), page(), page("Bob"), page("Bob"), page("Bob")])  # fmt: skip
    steps = intents(events)
    assert [i.replayed for i in steps][:2] == [True, False]
    assert not any(i.replayed for i in steps[1:])
    assert steps[1].intent.action == "type" and steps[1].intent.text == "Bob"


def test_an_exploring_step_of_the_model_neither_rejoins_nor_serves_its_goal_step() -> None:
    # The recording clicked the row's trash icon at once; this run's model first opened the
    # email to look for it. That click did not delete anything: no replayed `done` follows.
    learned = RunLearned(
        task_id="t", site=SITE, shape="find the email by {} and click the trash icon.",
        slots=["Helena"],
        steps=[_step("click", 1, "text 'trash'", element=8), _step("done", 3)],
    )  # fmt: skip
    opened = Intent(action="click", element=4, plan_step=1, reason="explore: open text 'Damara'")
    assert playbook.resume_at(learned, [(opened, False, True)]) is None
    assert not playbook.every_goal_step_served(learned, [(opened, False, True)])
    trashed = Intent(action="click", element=9, plan_step=1, reason="click text 'trash'")
    decided = [(opened, False, True), (trashed, False, None)]
    assert playbook.every_goal_step_served(learned, decided)


async def test_a_run_the_platform_reopened_a_page_for_is_not_learned(store: EventStore) -> None:
    """The platform's recovery navigates to this task's own URL: never a step to replay."""
    planner = Planner(store=lambda: store, backend=lambda: InProcessBackend())
    goal = 'Enter "Ada" into the Name field and click Save.'
    await planner.on_task_event(
        await append(
            store, "acme", "t-rec", TaskSubmitted(task_id="t-rec", goal=goal, start_url=SITE)
        )
    )
    shown: list[PageObservation | str] = [page(), "the page could not be observed: closed"]
    shown += [page("Ada")] * 6
    events: list[Event] = []
    for step, obs in enumerate(shown):
        done = ActionExecuted(
            task_id="t-rec", step=step, intent_event_id="x", action="any", ok=True
        )
        await append(store, "acme", "t-rec", done)
        if isinstance(obs, str):
            seen = PageObserved(
                task_id="t-rec",
                step=step,
                observation=PageObservation(url=SITE, title="", elements=[]),
                error=obs,
            )
        else:
            seen = PageObserved(task_id="t-rec", step=step, observation=obs)
        await planner.on_page_observed(await append(store, "acme", "t-rec", seen))
        events = [r.payload for r in await store.read_aggregate("acme", "task", "t-rec")]
        if isinstance(events[-1], TaskCompleted):
            break
    assert isinstance(events[-1], TaskCompleted)
    assert any(i.intent.reason.startswith("recover: ") for i in intents(events))
    shape, _ = playbook.goal_shape(goal)
    entry = playbook.playbook_id(SITE, shape)
    assert await store.read_aggregate("acme", "playbook", entry) == []
