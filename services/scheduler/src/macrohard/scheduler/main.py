"""The scheduler as one process: `mh run scheduler`.

Why a service of its own rather than a loop inside the gateway or the planner: the gateway
answers requests and the planner reacts to events, while the scheduler is the one part of
the platform that acts because time passed. Separate, it scales and restarts on its own,
any number of replicas can run (ticks are exactly-once through the log, see domain.py),
and no request path carries a clock loop.

Env: MH_NATS_URL, MH_DATABASE_URL (the `scheduler` read model), MH_SCHEDULER_PERIOD_S
(how often the clock is checked, default 1).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from macrohard.eventlog import Service, run_service
from macrohard.scheduler.handlers import ScheduleBook, Ticker, follow_schedules, tick_forever
from macrohard.scheduler.projection import SchedulerProjection


def _now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """Wires one scheduler replica into a Service; tests give it their own clock."""

    def __init__(self, clock: Callable[[], datetime] = _now, period_s: float = 1.0) -> None:
        self.clock, self.period_s = clock, period_s
        self.book = ScheduleBook()

    def build(self, service: Service) -> None:
        if service.config.database_url:
            service.project(SchedulerProjection())
        service.background(self.run)

    async def run(self, service: Service) -> None:
        sub = await follow_schedules(service.nc, self.book)
        try:
            await tick_forever(Ticker(service.store, self.book), self.clock, self.period_s)
        finally:
            await sub.unsubscribe()


def build(service: Service) -> None:
    Scheduler(period_s=float(service.config.extra.get("period_s", "1"))).build(service)


def main() -> None:
    run_service("scheduler", build)


if __name__ == "__main__":
    main()
