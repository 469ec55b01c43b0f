"""What other packages may use of the scheduler; nothing else in `macrohard.scheduler` crosses.

The gateway reads schedules (and validates cron expressions) through these; everything else
the scheduler does it does by itself, from the log.
"""

from macrohard.scheduler.cron import CronError, parse_cron
from macrohard.scheduler.domain import tick_task_id
from macrohard.scheduler.queries import (
    ScheduleRun,
    ScheduleView,
    next_ticks,
    runs,
    schedule,
    schedule_from_log,
    schedules,
)

__all__ = [
    "CronError",
    "ScheduleRun",
    "ScheduleView",
    "next_ticks",
    "parse_cron",
    "runs",
    "schedule",
    "schedule_from_log",
    "schedules",
    "tick_task_id",
]
