"""Gestures in a real Chromium, through the actuator: the page's own scripts record what
they received (a context menu, a held button, a chord, a drop, a selection, a value)."""

from __future__ import annotations

from urllib.parse import quote

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement, PageObserved
from tests.actuator.conftest import Running, element
from tests.actuator.gesture_page import GESTURES
from tests.actuator.site import Site


def logged(obs: PageObserved) -> list[str]:
    """What the page's scripts recorded, in order."""
    return [e.text for e in obs.observation.elements if e.tag == "samp"]


def by_id(obs: PageObserved, element_id: int) -> PageElement:
    return next(e for e in obs.observation.elements if e.id == element_id)


async def open_page(running: Running, site: Site, task: str) -> PageObserved:
    await running.onboard(["127.0.0.1"])
    url = site.url("/probe?html=" + quote(GESTURES))
    await running.submit(task, url)
    done, first = await running.step(task, 1, Intent(action="navigate", url=url))
    assert done is not None and done.ok, done
    assert not first.error and first.observation.elements, first
    return first


async def test_right_click_hold_chords_and_points(running: Running, site: Site) -> None:
    first = await open_page(running, site, "t-gest")
    steps = [
        Intent(action="right_click", element=element(first, "Right here")),
        Intent(action="hold", element=element(first, "Hold me"), hold_ms=800),
        Intent(action="hold", element=element(first, "Hold me"), hold_ms=50),
        Intent(action="press", element=element(first, "Keys"), keys="Control+c Shift+ArrowDown"),
        Intent(action="click_at", element=element(first, "", "img"), x=150, y=20),
    ]
    for n, intent in enumerate(steps, start=2):
        done, obs = await running.step("t-gest", n, intent)
        assert done is not None and done.ok, (intent, done)
    assert logged(obs) == [
        "contextmenu ctx",
        "held long",
        "held short",
        "chord Control+c",
        "chord Shift+ArrowDown",
        "canvas 150,20",
    ], logged(obs)
    # The same point of the viewport, without an element.
    canvas = by_id(obs, element(first, "", "img"))
    assert canvas.box is not None and canvas.shape == "canvas"
    at = Intent(action="click_at", x=canvas.box.x + 10, y=canvas.box.y + 90)
    done, obs = await running.step("t-gest", 7, at)
    assert done is not None and done.ok, done
    assert logged(obs)[-1] == "canvas 10,90", logged(obs)
    # A point outside the element's box is refused before anything happens.
    outside = Intent(action="click_at", element=canvas.id, x=500, y=20)
    done, obs = await running.step("t-gest", 8, outside)
    assert done is not None and not done.ok and "outside the element" in done.error
    assert sum(line.startswith("canvas") for line in logged(obs)) == 2


async def test_drag_html5_sortable_and_to_a_point(running: Running, site: Site) -> None:
    first = await open_page(running, site, "t-drag")
    drop = Intent(
        action="drag", element=element(first, "Pear"), target_element=element(first, "Basket")
    )
    done, obs = await running.step("t-drag", 2, drop)
    assert done is not None and done.ok, done
    assert "dropped pear" in logged(obs), logged(obs)
    # Three before One: a mouse-event sortable follows the intermediate moves.
    one, three = element(first, "One"), element(first, "Three")
    done, obs = await running.step(
        "t-drag", 3, Intent(action="drag", element=one, target_element=three, x=5, y=2)
    )
    assert done is not None and done.ok, done
    assert "order 132" in logged(obs), logged(obs)
    # The observation lists the items in their new order, though their ids are older.
    items = [e.text or e.name for e in obs.observation.elements if e.tag == "li"]
    assert items == ["One", "Three", "Two"], items
    box = Intent(action="drag", element=element(first, "Free box"), x=900, y=300)
    done, obs = await running.step("t-drag", 4, box)
    assert done is not None and done.ok, done
    assert "box at 900,300" in logged(obs), logged(obs)


async def test_select_text_in_prose_and_in_a_field(running: Running, site: Site) -> None:
    first = await open_page(running, site, "t-sel")
    prose = next(e.id for e in first.observation.elements if e.text.startswith("The quick"))
    done, obs = await running.step(
        "t-sel", 2, Intent(action="select_text", element=prose, text="brown fox jumps")
    )
    assert done is not None and done.ok, done
    assert "selected brown fox jumps" in logged(obs), logged(obs)
    assert obs.observation.selection == "brown fox jumps"
    notes = element(first, "Notes")
    done, obs = await running.step(
        "t-sel", 3, Intent(action="select_text", element=notes, text="beta")
    )
    assert done is not None and done.ok, done
    assert "field selected beta" in logged(obs), logged(obs)
    assert obs.observation.selection == "beta"
    # No text: all of the element's text.
    done, obs = await running.step("t-sel", 4, Intent(action="select_text", element=prose))
    assert done is not None and done.ok, done
    assert obs.observation.selection == "The quick brown fox jumps over the lazy dog."
    done, _ = await running.step(
        "t-sel", 5, Intent(action="select_text", element=notes, text="zeta")
    )
    assert done is not None and not done.ok and "not in the element" in done.error


async def test_set_value_on_range_number_and_a_valueless_slider(
    running: Running, site: Site
) -> None:
    first = await open_page(running, site, "t-val")
    level = by_id(first, element(first, "Level", "slider"))
    assert (level.role, level.value_min, level.value_max, level.value_step) == (
        "slider", -10, 40, 2,
    )  # fmt: skip
    done, obs = await running.step(
        "t-val", 2, Intent(action="set_value", element=level.id, text="24")
    )
    assert done is not None and done.ok, done
    assert by_id(obs, level.id).value == "24"
    assert "level 24" in logged(obs), logged(obs)
    # 25 is not on the slider's steps: said so, not silently set to 24 or 26.
    done, _ = await running.step(
        "t-val", 3, Intent(action="set_value", element=level.id, text="25")
    )
    assert done is not None and not done.ok and "past 25" in done.error, done
    qty = element(first, "Quantity", "spinbutton")
    done, obs = await running.step("t-val", 4, Intent(action="set_value", element=qty, text="7"))
    assert done is not None and done.ok, done
    assert by_id(obs, qty).value == "7"
    knob, shown = element(first, "Knob"), element(first, "5")
    step = Intent(action="set_value", element=knob, target_element=shown, text="8")
    done, obs = await running.step("t-val", 5, step)
    assert done is not None and done.ok, done
    assert by_id(obs, shown).text == "8"
    done, _ = await running.step("t-val", 6, Intent(action="set_value", element=knob, text="3"))
    assert done is not None and not done.ok and "target_element" in done.error


async def test_shapes_colours_and_editor_styles_are_observed(running: Running, site: Site) -> None:
    first = await open_page(running, site, "t-obs")
    shapes = {(e.shape, e.color) for e in first.observation.elements if e.shape}
    assert {("circle", "#ff0000"), ("rect", "#0000ff"), ("box", "#008000")} <= shapes, shapes
    assert ("canvas", "") in shapes
    # A framed empty cell, and what an image shown through CSS is named after.
    boxes = [(e.name, e.color) for e in first.observation.elements if e.shape == "box"]
    assert ("", "") in boxes and ("cross mark", "") in boxes, boxes
    assert any(e.text == "Label" for e in first.observation.elements)
    styled = {e.text: e.styles for e in first.observation.elements if e.styles}
    assert styled == {"heavy": ["bold"], "slanted": ["italic"], "red": ["color:#ff0000"]}, styled
    assert first.observation.selection == ""


# Four crimson dots cross the drawing one after another (each in 1.5 s, from outside its
# left edge), and a green one of the same class: a press on a dot is logged by the dot.
CROSSING = """<!doctype html><html><body>
<svg id="sky" width="220" height="150" style="border: 1px solid #999"></svg>
<div id="log"></div>
<script>
  const log = s => { const e = document.createElement('samp'); e.textContent = s;
    document.getElementById('log').appendChild(e); };
  const sky = document.getElementById('sky'), t0 = performance.now();
  const dots = [0, 1, 2, 3, 4].map(i => {
    const c = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
    c.setAttribute('r', 12); c.setAttribute('cx', -30); c.setAttribute('cy', 20 + i * 27);
    c.setAttribute('class', 'dot'); c.setAttribute('fill', i === 2 ? 'green' : 'crimson');
    c.style.cursor = 'pointer';
    c.addEventListener('click', () => { log((i === 2 ? 'green ' : 'hit ') + i); c.remove(); });
    sky.appendChild(c);
    return {c, start: 200 + i * 300};
  });
  const move = now => {
    for (const d of dots) {
      const k = (now - t0 - d.start) / 1500;
      if (k > 1) d.c.remove(); else if (k >= 0) d.c.setAttribute('cx', -30 + k * 280);
    }
    if (dots.some(d => d.c.isConnected)) requestAnimationFrame(move);
  };
  requestAnimationFrame(move);
</script></body></html>"""


async def test_a_repeated_click_at_presses_every_alike_target_as_it_crosses(
    running: Running, site: Site
) -> None:
    await running.onboard(["127.0.0.1"])
    url = site.url("/probe?html=" + quote(CROSSING))
    await running.submit("t-chase", url)
    done, first = await running.step("t-chase", 1, Intent(action="navigate", url=url))
    assert done is not None and done.ok, done
    crimson = next(e for e in first.observation.elements if e.color == "#dc143c")
    chase = Intent(action="click_at", element=crimson.id, x=1, y=1, repeat_ms=3500)
    done, obs = await running.step("t-chase", 2, chase)
    assert done is not None and done.ok, done
    # Every crimson dot, each once, as it came into the drawing; never the green one.
    assert sorted(logged(obs)) == ["hit 0", "hit 1", "hit 3", "hit 4"], logged(obs)
