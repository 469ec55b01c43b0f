"""The planner model's skills: one module per family of steps, each registering its goal
clause parsers (`grammar.clause`) and its step handlers (`base.skill`, `base.reader`).

Adding a skill = a new module here and one import line below; nothing else changes.
"""

from macrohard.planner_model.web_planner.skills import (  # noqa: F401  (registrations)
    choose,
    click,
    colouring,
    compare,
    compute,
    console,
    extract,
    feedback,
    fill,
    games,
    inbox,
    mail,
    moving,
    ordering,
    orders,
    read,
    resize,
    scroll,
    seek,
    selection,
    shapes,
    sliders,
    styling,
    upload,
    visual,
    wait,
    watch,
)
from macrohard.planner_model.web_planner.skills.base import (
    READERS,
    SKILLS,
    Ctx,
    Handler,
    PastStep,
    Reader,
)

__all__ = ["READERS", "SKILLS", "Ctx", "Handler", "PastStep", "Reader"]
