"""The actuator end to end: intents appended to a real NATS log, a real Chromium, a real site."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import ActionExecuted, PageObserved, SessionClosed, SessionOpened
from macrohard.contracts.envelope import derived_event_id
from macrohard.contracts.tasks import TaskCancelled
from tests.actuator.conftest import TENANT, Running, element
from tests.actuator.site import Site


async def test_intents_produce_actions_observations_and_screenshots(
    running: Running, site: Site
) -> None:
    await running.onboard(["127.0.0.1"])
    await running.submit("t-form", site.url("/form"))
    done, first = await running.step("t-form", 1, Intent(action="navigate", url=site.url("/form")))
    assert done is not None and done.ok, done
    obs = first.observation
    assert obs.title == "Order form" and obs.url == site.url("/form")
    name_id = element(first, "Name", "textbox")
    assert "Hidden words" not in [e.text for e in obs.elements]
    colour = next(e for e in obs.elements if e.name == "Colour")
    assert colour.role == "combobox" and colour.options == ["Red", "Green", "Blue"]
    pw = next(e for e in obs.elements if e.name == "Password")

    steps = [
        Intent(action="type", element=name_id, text="Ada Lovelace"),
        Intent(action="select", element=colour.id, values=["Green"]),
        Intent(action="check", element=element(first, "Subscribe", "checkbox")),
        Intent(action="press", element=name_id, keys="End Shift+ArrowLeft"),
        Intent(action="hover", element=element(first, "Submit")),
        Intent(action="click", element=element(first, "Submit")),
    ]
    last = first
    for n, intent in enumerate(steps, start=2):
        done, last = await running.step("t-form", n, intent)
        assert done is not None and done.ok, (intent, done)
    out = last.observation
    assert any(
        e.text == "Submitted: name=Ada Lovelace, colour=Green, subscribed=true, pwlen=0"
        for e in out.elements
    ), out.elements
    # Ids are stable within the page: the name field keeps its id and now shows its value.
    assert element(last, "Name", "textbox") == name_id
    assert next(e for e in out.elements if e.id == name_id).value == "Ada Lovelace"
    assert next(e for e in out.elements if e.name == "Subscribe").checked is True
    assert next(e for e in out.elements if e.id == pw.id).value == ""

    # Each observation's screenshot is in the content-addressed store under its hash.
    digest = out.screenshot_sha256
    assert digest is not None
    assert hashlib.sha256(running.screenshots.get(digest)).hexdigest() == digest

    # Link to another document: new ids, wait_for and back.
    done, nxt = await running.step(
        "t-form", 8, Intent(action="click", element=element(last, "Next page"))
    )
    assert done is not None and done.ok and nxt.observation.title == "Next"
    done, _ = await running.step("t-form", 9, Intent(action="wait_for", text="You made it."))
    assert done is not None and done.ok
    done, back = await running.step("t-form", 10, Intent(action="back"))
    assert done is not None and done.ok and back.observation.title == "Order form"
    done, _ = await running.step("t-form", 11, Intent(action="done", text="ordered"))
    assert done is not None and done.ok

    events = await running.store.read_aggregate(TENANT, "browser", "t-form")
    kinds = [type(r.payload).__name__ for r in events]
    assert kinds[0] == "SessionOpened" and kinds[-1] == "SessionClosed"
    assert kinds.count("ActionExecuted") == 11 and kinds.count("PageObserved") == 11
    assert running.actuator.pool.get("t-form") is None  # the context was closed on done


async def test_redelivered_intent_is_not_done_twice(running: Running, site: Site) -> None:
    await running.onboard(["127.0.0.1"])
    await running.submit("t-redeliver", site.url("/form"))
    _, first = await running.step(
        "t-redeliver", 1, Intent(action="navigate", url=site.url("/form"))
    )
    intent_id = await running.intend(
        "t-redeliver", 2, Intent(action="click", element=element(first, "Count"))
    )
    await running.result("t-redeliver", intent_id)
    # Deliver the same IntentEmitted again, as JetStream would after a lost ack.
    head = await running.store.stream_head()
    rec = next(
        r
        for r in [await running.store.read_sequence(s) for s in range(head, 0, -1)]
        if r.id == intent_id
    )
    await running.actuator.handle(rec)
    await running.actuator.handle(rec)
    events = await running.store.read_aggregate(TENANT, "browser", "t-redeliver")
    executed = [r for r in events if isinstance(r.payload, ActionExecuted)]
    assert [r.payload.intent_event_id for r in executed].count(intent_id) == 1
    assert executed[-1].id == derived_event_id(intent_id, "ActionExecuted")
    _, obs = await running.step("t-redeliver", 3, Intent(action="wait_for", text="Clicks: 1"))
    assert any(e.text == "Clicks: 1" for e in obs.observation.elements), obs.observation.elements


async def test_stale_element_is_found_again_and_failures_report_the_page(
    running: Running, site: Site
) -> None:
    await running.onboard(["127.0.0.1"])
    await running.submit("t-stale", site.url("/form"))
    _, first = await running.step("t-stale", 1, Intent(action="navigate", url=site.url("/form")))
    rerender = element(first, "Rerender")
    done, _ = await running.step("t-stale", 2, Intent(action="click", element=rerender))
    assert done is not None and done.ok
    # The node behind `rerender` was replaced: found again by role and name, clicked.
    done, after = await running.step("t-stale", 3, Intent(action="click", element=rerender))
    assert done is not None and done.ok, done
    assert after.observation.title == "Rerendered"

    done, seen = await running.step("t-stale", 4, Intent(action="click", element=9999))
    assert done is not None and not done.ok and "element 9999" in done.error
    assert seen.observation.title == "Rerendered" and seen.observation.elements

    done, _ = await running.step("t-stale", 5, Intent(action="press", keys="Control+Bogus"))
    assert done is not None and not done.ok and done.blocked and "Bogus" in done.error


async def test_secrets_are_typed_but_never_reach_the_log(running: Running, site: Site) -> None:
    plaintext = "hunter2-Sup3r-s3cret"
    await running.onboard(["127.0.0.1"])
    await running.submit("t-secret", site.url("/form"), secrets={"password": plaintext})
    _, first = await running.step("t-secret", 1, Intent(action="navigate", url=site.url("/form")))
    placeholder = "{{secret:password}}"
    done, _ = await running.step(
        "t-secret", 2, Intent(action="type", element=element(first, "Password"), text=placeholder)
    )
    assert done is not None and done.ok
    # Typed into a visible text field too, and echoed into the page by the form: the
    # observation must still not carry it.
    done, _ = await running.step(
        "t-secret", 3, Intent(action="type", element=element(first, "Name"), text=placeholder)
    )
    assert done is not None and done.ok
    _, last = await running.step(
        "t-secret", 4, Intent(action="click", element=element(first, "Submit"))
    )
    out = [e.text for e in last.observation.elements if e.text.startswith("Submitted")]
    assert out == [
        f"Submitted: name=[secret], colour=Red, subscribed=false, pwlen={len(plaintext)}"
    ]
    done, _ = await running.step(
        "t-secret", 5, Intent(action="type", element=element(first, "Name"), text="{{secret:nope}}")
    )
    assert done is not None and not done.ok and "nope" in done.error

    head = await running.store.stream_head()
    for seq in range(1, head + 1):
        rec = await running.store.read_sequence(seq)
        assert plaintext not in running.store.registry.encode(rec.envelope).decode()


async def test_done_and_fail_close_the_session(running: Running, site: Site) -> None:
    await running.onboard(["127.0.0.1"])
    await running.submit("t-fail", site.url("/next"))
    # The first intent is not a navigation: the session opens on the task's start page.
    done, obs = await running.step("t-fail", 1, Intent(action="fail", reason="cannot"))
    assert done is not None and done.ok and obs.observation.title == "Next"
    events = await running.store.read_aggregate(TENANT, "browser", "t-fail")
    assert isinstance(events[0].payload, SessionOpened)
    assert isinstance(events[-1].payload, SessionClosed)
    assert any(isinstance(r.payload, PageObserved) for r in events)


async def test_a_finished_task_closes_its_browser_context(running: Running, site: Site) -> None:
    await running.onboard(["127.0.0.1"])
    await running.submit("t-end", site.url("/form"))
    await running.step("t-end", 1, Intent(action="navigate", url=site.url("/next")))
    assert running.actuator.pool.get("t-end") is not None
    ended = envelope(TaskCancelled(task_id="t-end", steps=1), tenant=TENANT, aggregate_id="t-end")
    await running.store.append([ended], expected_version=None)
    for _ in range(100):
        events = await running.store.read_aggregate(TENANT, "browser", "t-end")
        if isinstance(events[-1].payload, SessionClosed):
            break
        await asyncio.sleep(0.05)
    assert isinstance(events[-1].payload, SessionClosed)
    assert events[-1].payload.reason == "TaskCancelled"
    assert running.actuator.pool.get("t-end") is None


async def test_upload_drag_and_scroll(running: Running, site: Site, tmp_path: Path) -> None:
    uploads = tmp_path / "uploads" / TENANT
    uploads.mkdir(parents=True)
    (uploads / "invoice.txt").write_text("12345")
    await running.onboard(["127.0.0.1"])
    await running.submit("t-widgets", site.url("/widgets"))
    _, first = await running.step(
        "t-widgets", 1, Intent(action="navigate", url=site.url("/widgets"))
    )
    attach = element(first, "Attachment", "button")
    done, obs = await running.step(
        "t-widgets", 2, Intent(action="upload", element=attach, values=["invoice.txt"])
    )
    assert done is not None and done.ok, done
    assert any(e.text == "File: invoice.txt 5" for e in obs.observation.elements)
    done, _ = await running.step(
        "t-widgets", 3, Intent(action="upload", element=attach, values=["missing.txt"])
    )
    assert done is not None and not done.ok and "missing.txt" in done.error

    drag = Intent(
        action="drag", element=element(first, "Drag me"), target_element=element(first, "Drop here")
    )
    done, obs = await running.step("t-widgets", 4, drag)
    assert done is not None and done.ok, done
    assert any(e.text == "Dropped" for e in obs.observation.elements)

    bottom = next(e for e in first.observation.elements if e.name == "Bottom")
    assert bottom.box is not None and bottom.box.y > 800  # below the fold at first
    done, obs = await running.step("t-widgets", 5, Intent(action="scroll", dy=2000))
    assert done is not None and done.ok
    moved = next(e for e in obs.observation.elements if e.id == bottom.id)
    assert moved.box is not None and moved.box.y < bottom.box.y


READ_ONLY_PAGE = """<!doctype html><title>Dates</title>
<label>Date <input id="when" readonly></label>
<div contenteditable="true" aria-label="Notes" role="textbox"></div>"""


async def test_typing_into_a_read_only_field_fails_and_an_editor_takes_keys(
    running: Running, site: Site
) -> None:
    """A read-only field (one a calendar widget sets) is reported as refusing typing, so
    the planner sets it another way; a custom editor is typed into key by key."""
    from urllib.parse import quote

    url = site.url("/probe?html=" + quote(READ_ONLY_PAGE))
    await running.onboard(["127.0.0.1"])
    await running.submit("t-readonly", url)
    _, first = await running.step("t-readonly", 1, Intent(action="navigate", url=url))
    field = element(first, "Date", "textbox")
    done, seen = await running.step(
        "t-readonly", 2, Intent(action="type", element=field, text="10/11/2016")
    )
    assert done is not None and not done.ok and "read-only" in done.error, done
    assert next(e for e in seen.observation.elements if e.id == field).value == ""
    notes = element(first, "Notes", "textbox")
    done, seen = await running.step(
        "t-readonly", 3, Intent(action="type", element=notes, text="call back")
    )
    assert done is not None and done.ok, done
    assert any(e.text == "call back" for e in seen.observation.elements if e.id == notes)
