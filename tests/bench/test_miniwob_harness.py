"""The MiniWoB harness counts a failure, never crashes: each way an episode can go wrong is
a scored failure with its reason, and the run goes on to the next episode."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright

from macrohard.actuator.public import CHROMIUM_ARGS
from macrohard.bench.miniwob import _direct, run_episodes
from macrohard.bench.miniwob_episode import CHROMIUM, PageServer
from macrohard.bench.miniwob_scoring import Episode
from macrohard.contracts.agent import Intent


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()


def _args(**kw: Any) -> argparse.Namespace:
    base = {"episodes": 1, "seed": 0, "max_ms": 5000, "max_steps": 5, "page_load_ms": 5000}
    return argparse.Namespace(**{**base, **kw})


def _broken(request: Any) -> Intent:
    raise ZeroDivisionError("the model divided by zero")


def _silent(request: Any) -> Intent:
    raise TimeoutError  # no message at all (httpx's timeouts are like that)


def _never_done(request: Any) -> Intent:
    return Intent(action="scroll", dx=0, dy=10, reason="looking around")


async def test_every_failure_is_scored_with_its_reason_and_the_run_goes_on(
    browser: Browser,
) -> None:
    with PageServer() as pages:
        # A page that never loads, then a real task: the second still runs and succeeds.
        missing = await _direct(_args(), ["no-such-page", "click-button"], pages, browser)
        assert [e.task for e in missing] == ["no-such-page", "click-button"]
        assert not missing[0].success and "never loaded" in missing[0].reason
        assert missing[1].success and missing[1].reason == ""

        crashed = await _direct(_args(), ["click-button"], pages, browser, decide=_broken)
        assert not crashed[0].success
        assert "planner error: ZeroDivisionError: the model divided by zero" in crashed[0].reason

        silent = await _direct(_args(), ["click-button"], pages, browser, decide=_silent)
        assert "planner error: TimeoutError: TimeoutError()" in silent[0].reason

        stuck = await _direct(_args(max_steps=3), ["click-button"], pages, browser, _never_done)
        assert not stuck[0].success and "max_steps (3) reached" in stuck[0].reason

        # A planner that gives up: its own reason is the episode's reason.
        gave_up = await _direct(
            _args(), ["click-button"], pages, browser,
            decide=lambda r: Intent(action="fail", reason="no idea"),
        )  # fmt: skip
        assert "planner said fail: no idea" in gave_up[0].reason


async def test_episodes_run_concurrently_and_report_in_list_order(browser: Browser) -> None:
    started: list[tuple[str, int]] = []
    running, most = 0, 0

    async def one(task: str, seed: int, slot: int) -> Episode:
        nonlocal running, most
        started.append((task, seed))
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05 if seed == 0 else 0.01)  # the first ends last
        running -= 1
        return Episode(task, seed, "goal", 1.0, 1, 0.0)

    out = await run_episodes(_args(episodes=2, concurrency=3), ["a", "b"], one)
    assert [(e.task, e.seed) for e in out] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert most == 3 and len(started) == 4

    with PageServer() as pages:  # real pages, two at once, each in its own context
        slow = {"page_load_ms": 30000, "max_ms": 30000}  # a loaded machine loads slowly
        both = await _direct(
            _args(episodes=2, concurrency=2, **slow), ["click-button"], pages, browser
        )
        assert [e.seed for e in both] == [0, 1] and all(e.success for e in both)
