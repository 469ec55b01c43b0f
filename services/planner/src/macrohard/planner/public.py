"""What other packages may use of the planner; nothing else in `macrohard.planner` crosses over.

The planner is driven by events (TaskSubmitted in; IntentEmitted, TaskCompleted/Failed out).
In process others may only ask which events end a task, and (for the offline fleet
simulation, which must verify as the planner does) which calls are verified and how answers
are judged.
"""

from macrohard.planner.domain import TERMINAL_EVENTS
from macrohard.planner.verification import Verdict, judge, sampled

__all__ = ["TERMINAL_EVENTS", "Verdict", "judge", "sampled"]
