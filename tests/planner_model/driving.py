"""The model deciding each step on a real page, through the actuator's own observer and
gestures (the dev loop of `mh bench miniwob --path direct`, without the benchmark's reward)."""

from __future__ import annotations

from typing import Any

from macrohard.bench.miniwob_episode import DirectPage
from macrohard.contracts.agent import Intent
from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide


async def run_model(page: Any, goal: str, max_steps: int) -> tuple[Intent, list[PastStep]]:
    """Until the model says done or fail, or `max_steps` are taken: (its last intent, the
    steps it took)."""
    direct, history = DirectPage(page), list[PastStep]()
    intent = Intent(action="fail", reason="no step taken")
    for _ in range(max_steps):
        intent = decide(PlanRequest(goal=goal, observation=await direct.observe(), history=history))
        if intent.action in ("done", "fail"):
            break
        ok, error = await direct.act(intent)
        history.append(PastStep(intent=intent, ok=ok, error=error))
    return intent, history
