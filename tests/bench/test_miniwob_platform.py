"""The MiniWoB harness through the whole platform (gateway, bus, planner service, the
in-process model, the actuator service, real Chromium): a page that never loads, a planner
that raises and an episode past its deadline are scored failures with their reasons, the
run goes on, and the next episode succeeds; the actuator closes every task's session."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

import pytest

from macrohard.bench import miniwob
from macrohard.bench.miniwob_scoring import Episode, scored
from macrohard.planner import backends


def _args(nats_url: str, database_url: str) -> argparse.Namespace:
    return argparse.Namespace(
        path="platform", backend="in-process", browser="actuator", action_timeout_ms=5000,
        episodes=1, seed=0, concurrency=1, max_ms=20000, max_steps=10, page_load_ms=5000,
        nats_url=nats_url, database_url=database_url, json_path=None, tasks="test",
    )  # fmt: skip


async def test_platform_failures_are_scored_with_reasons_and_the_run_goes_on(
    nats_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = backends.decide
    calls = 0

    def raises_once(request: Any, embed: Any = None) -> Any:
        # The model's first answer is an error (a car that fell over mid-call would be the
        # same for the planner); every later one is the real model's.
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ZeroDivisionError("the model divided by zero")
        return model(request, embed)

    monkeypatch.setattr(backends, "decide", raises_once)
    tasks = ["no-such-page", "click-button", "click-button"]
    sessions: dict[str, list[str]] = {}

    async def then_sessions(*a: Any) -> list[Episode]:
        """The episodes, then each task's browser session as the actuator left it."""
        episodes: list[Episode] = await miniwob._platform_episodes(*a)
        planner, http, tenant, key = a[4], a[6], a[7], a[8]
        listed = await http.get("/v1/tasks", headers={"Authorization": f"Bearer {key}"})
        for task in listed.json()["data"]:
            for _ in range(100):  # the actuator closes a session once it sees the run end
                events = await planner.store.read_aggregate(tenant, "browser", task["task_id"])
                sessions[task["task_id"]] = [type(r.payload).__name__ for r in events]
                if "SessionClosed" in sessions[task["task_id"]]:
                    break
                await asyncio.sleep(0.1)
        return episodes

    async with miniwob.task_pages() as (pages, browser):
        args = _args(nats_url, database_url)
        episodes = await miniwob._platform(args, tasks, pages, browser, then_sessions)
    assert [e.task for e in episodes] == tasks
    # The bench's local test mode was for its own actuator: this process is back to the
    # production rule (a later test's browser must refuse loopback pages again).
    assert "MH_LOCAL_TEST_MODE" not in os.environ
    never, broken, fine = episodes
    assert not never.success and "the task page never loaded" in never.reason
    assert not broken.success
    assert "task failed: planner backend error: the model did not answer" in broken.reason
    assert fine.success and fine.reason == "" and fine.model_steps >= 1
    # Both submitted tasks (the page that never loaded was never submitted) ended, and the
    # actuator closed each one's browser session: nothing piles up over a long run.
    assert len(sessions) == 2
    for names in sessions.values():
        # (The run's last intent may be carried out after its end closed the session.)
        assert names.count("SessionOpened") == 1 and "SessionClosed" in names, names


async def test_an_episode_past_its_deadline_is_a_failure_with_its_reason() -> None:
    async def forever() -> Episode:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    late = await scored("click-button", 3, 0.2, forever)
    assert (late.task, late.seed, late.success) == ("click-button", 3, False)
    assert late.reason == "timed out after 0 s"

    async def gives_up_inside() -> Episode:
        # A step inside gave up first (a NATS request on a loaded machine): that is said.
        raise TimeoutError("nats: timeout")

    inner = await scored("click-button", 4, 10, gives_up_inside)
    assert not inner.success and inner.reason.startswith("harness error: TimeoutError")
