"""`mh task replay --live`: re-run a task's recorded intents in a fresh Chromium.

Simple on purpose: each intent's element index is resolved through the page the agent saw
when it decided (the recorded observation) to that element's role and accessible name,
which Playwright finds again on the live page. The result is printed next to what was
recorded, so an operator sees where today's page stopped matching the recording.
Secrets are never available here (only the actuator resolves them), so typing one is
skipped and said so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from macrohard.actuator.public import BrowserPool, TaskBrowser, local_test_mode
from macrohard.cli.task_steps import Step, TaskRecord

SECRET = re.compile(r"\{\{secret:[^}]+\}\}")
ACTION_TIMEOUT_MS = 5000


class LiveRerunRefused(ValueError):
    """The actuator's guard refused the recording's start page."""


@dataclass(frozen=True, slots=True)
class LiveStep:
    number: int
    ok: bool
    note: str
    url: str
    title: str
    recorded_url: str
    recorded_title: str

    @property
    def matches(self) -> bool:
        return self.url == self.recorded_url and self.title == self.recorded_title


def _locator(page: Any, element: dict[str, Any] | None) -> Any:
    if element is None:
        raise LookupError("the intent names no element the agent saw")
    name = element.get("name") or ""
    role = element.get("role") or ""
    if role and name:
        return page.get_by_role(role, name=name, exact=True).first
    if element.get("text"):
        return page.get_by_text(element["text"], exact=True).first
    raise LookupError(f"element {element.get('id')} has neither role+name nor text")


async def _perform(tb: TaskBrowser, step: Step) -> str:
    """Carry out one intent; return a note ("" when nothing needs saying)."""
    page: Any = tb.page
    i = step.intent
    action = i.get("action")
    text = i.get("text") or ""
    if action == "navigate":
        url = i.get("url") or ""
        verdict = await tb.guard.verdict(url)
        if not verdict.allowed:
            return f"navigate refused: {verdict.reason}"
        await page.goto(url, timeout=ACTION_TIMEOUT_MS)
    elif action == "back":
        await page.go_back(timeout=ACTION_TIMEOUT_MS)
    elif action == "scroll":
        await page.mouse.wheel(i.get("dx", 0), i.get("dy", 0))
    elif action == "press" and i.get("element") is None:
        await page.keyboard.press(i.get("keys") or "Enter")
    elif action in ("done", "fail", "wait_for"):
        return f"{action}: nothing to do in the browser"
    elif action in (
        "upload",
        "drag",
        "right_click",
        "hold",
        "click_at",
        "select_text",
        "set_value",
        "click_when",
    ):
        return f"{action} is not re-run live"
    else:
        target = _locator(page, step.target())
        if action == "click":
            await target.click(timeout=ACTION_TIMEOUT_MS)
        elif action in ("type", "clear"):
            if SECRET.search(text):
                return "types a secret: skipped (secrets stay in the actuator)"
            await target.fill("" if action == "clear" else text, timeout=ACTION_TIMEOUT_MS)
        elif action == "select":
            await target.select_option(i.get("values") or [], timeout=ACTION_TIMEOUT_MS)
        elif action in ("check", "uncheck"):
            await target.set_checked(action == "check", timeout=ACTION_TIMEOUT_MS)
        elif action == "press":
            await target.press(i.get("keys") or "Enter", timeout=ACTION_TIMEOUT_MS)
        elif action == "hover":
            await target.hover(timeout=ACTION_TIMEOUT_MS)
        else:
            return f"unknown action {action!r}"
    return ""


async def rerun(
    record: TaskRecord, tenant: str, allowed_domains: list[str] | None
) -> list[LiveStep]:
    """Open the task's start page and replay every intent in order.

    Through the actuator's own browser pool: the recorded URLs were chosen by a model and
    by pages, so every request passes the same guard and egress proxy as in the actuator
    (tenant allowlist, no internal addresses), and Chromium starts with a clean environment.
    """
    if record.submitted is None:
        raise ValueError(f"task {record.task_id} has no TaskSubmitted: nothing to start from")
    out: list[LiveStep] = []
    pool = BrowserPool(local_test_mode=local_test_mode())
    try:
        tb = await pool.open(f"replay-{record.task_id}", tenant, allowed_domains)
        page = tb.page
        start = str(record.submitted.get("start_url"))
        verdict = await tb.guard.verdict(start)
        if not verdict.allowed:
            raise LiveRerunRefused(f"start page {start} refused: {verdict.reason}")
        await page.goto(start, timeout=ACTION_TIMEOUT_MS)
        for step in record.steps:
            try:
                note = await _perform(tb, step)
                ok = True
                await page.wait_for_load_state("domcontentloaded", timeout=ACTION_TIMEOUT_MS)
            except Exception as exc:  # report and go on: the next step may still tell
                ok, note = False, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            page = tb.page
            recorded = step.observed or {}
            out.append(
                LiveStep(
                    step.number,
                    ok,
                    note,
                    page.url,
                    await page.title(),
                    str(recorded.get("url", "")),
                    str(recorded.get("title", "")),
                )
            )
    finally:
        await pool.stop()
    return out
