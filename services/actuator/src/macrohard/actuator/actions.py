"""Carrying out one intent in a task's page, with the real-time layer around each action.

Elements are found by the id the observer stamped; when that node went stale (re-rendered,
replaced), the element is found again by the role and name it had in the last observation
before the action is reported as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import FilePayload, Frame, Locator
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from macrohard.actuator import gestures
from macrohard.actuator.browser import TaskBrowser
from macrohard.actuator.domain import (
    parse_keys,
    pointer_action_begun,
    pointer_action_done,
    scrub,
    well_formed,
)
from macrohard.actuator.observer import ID_ATTRIBUTE
from macrohard.actuator.proxy import REFUSED_HEADER
from macrohard.contracts.agent import Intent

# ARIA roles Playwright's get_by_role understands; the observer's "text"/"label" are ours.
ARIA_ROLES = frozenset(
    {
        "button", "link", "checkbox", "radio", "textbox", "combobox", "listbox", "option",
        "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "switch", "slider", "searchbox",
        "spinbutton", "treeitem", "heading", "img", "listitem", "cell", "columnheader", "dialog",
    }
)  # fmt: skip


SCROLL_PAGE = "([dx, dy]) => window.scrollBy({left: dx, top: dy, behavior: 'instant'})"
# Resolves once the element's position has not changed for 3 frames (or after `cap` ms).
WAIT_STILL = """(el, cap) => new Promise(resolve => {
  const t0 = performance.now(); let last = null; let same = 0;
  const tick = () => {
    const r = el.getBoundingClientRect(); const now = r.top + ',' + r.left;
    same = now === last ? same + 1 : 0; last = now;
    if (same >= 3 || performance.now() - t0 > cap) resolve(); else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""


class ActionFailed(Exception):
    """The action could not be done on this page (reported with what the page showed)."""


class ActionRefused(ActionFailed):
    """Policy said no (allowlist, SSRF, arguments): nothing was done to the page."""


class OutcomeUnknown(ActionFailed):
    """The action may or may not have reached the page: it must not be done again blindly."""


@dataclass(frozen=True, slots=True)
class ActionSettings:
    timeout_ms: float = 5000
    upload_dir: Path | None = None
    # How much longer a click that was done waits for the page it opened (see click_once):
    # inside the actuator's step deadline, with room left to observe that page.
    arrival_ms: float = 5000


async def locate(tb: TaskBrowser, element: int) -> Locator:
    """The element by its stamped id, else by the role and name it was last observed with."""
    page = tb.page
    by_id = page.locator(f'[{ID_ATTRIBUTE}="{element}"]')
    if await by_id.count() == 1:
        return by_id
    seen = tb.last_elements.get(element)
    if seen is not None:
        candidates: list[Locator] = []
        if seen.role in ARIA_ROLES and seen.name:
            candidates.append(page.get_by_role(seen.role, name=seen.name, exact=True))  # type: ignore[arg-type]
        if seen.text or seen.name:
            candidates.append(page.get_by_text(seen.text or seen.name, exact=True))
        for candidate in candidates:
            if await candidate.count() >= 1:
                return candidate.first
    raise ActionFailed(f"element {element} is not on the page any more (stale, not re-found)")


async def perform(
    tb: TaskBrowser,
    intent: Intent,
    text: str | None,
    settings: ActionSettings,
    uploads: Sequence[FilePayload] = (),
) -> None:
    """Do the intent in the task's current page. `text` has its secrets filled in already;
    `uploads` are the task's own files an upload names (see files.py)."""
    page = tb.page
    timeout = settings.timeout_ms
    action = intent.action
    if action == "navigate":
        assert intent.url is not None
        verdict = await tb.guard.verdict(intent.url)
        if not verdict.allowed:
            raise ActionRefused(f"blocked: {verdict.reason}")
        await _goto(tb, intent.url, timeout)
    elif action == "back":
        await page.go_back(wait_until="domcontentloaded", timeout=timeout)
    elif action in ("done", "fail", "extract"):  # extract reads the page after: handlers.py
        return
    elif action == "press":
        chords = parse_keys(intent.keys or "")
        target = await locate(tb, intent.element) if intent.element is not None else None
        for chord in chords:
            if target is not None:
                await target.press(chord, timeout=timeout)
            else:
                await page.keyboard.press(chord)
    elif action == "scroll":
        if intent.element is None:
            # The page itself: instant, so the observation sees where it ended up.
            await page.evaluate(SCROLL_PAGE, [intent.dx, intent.dy])
        else:
            el = await locate(tb, intent.element)
            await el.scroll_into_view_if_needed(timeout=timeout)
            if intent.dx or intent.dy:
                # Wheel over the element scrolls whatever container it sits in; wheel
                # scrolling is asynchronous, so wait until the element stops moving.
                await el.hover(timeout=timeout)
                await page.mouse.wheel(intent.dx, intent.dy)
                await el.evaluate(WAIT_STILL, 1000)
    elif action in gestures.GESTURES:
        await gestures.perform_gesture(page, intent, lambda i: locate(tb, i), timeout)
    elif action == "wait_for":
        if intent.element is not None:
            await (await locate(tb, intent.element)).wait_for(state="visible", timeout=timeout)
        elif intent.text:
            await page.get_by_text(intent.text).first.wait_for(state="visible", timeout=timeout)
        elif intent.wait_ms:
            await page.wait_for_timeout(intent.wait_ms)  # validate_intent caps it
    else:
        assert intent.element is not None
        el = await locate(tb, intent.element)
        await _on_element(tb, el, intent, text, settings, uploads)


async def _on_element(
    tb: TaskBrowser,
    el: Locator,
    intent: Intent,
    text: str | None,
    settings: ActionSettings,
    uploads: Sequence[FilePayload],
) -> None:
    timeout = settings.timeout_ms
    action = intent.action
    if action == "click":
        await click_once(tb, el, timeout, settings.arrival_ms)
    elif action == "hover":
        await gestures.hover(tb.page, el, intent, timeout)
    elif action == "clear":
        await el.fill("", timeout=timeout)
    elif action == "type":
        await _type(el, text or "", timeout)
    elif action == "select":
        await _select(el, intent.values or [intent.text or ""], timeout)
    elif action in ("check", "uncheck"):
        want = action == "check"
        try:
            await el.set_checked(want, timeout=timeout)
        except Exception:
            # Custom widgets (a div with role=checkbox) may not flip the way Playwright
            # checks for: a click is what a person would do.
            await el.click(timeout=timeout)
    elif action == "upload" and uploads:
        await el.set_input_files(list(uploads), timeout=timeout)
    elif action == "upload":
        if settings.upload_dir is None:
            raise ActionRefused("blocked: no upload folder is configured for this actuator")
        folder = settings.upload_dir / tb.tenant
        files = [folder / name for name in intent.values]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ActionFailed(f"upload files not found: {', '.join(missing)}")
        # The files' bytes, not their paths: Chromium runs as the browser user, which may
        # not (and should not) read the actuator's folders.
        payloads: list[FilePayload] = [
            {"name": f.name, "mimeType": _mime_type(f), "buffer": f.read_bytes()} for f in files
        ]
        await el.set_input_files(payloads, timeout=timeout)
    else:
        raise ActionRefused(f"blocked: unknown action {action!r}")


async def click_once(tb: TaskBrowser, el: Locator, timeout: float, arrival_ms: float) -> None:
    """Click the element; a click that reached the page is done, however slow its page.

    Playwright's click waits, inside the same timeout, for a navigation the click started
    (a form's POST) to commit. On a slow server that wait runs out after the click was done:
    reporting a failure then had the planner decide on the page that came meanwhile (the
    button gone, it gave up). A timeout after the click itself is therefore a success, and
    the click waits up to `arrival_ms` more for that page, so the next observation is of it
    and not of the page left behind (a planner shown the old form might submit it again).
    A timeout while its mouse events were being sent is a click done if a new page came,
    else one of unknown outcome (`OutcomeUnknown`: never done again blindly).
    """
    page = tb.page
    arrived = asyncio.Event()

    def navigated(frame: Frame) -> None:
        if frame == page.main_frame:
            arrived.set()

    page.on("framenavigated", navigated)
    try:
        try:
            await el.click(timeout=timeout)
        except PlaywrightTimeoutError as exc:
            done, begun = pointer_action_done(str(exc)), pointer_action_begun(str(exc))
            if not done and not begun:
                raise  # it timed out before clicking (hidden, disabled, covered)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), arrival_ms / 1000)
            if not done and not arrived.is_set():
                # Cut while its mouse events were being sent, and no page came after.
                raise OutcomeUnknown(
                    "the click timed out while it was being done, and no new page came: "
                    "whether it reached the page is unknown"
                ) from exc
    finally:
        page.remove_listener("framenavigated", navigated)


def _mime_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


async def _goto(tb: TaskBrowser, url: str, timeout: float) -> None:
    refused_before = len(tb.guard.refused)

    def refusal() -> ActionRefused | None:
        # The route or the egress proxy refused a request of this navigation (or a hop of
        # its redirect chain): report the reason, not the browser's generic error page.
        # The latest refusal is the navigation's; earlier ones may be background requests.
        new = tb.guard.refused[refused_before:]
        return ActionRefused(f"blocked: {new[-1][1]} ({new[-1][0][:200]})") if new else None

    try:
        response = await tb.page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    except Exception as exc:
        refused = refusal()
        if refused is not None:
            raise refused from exc
        if "ERR_BLOCKED_BY_CLIENT" in str(exc):
            raise ActionRefused(f"blocked: {url} (a request or redirect was refused)") from exc
        raise
    reason = response.headers.get(REFUSED_HEADER.lower()) if response is not None else None
    if response is not None and reason:
        # The proxy answered this navigation (its last redirect hop) itself: its reason.
        raise ActionRefused(f"blocked: {reason} ({response.url[:200]})")


# A form field that takes no typing by design (a read-only input a calendar widget sets).
READ_ONLY_FIELD = """e => (e instanceof HTMLInputElement || e instanceof HTMLTextAreaElement)
  && e.readOnly"""


async def _type(el: Locator, text: str, timeout: float) -> None:
    # Reported as a failure, not typed key by key into the void: the planner then sets the
    # value another way (the field's calendar), as it would on seeing the field stay empty.
    if await el.evaluate(READ_ONLY_FIELD):
        raise ActionFailed("the field is read-only: it takes no typing")
    try:
        await el.fill(text, timeout=timeout)
    except Exception as exc:
        if "not an <input>" not in str(exc) and "not editable" not in str(exc):
            raise
        if await el.evaluate(READ_ONLY_FIELD):  # it became read-only while we waited
            raise ActionFailed("the field is read-only: it takes no typing") from exc
        # Not a form field (a custom editor): click into it and type key by key.
        await el.click(timeout=timeout)
        await el.press_sequentially(text, timeout=timeout)


async def _select(el: Locator, values: list[str], timeout: float) -> None:
    try:
        await el.select_option(label=values, timeout=timeout)
    except Exception:
        # The planner may name an option by its value attribute rather than its label.
        chosen = await el.select_option(values, timeout=timeout)
        if not chosen:
            raise ActionFailed(f"no option matches {values!r}") from None


def short_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """Playwright errors carry a call log; the first line is what the planner needs.

    Secrets are scrubbed from the whole text first (an error may quote a typed value or a
    URL it rode in), then it is shortened.
    """
    # An error may quote the page's text, lone surrogates included: well-formed first.
    whole = scrub(well_formed(str(exc).strip()), secrets)
    text = whole.splitlines()[0] if whole else type(exc).__name__
    return re.sub(r"\s+", " ", text)[:300]
