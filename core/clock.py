"""Where the program asks what time it is, so tests and the demo can drive time instead of waiting for it."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware in UTC."""
        ...


@runtime_checkable
class Elapsing(Protocol):
    """A clock that can also say how much time has passed, whatever the wall clock says (see JumpWatch)."""

    def monotonic(self) -> float:
        """Seconds since an arbitrary start; never jumps."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        # CLOCK_BOOTTIME counts a suspended machine's sleep too, so a resume is not taken for a jump.
        if hasattr(time, "CLOCK_BOOTTIME"):
            return time.clock_gettime(time.CLOCK_BOOTTIME)
        return time.monotonic()


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._elapsed = 0.0  # `set` and `advance` are time passing; only `jump` moves the wall clock alone

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._elapsed

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.advance(moment.astimezone(UTC) - self._now)

    def advance(self, delta: timedelta) -> None:
        self._now += delta
        self._elapsed += max(delta.total_seconds(), 0.0)

    def jump(self, delta: timedelta) -> None:
        """The wall clock is set wrong (or right again) while no time passes."""
        self._now += delta


class JumpWatch:
    """Whether the wall clock has kept step with the time that passed, lately.

    Between two looks, the wall clock should move as much as the elapsed time (within TOLERANCE). When it does
    not, the wall clock was set: ahead by mistake, or right again after a mistake, or corrected by NTP. What
    depends on the wall clock being right (the weekly digest: a clock a week ahead would send the current,
    unfinished week as if it were over, and the real one never) waits until the clock has run steadily for
    SETTLE. A correct correction then costs one delay of SETTLE; a wrong clock that stays wrong that long is
    believed. Memory only: the first look after a start trusts the clock. A clock that cannot say how much
    time passed (not `Elapsing`) is always trusted.
    """

    TOLERANCE = timedelta(minutes=5)
    SETTLE = timedelta(hours=6)

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._last: tuple[datetime, float] | None = None
        self._settled_at: float | None = None  # elapsed time at which a jumped clock is believed again

    def steady(self) -> tuple[bool, timedelta | None]:
        """Whether to trust the wall clock now, and the jump seen by this look (None if none)."""
        if not isinstance(self.clock, Elapsing):
            return True, None
        wall, elapsed = self.clock.now(), self.clock.monotonic()
        jump = None
        if self._last is not None:
            drift = (wall - self._last[0]) - timedelta(seconds=elapsed - self._last[1])
            if abs(drift) > self.TOLERANCE:
                jump = drift
                self._settled_at = elapsed + self.SETTLE.total_seconds()
        self._last = (wall, elapsed)
        return self._settled_at is None or elapsed >= self._settled_at, jump


def local_today(clock: Clock, tz: ZoneInfo) -> date:
    return clock.now().astimezone(tz).date()


def utc_iso(moment: datetime) -> str:
    """The storage form of an instant: ISO 8601 in UTC with a Z, sortable as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
