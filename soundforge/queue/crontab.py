"""Cron expressions: a small parser of the classic five fields plus the ``@`` shorthands.

Mirrors ``Oban.Cron.Expression``: ``minute hour day-of-month month day-of-week`` with ``*``,
``*/n``, ``a``, ``a-b``, ``a-b/n``, ``a/n`` and comma lists; month and weekday names
(``jan``, ``mon``); weekday ``0`` or ``7`` is Sunday; when both day fields are restricted a
day matches either (Vixie cron's rule). Shorthands: ``@yearly``/``@annually``, ``@monthly``,
``@weekly``, ``@daily``/``@midnight``, ``@hourly``. Times are UTC, Oban's default.

    schedule = parse("*/15 9-17 * * mon-fri")
    schedule.matches(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))   # True

Differences from Oban: no ``@reboot`` and no time zones (a node's crontab is UTC); the
parser is ours rather than croniter, which would add a dependency for 100 lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

from soundforge.errors import SoundForgeError

if TYPE_CHECKING:
    from soundforge.queue.worker import Worker

__all__ = ["CronEntry", "InvalidCron", "Schedule", "parse"]

_ALIASES: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTHS: Final = {
    name: i + 1
    for i, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_WEEKDAYS: Final = {
    name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])
}

# (name, low, high, names)
_FIELDS: Final[tuple[tuple[str, int, int, dict[str, int]], ...]] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)


class InvalidCron(SoundForgeError):
    """A cron expression cannot be parsed."""

    exit_code = 2

    def __init__(self, expr: str, problem: str) -> None:
        super().__init__(
            f"invalid cron expression {expr!r}: {problem} (expected five fields "
            "'minute hour day-of-month month day-of-week', or @hourly, @daily, @weekly, "
            "@monthly, @yearly)"
        )
        self.expr = expr


class Schedule(msgspec.Struct, frozen=True):
    """A parsed expression: the allowed values of each field."""

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    def matches(self, at: datetime) -> bool:
        """Whether the minute of ``at`` is one this schedule fires at."""
        if at.minute not in self.minutes or at.hour not in self.hours:
            return False
        if at.month not in self.months:
            return False
        day_ok = at.day in self.days
        weekday_ok = at.isoweekday() % 7 in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return weekday_ok
        if self.any_weekday:
            return day_ok
        return day_ok or weekday_ok


def parse(expr: str) -> Schedule:
    """Parse ``expr``; raises :class:`InvalidCron` naming the field at fault."""
    text = _ALIASES.get(expr.strip().lower(), expr.strip())
    if text.startswith("@"):
        raise InvalidCron(expr, f"unknown shorthand {text!r}")
    parts = text.split()
    if len(parts) != 5:
        raise InvalidCron(expr, f"{len(parts)} fields")
    values = [
        _field(expr, part, name, low, high, names)
        for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True)
    ]
    weekdays = frozenset(d % 7 for d in values[4])  # 7 is Sunday too
    return Schedule(
        expr=expr,
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        any_day=parts[2] == "*",
        any_weekday=parts[4] == "*",
    )


def _field(
    expr: str, text: str, name: str, low: int, high: int, names: dict[str, int]
) -> frozenset[int]:
    allowed: set[int] = set()
    for item in text.lower().split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise InvalidCron(expr, f"bad step {step_text!r} in the {name} field")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _value(expr, first, name, low, high, names)
            end = _value(expr, last, name, low, high, names)
            if start > end:
                raise InvalidCron(expr, f"range {base!r} runs backwards in the {name} field")
        else:
            start = _value(expr, base, name, low, high, names)
            end = high if step_text else start
        allowed.update(range(start, end + 1, step))
    return frozenset(allowed)


def _value(expr: str, text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise InvalidCron(expr, f"{text!r} is not a number in the {name} field")
    value = int(text)
    if not low <= value <= high:
        raise InvalidCron(expr, f"{value} is outside {low}-{high} in the {name} field")
    return value


@dataclass(frozen=True)
class CronEntry:
    """One line of the crontab: insert a ``worker`` job with ``args`` whenever ``expr`` fires.

    The options default to the worker's, as for any insert.
    """

    expr: str
    worker: type[Worker] | str
    args: dict[str, Any] | None = None
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None
