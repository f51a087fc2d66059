"""When the weekly digest is due: a weekday and a local time, e.g. `mon 08:30`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SCHEDULE = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)\s+([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    weekday: int  # 0 = Monday
    at: time

    @classmethod
    def parse(cls, text: str) -> DigestSchedule:
        """`mon 08:30` (weekday and local time); ValueError otherwise."""
        match = _SCHEDULE.match(text.strip().lower())
        if not match:
            raise ValueError(f"{text!r} is not like 'mon 08:30' (a weekday mon..sun and a time HH:MM)")
        return cls(WEEKDAYS.index(match.group(1)), time(int(match.group(2)), int(match.group(3))))

    def latest(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The most recent scheduled moment at or before `now` (aware, in `tz`)."""
        local = now.astimezone(tz)
        day = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        moment = datetime.combine(day, self.at, tzinfo=tz)
        if moment > local:
            moment -= timedelta(days=7)
        return moment
