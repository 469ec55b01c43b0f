"""What other packages may use of the scheduler; nothing else in `macrohard.scheduler` crosses.

The gateway validates cron expressions and reads schedules and their runs through these;
everything else the scheduler does by itself, from the log and the clock.
"""

from macrohard.scheduler.cron import CronError, parse_cron
from macrohard.scheduler.domain import tick_task_id
from macrohard.scheduler.projection import SchedulerProjection
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
    "SchedulerProjection",
    "next_ticks",
    "parse_cron",
    "runs",
    "schedule",
    "schedule_from_log",
    "schedules",
    "tick_task_id",
]
