"""Any text a page can hold is observed without error; a page that cannot be read ends the
task with a reason instead of leaving it running."""

from __future__ import annotations

from urllib.parse import quote

import msgspec

from macrohard.contracts.agent import Intent
from macrohard.planner import domain, recovery
from tests.actuator.conftest import Running
from tests.actuator.site import Site

# 119 ASCII characters then an emoji: clipping at 120 UTF-16 units falls between its halves.
EDGE = "a" * 119 + "\U0001f600 tail"
RTL = "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one grapheme, five code points
TEXT_PAGE = f"""<!doctype html><html><head><title>Emoji \U0001f680 title</title></head><body>
<p id="edge">{EDGE}</p>
<p dir="rtl">{RTL} {FAMILY}</p>
<button aria-label="Send \U0001f4e8">\U0001f4e8</button>
<p>{"long text " * 2000}</p>
<script>
  // Lone surrogates are legal in JavaScript strings and in the DOM.
  const p = document.createElement('p'); p.textContent = 'lone \\uD83D here \\uDE00 too';
  document.body.appendChild(p);
  document.title += ' \\uD83D';
</script></body></html>"""

HOSTILE_PAGE = """<!doctype html><html><head><title>Hostile</title></head><body>
<button>Press</button><span>Some text</span>
<script>window.getComputedStyle = () => { throw new Error('no styles for you'); };</script>
</body></html>"""


async def test_emoji_rtl_lone_surrogates_and_long_text_are_observed(
    running: Running, site: Site
) -> None:
    await running.onboard(["127.0.0.1"])
    await running.submit("t-text", site.url("/probe?html=" + quote(TEXT_PAGE)))
    url = site.url("/probe?html=" + quote(TEXT_PAGE))
    done, seen = await running.step("t-text", 1, Intent(action="navigate", url=url))
    assert done is not None and done.ok, done
    assert not seen.error
    obs = seen.observation
    texts = [e.text or e.name for e in obs.elements]
    # Every string encodes (the event was written at all), and the clipped emoji was
    # dropped whole rather than cut in half.
    msgspec.json.encode(obs)
    assert any(t.startswith("a" * 100) and "\ufffd" not in t for t in texts), texts
    assert any("\u05e9\u05dc\u05d5\u05dd" in t for t in texts)
    assert any(e.name == "Send \U0001f4e8" for e in obs.elements)
    assert any(t.startswith("lone \ufffd here \ufffd") for t in texts), texts
    assert obs.title.startswith("Emoji \U0001f680 title")


async def test_a_page_that_cannot_be_observed_ends_the_task_with_its_reason(
    running: Running, site: Site
) -> None:
    await running.onboard(["127.0.0.1"])
    url = site.url("/probe?html=" + quote(HOSTILE_PAGE))
    await running.submit("t-hostile", url)
    done, seen = await running.step("t-hostile", 1, Intent(action="navigate", url=url))
    assert done is not None and done.ok
    assert "could not be observed" in seen.error and "no styles for you" in seen.error
    assert seen.observation.elements == []
    # The planner's decision on that observation: the page is opened again (a GET) a few
    # times; a page that never answers then ends the run, with the actuator's reason.
    navigate = domain.PastIntent(step=1, intent=Intent(action="navigate", url=url))
    state = domain.TaskState(task_id="t-hostile", status="running", intents=(navigate,))
    again = recovery.unseen_page(
        state, 2, seen.error, url, backend="offline", previous_ok=True, previous_error=""
    )
    assert [type(e).__name__ for e in again] == ["IntentEmitted"]
    assert again[0].intent.action == "navigate" and again[0].intent.url == url  # type: ignore[attr-defined]
    reopened = tuple(
        domain.PastIntent(
            step=s, intent=Intent(action="navigate", url=url, reason=recovery.RECOVER)
        )
        for s in range(2, 2 + recovery.MAX_RECOVERIES)
    )
    exhausted = domain.TaskState(
        task_id="t-hostile", status="running", intents=(navigate, *reopened)
    )
    verdict = recovery.unseen_page(
        exhausted, 9, seen.error, url, backend="offline", previous_ok=True, previous_error=""
    )
    assert [type(e).__name__ for e in verdict] == ["TaskFailed"]
    assert "no styles for you" in verdict[0].reason  # type: ignore[attr-defined]
