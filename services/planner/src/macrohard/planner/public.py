"""What other packages may use of the planner; nothing else in `macrohard.planner` crosses over.

The planner is driven by events (TaskSubmitted in; IntentEmitted, TaskCompleted/Failed out).
In process others may only ask which events end a task.
"""

from macrohard.planner.domain import TERMINAL_EVENTS

__all__ = ["TERMINAL_EVENTS"]
