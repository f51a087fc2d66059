"""The storage interface: what the services need from an engine, as Protocols. SQLite (storage/sqlite/) is the
one engine today; a second one implements the same Protocols and passes the same repository tests.

Writes an update asked for run inside `Store.unit(key, now)`; the repositories' write methods take that unit's
transaction (`tx`), an opaque handle a service only passes back. A write method whose `tx` is optional runs
in its own transaction without one (scheduled jobs, the terminal, seeds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeAlias

from core.counts import Counts
from core.importing import BaselineRow, ImportKind, RecordRow
from core.models import Invite, NewPlace, Place, Role, SavedSubmission, Staff, Submission
from storage.types import (
    AuditEntry,
    BaselineWritten,
    Draft,
    FollowUp,
    FollowUpDetail,
    FollowUpScope,
    HandoverNote,
    IdempotencyKey,
    ImportInfo,
    InboxClaim,
    OutingCell,
    PendingInput,
    PlaceActivity,
    PlaceInput,
    RecentOuting,
    RecordsWritten,
)

# An engine's open write transaction. Services never use it, they only hand it back to the repositories.
Tx: TypeAlias = Any


class Drafts(Protocol):
    """Flows in progress, one per staff member; their state is sealed (it holds what was typed so far)."""

    async def for_staff(self, staff_id: int) -> Draft | None: ...
    async def get(self, draft_id: int) -> Draft | None: ...
    async def create(
        self, tx: Tx, *, staff_id: int, chat_id: int, kind: str, state: str, boot_id: str, now: datetime
    ) -> Draft:
        """A new draft, replacing any earlier one of the same staff member."""
        ...

    async def update(
        self,
        tx: Tx,
        draft: Draft,
        *,
        state: str,
        boot_id: str,
        now: datetime,
        chat_id: int | None = None,
        unshown: bool = False,
    ) -> Draft:
        """Store a new state if the draft is still at the version that was read (else DraftConflict); `unshown`:
        no message shows its question yet."""
        ...

    async def set_message(self, draft_id: int, message_id: int | None) -> None: ...
    async def delete(self, tx: Tx, draft_id: int, *, version: int | None = None) -> bool: ...
    async def untouched_since(self, moment: datetime) -> list[Draft]:
        """Drafts last answered before `moment`, oldest first."""
        ...

    async def expire(self, tx: Tx, draft: Draft, note: tuple[str, int, str] | None) -> bool:
        """Drop an abandoned draft if still at the version read and queue `note` (outbox key, chat id, text; None:
        no note) in the same transaction; False if it changed or went away since."""
        ...

    async def expiry_notes(self) -> list[tuple[str, int, str]]:
        """The queued notes of dropped drafts: (outbox key, chat id, text)."""
        ...

    async def expiry_note_done(self, key: str) -> None: ...


class PendingInputs(Protocol):
    """The one typed answer a follow-up button is waiting for."""

    async def expect(
        self, staff_id: int, kind: str, followup_id: int, message_id: int | None, now: datetime, *, tx: Tx = None
    ) -> None: ...
    async def get(self, staff_id: int, not_before: datetime) -> PendingInput | None: ...
    async def clear(self, staff_id: int, *, tx: Tx = None) -> None: ...


class Records(Protocol):
    async def save_submission(
        self, tx: Tx, submission: Submission, kind: str, now: datetime, draft_id: int | None = None
    ) -> SavedSubmission: ...
    async def saved_from(self, draft_id: int, staff_id: int) -> int | None: ...
    async def recent_outings(self, staff_id: int, limit: int = 3) -> list[RecentOuting]:
        """A staff member's last distinct outings, most recent first (前回と同じ)."""
        ...

    async def submission(self, submission_id: int) -> SavedSubmission | None: ...
    async def delete_submission(self, tx: Tx, submission_id: int, staff_id: int) -> bool: ...
    async def memos_saved_before(self, moment: datetime) -> list[tuple[int, datetime]]:
        """(submission id, saved at) of the submissions saved before `moment` whose memo is still kept."""
        ...

    async def erase_memos(self, tx: Tx, ids: list[int]) -> list[int]:
        """Erase these submissions' memos (the records stay); the ids whose memo was erased now."""
        ...


class StaffMembers(Protocol):
    async def by_telegram_id(self, telegram_id: int) -> Staff | None: ...
    async def get(self, staff_id: int) -> Staff | None: ...
    async def all(self, *, include_imported: bool = False) -> list[Staff]: ...
    async def ensure_admin(self, telegram_id: int, now: datetime) -> Staff: ...
    async def set_area(self, staff_id: int, area: str, *, tx: Tx = None) -> None: ...
    async def deactivate(self, staff_id: int, now: datetime, *, actor_id: int | None = None, tx: Tx = None) -> bool: ...
    async def reactivate(self, staff_id: int, now: datetime, *, actor_id: int | None = None, tx: Tx = None) -> bool: ...
    async def change_role(
        self, staff_id: int, role: Role, zone: str | None, now: datetime, *, actor_id: int | None = None, tx: Tx = None
    ) -> bool: ...
    async def queue_handover(self, tx: Tx, notes: Sequence[HandoverNote]) -> None:
        """Queue notes about a deactivation in its transaction, to be sent once through the outbox."""
        ...

    async def handover_notes(self) -> list[HandoverNote]: ...
    async def handover_note_done(self, key: str) -> None: ...


class Invites(Protocol):
    async def create(
        self,
        code_hash: str,
        role: Role,
        zone: str | None,
        created_by: int,
        now: datetime,
        expires_at: datetime,
        *,
        tx: Tx = None,
    ) -> int: ...
    async def failures(self, telegram_id: int, since: datetime) -> int: ...
    async def failed(self, telegram_id: int, now: datetime, window_since: datetime, *, tx: Tx = None) -> None: ...
    async def succeeded(self, telegram_id: int, *, tx: Tx = None) -> None: ...
    async def redeem(self, code_hash: str, telegram_id: int, name: str, now: datetime, *, tx: Tx = None) -> Staff | str:
        """The registered staff member, or why not: "unknown", "used", "expired", "registered" (staff already)
        or "deactivated" (an invite never undoes a deactivation)."""
        ...

    async def open_invites(self, now: datetime) -> list[tuple[Invite, str]]:
        """Unused, unexpired invites, each with its creator's name."""
        ...

    async def revoke(self, invite_id: int, actor_id: int, now: datetime, *, tx: Tx = None) -> bool: ...


class FollowUps(Protocol):
    async def open_list(
        self, scope: FollowUpScope, today: date, *, offset: int = 0, limit: int = 50
    ) -> list[FollowUp]: ...
    async def open_count(self, scope: FollowUpScope, *, tx: Tx = None) -> int: ...
    async def get(self, followup_id: int) -> FollowUp | None: ...
    async def detail(self, followup_id: int, actor_id: int | None, now: datetime) -> FollowUpDetail | None:
        """The reason and notes, opened; the reading is recorded in the audit log."""
        ...

    async def add_note(self, followup_id: int, author_id: int, body: str, now: datetime, *, tx: Tx = None) -> bool: ...
    async def set_due(self, followup_id: int, due: date, actor_id: int, now: datetime, *, tx: Tx = None) -> bool: ...
    async def close(self, followup_id: int, outcome: str, actor_id: int, now: datetime, *, tx: Tx = None) -> bool: ...
    async def reopen(
        self, followup_id: int, closed_at: datetime, actor_id: int, now: datetime, *, tx: Tx = None
    ) -> str | None:
        """Undo the closing made at `closed_at` if the follow-up is still closed by it; the outcome undone, or
        None (nothing changed). Audited."""
        ...

    async def reassign(
        self, followup_id: int, owner_id: int, actor_id: int, now: datetime, *, tx: Tx = None
    ) -> bool: ...
    async def due_for_reminder(self, today: date) -> list[FollowUp]: ...
    async def mark_reminded(self, followup_id: int, on: date) -> None: ...
    async def closed_before(self, moment: datetime) -> list[FollowUp]: ...
    async def erase(self, ids: Sequence[int], erased_label: str, now: datetime) -> int: ...


class Tallies(Protocol):
    """Counts for reports. A council's or a zone's come from tallies per day and per month kept in the same
    transaction as every write that changes what is counted (save, undo, import); one person's, and what needs
    single records (per staff member, last outing), from the records."""

    async def counts(
        self,
        start: date,
        end: date,
        *,
        areas: Sequence[str] | None = None,
        staff_id: int | None = None,
        agency_group: str | None = None,
    ) -> Counts: ...
    async def counts_of_spans(
        self,
        spans: Sequence[tuple[date, date]],
        *,
        areas: Sequence[str] | None = None,
        staff_id: int | None = None,
        agency_group: str | None = None,
    ) -> list[Counts]:
        """`counts` of each span (first and last day, inclusive), in the order given, from one statement."""
        ...

    async def counts_by_areas(
        self,
        spans: Sequence[tuple[date, date]],
        groups: Sequence[Sequence[str] | None],
        *,
        agency_group: str | None = None,
    ) -> list[list[Counts]]:
        """For each group of areas (None: every area), `counts_of_spans(spans, areas=group)`, from one statement
        for all the groups."""
        ...

    async def counts_from_records(
        self,
        spans: Sequence[tuple[date, date]],
        *,
        areas: Sequence[str] | None = None,
        staff_id: int | None = None,
        agency_group: str | None = None,
    ) -> list[Counts]:
        """`counts_of_spans` counted from the records themselves (what the tallies always equal)."""
        ...

    async def differences(self) -> tuple[int, int]:
        """How many rows of (daily, monthly) tallies differ from what the records make; (0, 0): they agree."""
        ...

    async def rebuild(self) -> tuple[int, int]:
        """Every tally recomputed from the records in one transaction; the rows of (daily, monthly) it changed."""
        ...

    async def baseline(self, fiscal_year: int, outing_channel: str) -> Counts: ...
    async def counts_by_staff(
        self, start: date, end: date, *, areas: Sequence[str] | None = None
    ) -> dict[int, tuple[int, int]]:
        """(outings, consultations) dated start..end of each staff member who recorded any, optionally in some
        areas (担当者別, the digest's per-staff counts)."""
        ...

    async def staff_counts_by_areas(
        self, start: date, end: date, groups: Sequence[Sequence[str] | None]
    ) -> list[dict[int, tuple[int, int]]]:
        """For each group of areas (None: every area), `counts_by_staff(start, end, areas=group)`, from one
        statement for all the groups."""
        ...

    async def last_outing_by_area(self, until: date, *, areas: Sequence[str] | None = None) -> dict[str, date]:
        """The date of the last outing on or before `until` in each area that had one (地域別, areas not visited)."""
        ...

    async def totals_by_areas(
        self, spans: Sequence[tuple[date, date]], groups: Sequence[Sequence[str] | None]
    ) -> list[list[tuple[int, int, int]]]:
        """For each group of areas (None: every area), (outings, consultations, consultations at outings) of each
        span, from one statement: the headline figures alone, for long spans (a digest's year to date)."""
        ...

    async def staff_with_records(self, start: date, end: date, staff_ids: Sequence[int] | None = None) -> set[int]:
        """Which of these staff members (without `staff_ids`: of everyone) recorded anything dated start..end."""
        ...

    async def followup_numbers(self, today: date, areas: Sequence[str] | None = None) -> tuple[int, int]: ...


class Tables(Protocol):
    """The grouped counts behind the supervisors' tables (月別, 活動内容 × 支援先, 参加人数, 地域別, 担当者別,
    要フォロー by 対応結果). Days are first..last, inclusive; areas None: every area."""

    async def outing_cells(
        self, start: date, end: date, *, areas: Sequence[str] | None = None, staff_id: int | None = None
    ) -> list[OutingCell]:
        """Outings by month, activity and destination, with their headcounts."""
        ...

    async def consultations_by_month(
        self, start: date, end: date, *, areas: Sequence[str] | None = None, staff_id: int | None = None
    ) -> dict[tuple[str, str], int]:
        """Consultations by (month as YYYY-MM, consulter group)."""
        ...

    async def counts_by_area(
        self, start: date, end: date, *, areas: Sequence[str] | None = None, staff_id: int | None = None
    ) -> dict[str, tuple[int, int]]:
        """(outings, consultations) of each area that had any."""
        ...

    async def referrals_by_staff(self, start: date, end: date, *, areas: Sequence[str] | None = None) -> dict[int, int]:
        """Consultation–agency pairs (つなぎ先) by the staff member who recorded the consultation."""
        ...

    async def followup_outcomes(
        self, start: datetime, end: datetime, *, areas: Sequence[str] | None = None, owner_id: int | None = None
    ) -> tuple[dict[str | None, int], dict[str, int]]:
        """Follow-ups opened in [start, end) by their outcome now (None: open), and closed in it by outcome."""
        ...


class Outbox(Protocol):
    """Scheduled sends, claimed before they are sent and marked after, so that none goes twice."""

    async def claim(self, key: str, kind: str, chat_id: int, now: datetime) -> bool: ...
    async def sent(self, key: str, now: datetime) -> None: ...
    async def sent_and_claim(self, done: tuple[str, int], key: str, kind: str, chat_id: int, now: datetime) -> bool:
        """`sent(done[0], now)` and then `claim(key, kind, chat_id, now)`, atomically, in one trip to the
        database: the next send of a series claimed together with the mark of the one that went out. `done` is
        the (key, chat id) of a send of the same kind; were its row gone, it is written as sent."""
        ...

    async def release(self, key: str) -> None: ...
    async def give_up(self, key: str, status: str, error: str) -> None: ...
    async def interrupted(self) -> list[str]: ...
    async def status(self, key: str) -> str | None: ...
    async def statuses(self, prefix: str) -> dict[str, str]:
        """The status of every send whose key starts with `prefix` (not empty), by key."""
        ...


class Meta(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def put(self, key: str, value: str) -> None: ...
    async def set_once(self, key: str, value: str) -> str: ...


class Audit(Protocol):
    async def record(
        self, tx: Tx, actor_id: int | None, action: str, subject: str, detail: str, now: datetime
    ) -> None: ...
    async def since(self, moment: datetime | None = None) -> list[AuditEntry]: ...


class Imports(Protocol):
    """Historical records and past years' totals, written all or nothing."""

    async def already_imported(self, kind: ImportKind, sha256: str) -> tuple[int, datetime] | None: ...
    async def same_rows_imported(self, kind: ImportKind, fingerprint: str) -> ImportInfo | None:
        """An earlier import of this kind whose file had the same rows (the reader's fingerprint), or None."""
        ...

    async def present_record_ids(self, record_ids: Iterable[str]) -> set[str]:
        """Which of these record ids an outing or a consultation of the database has."""
        ...

    async def list_imports(self) -> list[ImportInfo]: ...
    async def missing_staff(self, names: Iterable[str]) -> list[str]: ...
    async def baseline_overlap(self, keys: Iterable[tuple[int, str, str]]) -> int: ...
    async def write_records(
        self, rows: Iterable[RecordRow], *, filename: str, sha256: str, now: datetime, fingerprint: str | None = None
    ) -> RecordsWritten:
        """All rows or none; a row whose record_id the database has is skipped (`already_present`)."""
        ...

    async def write_baseline(
        self, rows: Iterable[BaselineRow], *, filename: str, sha256: str, now: datetime, fingerprint: str | None = None
    ) -> BaselineWritten: ...


class Inbox(Protocol):
    """Received updates kept until handled, and the set of updates handled (see bot/ledger.py)."""

    async def processed_ids(self, bot_id: int) -> set[int]: ...
    async def mark(self, tx: Tx, key: IdempotencyKey, now: datetime) -> None: ...
    async def record(self, key: IdempotencyKey, now: datetime) -> None: ...
    async def receive(self, bot_id: int, updates: list[tuple[int, str]], now: datetime) -> None: ...
    async def unprocessed(self, bot_id: int) -> list[tuple[int, str]]: ...
    async def prune(self, before: datetime) -> dict[int, int]: ...
    # The queue of webhook updates that workers share (bot/worker.py).
    async def enqueue(self, bot_id: int, update_id: int, chat_key: int | None, payload: str, now: datetime) -> bool: ...
    async def payload(self, bot_id: int, update_id: int) -> str | None:
        """What was kept under this key, opened (None: nothing)."""
        ...

    async def claim(self, bot_id: int, worker: str, now: datetime, lease: timedelta) -> InboxClaim | None:
        """The next update whose person has no earlier open update and no claimed one, claimed until now + lease;
        the one method where workers compete (row-locking engines: FOR UPDATE SKIP LOCKED)."""
        ...

    async def renew(self, bot_id: int, worker: str, now: datetime, lease: timedelta) -> int: ...
    async def release(
        self, bot_id: int, update_id: int, worker: str, now: datetime, *, handled: bool, record: bool = False
    ) -> bool: ...
    async def take_over(self, bot_id: int, now: datetime) -> list[tuple[int, str]]: ...


class Places(Protocol):
    """The register of places (活動先); public activities, never personal data."""

    async def add(
        self, tx: Tx, place: NewPlace, now: datetime, *, by: int | None = None, confirmed: bool = True
    ) -> Place: ...
    async def get(self, place_id: int) -> Place | None: ...
    async def named(self, area: str, name: str) -> Place | None: ...
    async def all(self, areas: Sequence[str] | None = None) -> list[Place]: ...
    async def update(self, tx: Tx, place: Place, now: datetime) -> bool: ...
    async def import_all(self, places: Sequence[NewPlace], now: datetime, *, by: int | None = None) -> tuple[int, int]:
        """Add or update (by area and name) every place of a file, all or nothing: (added, updated)."""
        ...

    async def recent_for(self, staff_id: int, limit: int = 6, *, area: str | None = None) -> list[Place]:
        """The places a staff member went to lately, most recent first, not ended."""
        ...

    async def offered(
        self, staff_id: int, areas: Sequence[str] | None, limit: int = 6
    ) -> tuple[list[Place], list[Place]]:
        """The places an outing offers: this staff member's recent ones (most recent first), then the others."""
        ...

    async def activity(
        self, start: date, end: date, outreach: str | None, areas: Sequence[str] | None = None
    ) -> dict[int, PlaceActivity]:
        """Outings, consultations and 働きかけ (outings of the activity `outreach`) at each place dated start..end,
        and its last outing up to `end`."""
        ...


class PlaceInputs(Protocol):
    """The one typed answer a /places button waits for, per staff member."""

    async def expect(self, tx: Tx, staff_id: int, answer: PlaceInput) -> None: ...
    async def get(self, staff_id: int, not_before: datetime) -> PlaceInput | None: ...
    async def clear(self, tx: Tx, staff_id: int) -> None: ...


class LineWorksUsers(Protocol):
    """The LINE WORKS users met, by the account number staff and drafts know them by (core/accounts.py)."""

    async def remember(self, user_id: str, now: datetime) -> int: ...
    async def user_id(self, account: int) -> str | None: ...


class UsedLinks(Protocol):
    """The note form's links that have been used (each is usable once)."""

    async def use(self, tx: Tx, token_hash: str, purpose: str, staff_id: int, now: datetime) -> bool:
        """Mark a link used in `tx`; False when it was used before."""
        ...

    async def used(self, token_hash: str) -> bool: ...
    async def prune(self, before: datetime) -> int: ...


class Store(Protocol):
    """One council's data."""

    @property
    def drafts(self) -> Drafts: ...
    @property
    def pending(self) -> PendingInputs: ...
    @property
    def records(self) -> Records: ...
    @property
    def staff(self) -> StaffMembers: ...
    @property
    def invites(self) -> Invites: ...
    @property
    def followups(self) -> FollowUps: ...
    @property
    def tallies(self) -> Tallies: ...
    @property
    def tables(self) -> Tables: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def meta(self) -> Meta: ...
    @property
    def audit(self) -> Audit: ...
    @property
    def imports(self) -> Imports: ...
    @property
    def inbox(self) -> Inbox: ...
    @property
    def places(self) -> Places: ...
    @property
    def place_inputs(self) -> PlaceInputs: ...
    @property
    def used_links(self) -> UsedLinks: ...
    @property
    def lineworks_users(self) -> LineWorksUsers: ...

    # Told of every update whose unit of work committed (the delivery ledger).
    settled: Callable[[IdempotencyKey], None] | None

    def unit(self, key: IdempotencyKey | None, now: datetime) -> AbstractAsyncContextManager[Tx]:
        """A write transaction recording `key` (AlreadyProcessed if it was recorded before)."""
        ...

    async def close(self) -> None: ...
