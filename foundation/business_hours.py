"""Business hours: when a call centre is expected to be sending pushes.

The format (PBX55_BUSINESS_HOURS) is a comma-separated list of `<days> <HH:MM>-<HH:MM>`:

    mon-fri 08:00-18:00,sat 08:00-12:00

- days: one of `mon tue wed thu fri sat sun`, or a range of them (`mon-fri`; `sat-mon` wraps
  over the week's end);
- times: wall-clock times in the reporting time zone, the end after the start; `24:00` ends at
  midnight, so a night shift is two entries (`mon-fri 22:00-24:00,tue-sat 00:00-06:00`);
- `always` (every minute of the week) and `never` (no minute) stand for the whole value.

Entries may overlap; a minute is a business minute when any entry covers it. Centrals with other
hours are listed in PBX55_BUSINESS_HOURS_BY_CENTRAL, `<central_id>=<hours>` separated by `;`:

    1001=always;2002=mon-sat 07:00-19:00
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # ISO weekday order, Monday = index 0
ALWAYS = "always"
NEVER = "never"
_ENTRY = re.compile(r"(?P<days>[a-z]{3}(?:-[a-z]{3})?) (?P<start>\d\d:\d\d)-(?P<end>\d\d:\d\d)")
_DAY_MINUTES = 24 * 60
# What a central id may look like to be named in an alert (55pbx's are digits).
CENTRAL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass(frozen=True)
class BusinessHours:
    """Open intervals per weekday, as minutes since midnight: `weekly[0]` is Monday's."""

    text: str  # the canonical spelling, which `parse` reads back
    weekly: tuple[tuple[tuple[int, int], ...], ...]

    def __str__(self) -> str:
        return self.text

    def is_open(self, moment: dt.datetime, timezone: str) -> bool:
        """Whether an aware `moment` falls within business hours in `timezone`."""
        local = moment.astimezone(ZoneInfo(timezone))
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.weekly[local.weekday()])

    def open_seconds_between(self, start: dt.datetime, end: dt.datetime, timezone: str) -> float:
        """Seconds of business hours between two aware instants (0 when `end` is not later).

        Each open interval is turned into an instant through the time zone, day by day, so a
        day on which the clocks change counts the time that really passed.
        """
        if end <= start:
            return 0.0
        zone = ZoneInfo(timezone)
        day = start.astimezone(zone).date()
        last_day = end.astimezone(zone).date()
        total = 0.0
        while day <= last_day:
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
            for open_minute, close_minute in self.weekly[day.weekday()]:
                # In UTC: Python subtracts two times of one zone by their wall clocks.
                opens = _wall_time(midnight, open_minute).astimezone(dt.UTC)
                closes = _wall_time(midnight, close_minute).astimezone(dt.UTC)
                overlap = min(closes, end) - max(opens, start)
                total += max(overlap.total_seconds(), 0.0)
            day += dt.timedelta(days=1)
        return total


def _wall_time(midnight: dt.datetime, minute: int) -> dt.datetime:
    """The instant of `minute` minutes after midnight on `midnight`'s date, in its time zone."""
    if minute == _DAY_MINUTES:
        day_after = midnight.date() + dt.timedelta(days=1)
        return dt.datetime.combine(day_after, dt.time(), tzinfo=midnight.tzinfo)
    return midnight.replace(hour=minute // 60, minute=minute % 60)


def parse_business_hours(text: str, name: str) -> BusinessHours:
    """The schedule `text` means; a ValueError naming the variable `name` and the entry if wrong."""
    cleaned = " ".join(text.strip().lower().split())
    if cleaned in (ALWAYS, NEVER):
        whole_day = ((0, _DAY_MINUTES),) if cleaned == ALWAYS else ()
        return BusinessHours(text=cleaned, weekly=(whole_day,) * 7)
    weekly: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    entries = [entry.strip() for entry in cleaned.split(",")]
    for position, entry in enumerate(entries, start=1):
        matched = _ENTRY.fullmatch(entry)
        problem = "is not `<days> <HH:MM>-<HH:MM>`" if matched is None else None
        if matched is not None:
            days = _day_range(matched["days"])
            start, end = _minute_of(matched["start"]), _minute_of(matched["end"])
            if days is None:
                problem = f"names a day that is not one of {' '.join(DAYS)}"
            elif start is None or end is None or start >= end or start == _DAY_MINUTES:
                problem = "needs a start before its end, both between 00:00 and 24:00"
            else:
                for day in days:
                    weekly[day].append((start, end))
        if problem is not None:
            raise ValueError(
                f"{name}: entry {position} ({entry!r}) {problem}; write e.g. "
                f"'mon-fri 08:00-18:00,sat 08:00-12:00', or '{ALWAYS}' or '{NEVER}'"
            )
    return BusinessHours(text=",".join(entries), weekly=tuple(tuple(sorted(day)) for day in weekly))


def _day_range(text: str) -> list[int] | None:
    first, _, last = text.partition("-")
    if first not in DAYS or (last and last not in DAYS):
        return None
    start, stop = DAYS.index(first), DAYS.index(last or first)
    return [(start + offset) % 7 for offset in range((stop - start) % 7 + 1)]


def _minute_of(text: str) -> int | None:
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes >= 60 or hours * 60 + minutes > _DAY_MINUTES:
        return None
    return hours * 60 + minutes


def parse_hours_by_central(text: str, name: str) -> tuple[tuple[str, BusinessHours], ...]:
    """`<central_id>=<hours>;...` as (central id, hours) pairs; a ValueError naming `name`."""
    pairs: dict[str, BusinessHours] = {}
    entries = [entry.strip() for entry in text.split(";") if entry.strip()]
    for position, entry in enumerate(entries, start=1):
        central, equals, hours = (part.strip() for part in entry.partition("="))
        if not equals or not CENTRAL_ID.fullmatch(central) or central in pairs:
            raise ValueError(
                f"{name}: entry {position} is not `<central_id>=<hours>` with a central id of "
                f"letters, digits or `_.:-` named once; entries are separated by `;`"
            )
        pairs[central] = parse_business_hours(hours, f"{name} (central {central})")
    return tuple(pairs.items())
