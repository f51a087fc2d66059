"""What every service is given: the storage interface, the council's taxonomy, the clock and the time zone (and,
for a council with councils under it, a way to read theirs)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from core.accounts import is_lineworks
from core.clock import Clock, local_today
from core.councils import Council
from core.taxonomy import Taxonomy
from core.webapp import FormLinks
from storage.interface import Store


@dataclass(frozen=True, slots=True)
class Child:
    """A council under this one as the city table needs it: who it is, its store (its data only), its taxonomy."""

    council: Council
    store: Store
    taxonomy: Taxonomy


class ChildCouncils(Protocol):
    """The councils under this one (市社協 over 区社協), opened for one report and closed after it."""

    def opened(self) -> AbstractAsyncContextManager[list[Child]]: ...


@dataclass(frozen=True, slots=True)
class Forms:
    """The note form (services/notes.py): its links, and whether personal text may still be typed into the chat."""

    links: FormLinks
    typing: bool = True

    def typing_allowed(self, account: int | None) -> bool:
        """Whether personal text typed into this person's chat is taken: where the council allows it, and never
        on LINE WORKS (a bot cannot remove what was typed there, and tenant administrators export the logs)."""
        return self.typing and not (account is not None and is_lineworks(account))


@dataclass(frozen=True, slots=True)
class Deps:
    store: Store
    taxonomy: Taxonomy
    clock: Clock
    tz: ZoneInfo
    children: ChildCouncils | None = None  # None: no council is under this one
    forms: Forms | None = None  # None: no public address for the note form (personal text is typed)

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return local_today(self.clock, self.tz)
