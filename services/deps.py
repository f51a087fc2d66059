"""What every service is given: the storage interface, the council's taxonomy, the clock and the time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.clock import Clock, local_today
from core.taxonomy import Taxonomy
from storage.interface import Store


@dataclass(frozen=True, slots=True)
class Deps:
    store: Store
    taxonomy: Taxonomy
    clock: Clock
    tz: ZoneInfo

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return local_today(self.clock, self.tz)
