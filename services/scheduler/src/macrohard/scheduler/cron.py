"""Five-field cron expressions (UTC): parsing and the ticks they name. Pure, no clock.

`minute hour day-of-month month day-of-week`, each `*`, a number, a range `a-b`, a list
`a,b`, or any of those with a step `/n`; day-of-week 0-7 with 0 and 7 both Sunday. As in
Vixie cron, when both day fields are restricted a day matches if either does.
Written here rather than taken from a library: fifty lines, and the one rule that matters
for exactly-once (a tick is a whole minute, the same on every replica) is explicit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))  # fmt: skip
# Far enough to find 29 February on a Monday; a cron that matches nothing never ticks.
_HORIZON = timedelta(days=366 * 8)


class CronError(ValueError):
    """The expression is not a five-field cron; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Monday, as datetime.weekday()
    days_restricted: bool
    weekdays_restricted: bool

    def matches(self, at: datetime) -> bool:
        return (
            at.minute in self.minutes
            and at.hour in self.hours
            and at.month in self.months
            and self._day_ok(at)
        )

    def next_after(self, after: datetime) -> datetime | None:
        """The first tick strictly after `after` (a whole UTC minute), or None."""
        at = _minute(after) + timedelta(minutes=1)
        end = at + _HORIZON
        while at < end:
            if at.month not in self.months:
                at = (at.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_ok(at):
                at = at.replace(hour=0, minute=0) + timedelta(days=1)
            elif at.hour not in self.hours:
                at = at.replace(minute=0) + timedelta(hours=1)
            elif at.minute not in self.minutes:
                at += timedelta(minutes=1)
            else:
                return at
        return None

    def latest_at_or_before(self, at: datetime) -> datetime | None:
        """The last tick at or before `at`, or None (the same jumps as next_after, backwards)."""
        at = _minute(at)
        end = at - _HORIZON
        while at > end:
            if at.month not in self.months:
                at = at.replace(day=1, hour=0, minute=0) - timedelta(minutes=1)
            elif not self._day_ok(at):
                at = at.replace(hour=0, minute=0) - timedelta(minutes=1)
            elif at.hour not in self.hours:
                at = at.replace(minute=0) - timedelta(minutes=1)
            elif at.minute not in self.minutes:
                at -= timedelta(minutes=1)
            else:
                return at
        return None

    def _day_ok(self, at: datetime) -> bool:
        day_ok, weekday_ok = at.day in self.days, at.weekday() in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok  # Vixie cron's rule
        return day_ok and weekday_ok


def _minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = int(a), int(b)
            else:
                start = int(body)
                end = high if step_text else start
        except ValueError:
            raise CronError(f"{name}: {part!r} is not a number, range or step") from None
        if step < 1:
            raise CronError(f"{name}: step must be at least 1")
        if not low <= start <= end <= high:
            raise CronError(f"{name}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def parse_cron(expression: str) -> Cron:
    """Parse a five-field cron expression; raises CronError saying what is wrong."""
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(f"expected 5 fields (minute hour day month weekday), got {len(parts)}")
    minutes, hours, days, months, cron_weekdays = (
        _field(text, name, low, high)
        for text, (name, low, high) in zip(parts, _FIELDS, strict=True)
    )
    # cron counts Sunday as 0 (and 7); datetime.weekday() counts Monday as 0.
    weekdays = frozenset((d - 1) % 7 for d in cron_weekdays)
    return Cron(
        expression=" ".join(parts),
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        days_restricted=parts[2] != "*",
        weekdays_restricted=parts[4] != "*",
    )
