"""The offline planner model: goal -> steps, steps grounded on the observed page, no LLM.

`decide(request, embed)` is the whole model: a pure function of the goal, the latest
observation and the history of intents, so a run replays exactly from the log.
"""

from macrohard.planner_model.web_planner.policy import PastStep, PlanRequest, decide
from macrohard.planner_model.web_planner.skills.compute import SEARCH

__all__ = ["SEARCH", "PastStep", "PlanRequest", "decide"]
