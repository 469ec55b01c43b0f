"""One MiniWoB++ episode as a score: whatever goes wrong becomes a failure with its reason.

A benchmark that dies on its 40th episode measures nothing: a page that never loads, an
episode that runs past its time, a planner that raises, a platform that refuses the task
are all outcomes to count, with the reason shown, and the run goes on to the next episode.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

log = logging.getLogger("macrohard.bench.miniwob")


@dataclass(frozen=True, slots=True)
class Episode:
    """One MiniWoB episode's outcome, whichever path (direct or the platform) ran it."""

    task: str
    seed: int
    goal: str
    reward: float
    steps: int
    wall_s: float
    # Why the episode failed ("" on success): the page's own reason for a wrong answer,
    # the task's TaskFailed reason, a timeout, a page that never loaded, a planner error.
    reason: str = ""
    # Platform path: decisions replayed from the tenant's playbook, and model calls.
    replayed_steps: int = 0
    model_steps: int = 0

    @property
    def success(self) -> bool:
        return self.reward > 0


class EpisodeFailed(Exception):
    """An episode ended without a reward for a known reason (the message says which)."""


async def scored(
    task: str, seed: int, deadline_s: float, run: Callable[[], Awaitable[Episode]]
) -> Episode:
    """Run one episode under a deadline; every way it can go wrong is a scored failure."""
    started = time.perf_counter()

    def failed(reason: str) -> Episode:
        return Episode(task, seed, "", 0.0, 0, time.perf_counter() - started, reason)

    try:
        episode = await asyncio.wait_for(run(), deadline_s)
    except TimeoutError as exc:
        if time.perf_counter() - started >= deadline_s * 0.99:
            return failed(f"timed out after {deadline_s:.0f} s")
        # Something inside gave up first (a NATS request on a loaded machine): say what.
        log.exception("episode step timed out", extra={"task": task, "seed": seed})
        return failed(f"harness error: {type(exc).__name__} {exc!r}"[:300])
    except EpisodeFailed as exc:
        return failed(str(exc))
    except Exception as exc:
        # The harness's job is to count this and go on; the traceback goes to the log so the
        # programming error behind it is not lost.
        log.exception("episode crashed", extra={"task": task, "seed": seed})
        return failed(f"harness error: {type(exc).__name__}: {first_line(exc)}")
    if not episode.success and not episode.reason:
        episode = replace(episode, reason=f"reward {episode.reward:.2f}: the page's check failed")
    return episode


async def open_goal(page: object, url: str, timeout_ms: float) -> str:
    """The episode's goal from its seeded page; a page that never loads is a failure."""
    from macrohard.bench.miniwob_episode import goal_of

    try:
        return await goal_of(page, url, timeout_ms)
    except Exception as exc:  # Playwright's errors and timeouts: the page is not usable
        raise EpisodeFailed(f"the task page never loaded: {first_line(exc)}") from exc


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (some, like httpx's timeouts, have none)."""
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else repr(exc)[:200]
