"""What the storage interface passes in and out: records, keys and errors, the same for every engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from core.clock import utc_iso
from core.importing import RECORD_COLUMNS


class StorageError(RuntimeError):
    """The database could not do what was asked. `kind`: busy (locked by another writer), full (disk or size
    limit), readonly, io (a disk error), or other."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


# The states of a scheduled send in the outbox.
SENDING, SENT, UNKNOWN, FAILED = "sending", "sent", "unknown", "failed"


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """The incoming update a write acts on. Recorded in the same transaction as the write: a second delivery
    of the update finds it and writes nothing (AlreadyProcessed)."""

    bot_id: int
    update_id: int


class AlreadyProcessed(Exception):
    """The update was acted on before (Telegram delivered it again): the transaction was rolled back."""


@dataclass(frozen=True, slots=True)
class InboxClaim:
    """An update of the inbox claimed by a worker until its lease ends (bot/worker.py)."""

    update_id: int
    chat_key: int | None  # whose update it is: the ordering key
    payload: str  # the update's JSON
    attempts: int  # claims so far, this one included


@dataclass(frozen=True, slots=True)
class Draft:
    id: int
    staff_id: int
    chat_id: int
    kind: str
    state: str  # JSON, owned by core.flow
    version: int
    message_id: int | None
    boot_id: str
    created_at: datetime
    updated_at: datetime


class DraftConflict(Exception):
    """The draft changed (or went away) since it was read."""


@dataclass(frozen=True, slots=True)
class PendingInput:
    staff_id: int
    kind: str  # "note" or "due"
    followup_id: int
    message_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What lists and reminders show: no reason, no notes (reading those is a separate, audited call)."""

    id: int
    owner_id: int
    owner_name: str
    area: str
    label: str
    due: date
    status: str
    outcome: str | None
    created_at: datetime
    closed_at: datetime | None
    erased: bool
    reminded_on: date | None
    owner_active: bool = True  # False: the owner was deactivated (a supervisor should reassign it)


@dataclass(frozen=True, slots=True)
class HandoverNote:
    """A note to a supervisor that a person with open follow-ups was deactivated, queued in the deactivation's
    transaction and sent once through the outbox. Counts only: never a label, reason or note."""

    key: str  # its outbox key
    chat_id: int
    staff_id: int  # the deactivated person (the note's button lists their follow-ups)
    text: str


@dataclass(frozen=True, slots=True)
class Note:
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FollowUpDetail:
    followup: FollowUp
    reason: str | None
    notes: list[Note]


@dataclass(frozen=True, slots=True)
class FollowUpScope:
    """Whose follow-ups: one owner's, some areas' (a zone), or everyone's (both None)."""

    owner_id: int | None = None
    areas: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    subject: str
    detail: str


class DuplicateImport(Exception):
    """The same file (same kind, same sha256) or the same rows (same fingerprint, with `filename` the file they
    were imported from) were imported before: nothing was written."""

    def __init__(self, import_id: int, imported_at: datetime, *, filename: str | None = None) -> None:
        super().__init__(f"already imported as import #{import_id} at {utc_iso(imported_at)}")
        self.import_id = import_id
        self.imported_at = imported_at
        self.filename = filename  # set when only the rows were the same (the bytes were not)


@dataclass(frozen=True, slots=True)
class ImportInfo:
    id: int
    kind: str
    sha256: str
    filename: str
    rows: int
    imported_at: datetime


@dataclass(slots=True)
class RecordsWritten:
    import_id: int
    outings: int = 0
    consultations: int = 0
    agency_links: int = 0
    new_staff: int = 0
    new_staff_names: list[str] = field(default_factory=list)  # the first NEW_STAFF_LISTED, in order of creation
    already_present: int = 0  # rows skipped: their record_id was in the database already


@dataclass(slots=True)
class BaselineWritten:
    import_id: int
    rows: int = 0
    replaced: int = 0  # rows that replaced a count of an earlier baseline import


# The columns of `fieldbot export`: those `fieldbot import records` reads, in the same order (one list, in
# core/importing.py); the export writes their Japanese headers, which the import reads too.
EXPORT_COLUMNS = RECORD_COLUMNS


class OutingCell(NamedTuple):
    """Outings of one month (YYYY-MM), activity and destination: how many, the people counted on those that
    gave a headcount, and how many gave one (the 月別, 活動内容 × 支援先 and 参加人数 tables)."""

    month: str
    activity: str
    destination: str
    outings: int
    people: int
    with_headcount: int


@dataclass(frozen=True, slots=True)
class RecentOuting:
    """One of a staff member's last distinct outings: what 前回と同じ fills in."""

    activity: str
    destination: str
    area: str
    headcount: int | None
    place_id: int | None


@dataclass(frozen=True, slots=True)
class PlaceInput:
    """What a /places button waits for: a new place's name (then its kind and area), or a place's new name."""

    kind: str  # "add" or "rename"
    place_id: int | None
    name: str | None
    place_kind: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlaceActivity:
    """What happened at one place in a period: outings, consultations received there, 働きかけ, and its last
    outing up to the period's end (None: never)."""

    outings: int
    consultations: int
    outreach: int
    last_outing: date | None
