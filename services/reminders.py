"""Scheduled jobs: follow-up reminders on the due date (and weekly while overdue), the notes to supervisors about
a deactivated person's follow-ups, retention erasure of personal text, and the expiry of abandoned drafts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core import dates
from core.buttons import FollowUpOwnerPage
from core.clock import Clock, parse_utc, utc_iso
from core.faults import crash_point
from core.i18n import t
from core.models import Role
from core.taxonomy import Taxonomy
from services.flow import load_state
from services.followups import card_buttons, card_text
from services.outbound import DeliveryError, Sender
from services.screens import Choice, rows
from storage.interface import Meta, Store
from storage.types import FAILED, UNKNOWN, Draft, FollowUp, HandoverNote

log = logging.getLogger(__name__)

REMIND_EVERY = timedelta(days=7)


class ReminderService:
    """On the due date at REMINDER_TIME the owner is reminded privately; an overdue follow-up again every 7 days
    until it is closed or its date moved. What is due is read from rows; the outbox makes each reminder once."""

    def __init__(self, store: Store, taxonomy: Taxonomy, sender: Sender, clock: Clock, tz: ZoneInfo, at: time) -> None:
        self.store = store
        self.taxonomy = taxonomy
        self.sender = sender
        self.clock = clock
        self.tz = tz
        self.at = at

    def reminder_day(self) -> date:
        """Today once REMINDER_TIME has passed, else yesterday: nothing is reminded before that time of day."""
        local = self.clock.now().astimezone(self.tz)
        return local.date() if local.time() >= self.at else local.date() - timedelta(days=1)

    async def run(self) -> int:
        sent = await self.handovers()
        day = self.reminder_day()
        for followup in await self.store.followups.due_for_reminder(day):
            owner = await self.store.staff.get(followup.owner_id)
            if owner is None or not owner.active or owner.telegram_id is None:
                continue  # a deactivated owner is reminded of nothing; a supervisor reassigns
            key = f"reminder:{followup.id}:{day.isoformat()}"
            if not await self.store.outbox.claim(key, "reminder", owner.telegram_id, self.clock.now()):
                await self.store.followups.mark_reminded(followup.id, day)  # sent by a run that died before this
                continue
            text = t("followup.reminder", card=card_text(followup, self.taxonomy, day))
            buttons = card_buttons(followup, reassign=owner.role is not Role.STAFF)
            try:
                await self.sender.text(owner.telegram_id, text, buttons)
            except DeliveryError as exc:
                log.warning("reminder %s not delivered (%s): %s", key, exc.outcome, exc)
                if exc.outcome == "retry":
                    await self.store.outbox.release(key)
                    continue
                await self.store.outbox.give_up(key, UNKNOWN if exc.outcome == "unknown" else FAILED, str(exc))
            else:
                crash_point("reminder.sent")
                await self.store.outbox.sent(key, self.clock.now())
                sent += 1
            await self.store.followups.mark_reminded(followup.id, day)
        return sent

    async def handovers(self) -> int:
        """The notes queued when a person with open follow-ups was deactivated: each to a supervisor of the
        person's zone, once (the outbox), at the first tick after the deactivation committed."""
        sent = 0
        for note in await self.store.staff.handover_notes():
            sent += await self._handover(note)
        return sent

    async def _handover(self, note: HandoverNote) -> int:
        if not await self.store.outbox.claim(note.key, "handover", note.chat_id, self.clock.now()):
            await self.store.staff.handover_note_done(note.key)  # settled by a run that stopped before saying so
            return 0
        sent = 0
        button = Choice(t("followup.owner.handover_button"), FollowUpOwnerPage(note.staff_id))
        try:
            await self.sender.text(note.chat_id, note.text, rows([button]))
        except DeliveryError as exc:
            log.warning("handover note %s not delivered (%s): %s", note.key, exc.outcome, exc)
            if exc.outcome == "retry":
                await self.store.outbox.release(note.key)
                return 0  # still queued: the next tick tries again
            await self.store.outbox.give_up(note.key, UNKNOWN if exc.outcome == "unknown" else FAILED, str(exc))
        else:
            await self.store.outbox.sent(note.key, self.clock.now())
            sent = 1
        await self.store.staff.handover_note_done(note.key)
        return sent


class NightlyWatch:
    """When a nightly job last ran by the clock (kept in meta), and how far a run may trust the clock now.

    A job runs once a local day, at its first tick after RUN_AFTER. A run treats as past only what was past at
    the previous run already, so nothing is erased until two runs, a night apart, have seen it due. A clock that
    jumps ahead is seen once by the run right after the jump, which erases nothing that was not due before the
    jump; if the clock stays there, the next nightly run erases what is due by the jumped time: the jump was
    real, and it has been seen twice. (A normal nightly schedule erases the night after the one that first
    saw something due: within two days of its due time.) A clock behind the previous run (it went backwards)
    erases nothing, and its time is the one the next run compares with. The first run ever only takes note.
    """

    RUN_AFTER = time(3, 0)

    def __init__(self, meta: Meta, clock: Clock, tz: ZoneInfo, key: str) -> None:
        self.meta = meta
        self.clock = clock
        self.tz = tz
        self.key = key

    async def last_run(self) -> datetime | None:
        stored = await self.meta.get(self.key)
        return parse_utc(stored) if stored else None

    async def due(self) -> tuple[bool, datetime | None]:
        """Whether a nightly run is due now, and the moment it may trust (None: erase nothing this time)."""
        now = self.clock.now()
        local = now.astimezone(self.tz)
        previous = await self.last_run()
        ran_today = previous is not None and previous.astimezone(self.tz).date() == local.date()
        if local.time() < self.RUN_AFTER or ran_today:
            return False, None
        return True, previous if previous is not None and previous <= now else None

    async def ran(self) -> None:
        await self.meta.put(self.key, utc_iso(self.clock.now()))


@dataclass(frozen=True, slots=True)
class Erasable:
    """What retention erases: closed follow-ups, and the memos of submissions as (submission id, saved at)."""

    followups: list[FollowUp]
    memos: list[tuple[int, datetime]]


class ClockBehind(Exception):
    """The clock is behind the last nightly run: it went backwards, and nothing is erased by it."""

    def __init__(self, last_run: datetime) -> None:
        super().__init__(f"the clock is behind the last nightly run ({utc_iso(last_run)})")
        self.last_run = last_run


class RetentionService:
    """Nightly: personal text past RETENTION_DAYS is erased, each erasure audited (never the text): the reason
    and notes of a follow-up closed that long ago (its label replaced), and the memo of an outing or
    consultation saved that long ago. The rows stay, so every count (and every report) is unchanged. The
    nightly run trusts the clock only as far as `NightlyWatch` says; `fieldbot purge` erases by the clock now."""

    WATCH = "retention_run_at"

    def __init__(self, store: Store, clock: Clock, tz: ZoneInfo, retention_days: int) -> None:
        self.store = store
        self.clock = clock
        self.tz = tz
        self.retention = timedelta(days=retention_days)
        self.watch = NightlyWatch(store.meta, clock, tz, self.WATCH)

    async def candidates(self, moment: datetime | None = None) -> Erasable:
        """What is past the retention period at `moment` (the clock's now by default) and still kept."""
        before = (moment or self.clock.now()) - self.retention
        return Erasable(
            await self.store.followups.closed_before(before), await self.store.records.memos_saved_before(before)
        )

    async def run(self, *, force: bool = False) -> int:
        """The nightly job (the scheduler's tick); `force`: now, by the clock now (`fieldbot purge`)."""
        if force:
            return await self.erase(await self.purgeable())
        due, trusted = await self.watch.due()
        if not due:
            return 0
        erased = await self.erase(await self.candidates(trusted)) if trusted is not None else 0
        await self.watch.ran()
        return erased

    async def purgeable(self) -> Erasable:
        """For an admin at the terminal: what is past the period by the clock now; ClockBehind if the clock is
        behind the last nightly run (a clock that went backwards erases nothing)."""
        last_run = await self.watch.last_run()
        if last_run is not None and self.clock.now() < last_run:
            raise ClockBehind(last_run)
        return await self.candidates()

    async def erase(self, found: Erasable) -> int:
        now = self.clock.now()
        followups = await self.store.followups.erase([f.id for f in found.followups], t("followup.erased_label"), now)
        memos: list[int] = []
        if found.memos:
            async with self.store.unit(None, now) as tx:
                memos = await self.store.records.erase_memos(tx, [submission for submission, _ in found.memos])
                for submission in memos:
                    await self.store.audit.record(tx, None, "memo.erase", f"submission:{submission}", "retention", now)
        if followups or memos:
            log.info(
                "retention: erased the personal text of %d closed follow-up(s) and %d memo(s)", followups, len(memos)
            )
        return followups + len(memos)


class DraftExpiryService:
    """Nightly: a draft nobody answered for DRAFT_RETENTION_DAYS is dropped (what was typed so far goes with it,
    audited) and its owner told privately, with the draft's date and area, never its text. The drop and the
    note to send commit together; the note then goes through the outbox like a reminder, from `at` (the
    reminders' time of day: not in the night of the drop) on: it is sent once, also when the process stops
    between the drop and the send. Runs trust the clock as `NightlyWatch` says."""

    WATCH = "drafts_run_at"

    def __init__(
        self,
        store: Store,
        taxonomy: Taxonomy,
        sender: Sender,
        clock: Clock,
        tz: ZoneInfo,
        retention_days: int,
        at: time = time(9, 0),
    ) -> None:
        self.store = store
        self.taxonomy = taxonomy
        self.sender = sender
        self.clock = clock
        self.tz = tz
        self.days = retention_days
        self.at = at
        self.watch = NightlyWatch(store.meta, clock, tz, self.WATCH)

    async def run(self) -> int:
        """Every tick: the nightly drop when due, then, in the daytime, any note still to send."""
        dropped = await self.drop()
        if self.clock.now().astimezone(self.tz).time() >= self.at:
            await self.notify()
        return dropped

    async def drop(self) -> int:
        due, trusted = await self.watch.due()
        if not due:
            return 0
        dropped = 0
        if trusted is not None:
            for draft in await self.store.drafts.untouched_since(trusted - timedelta(days=self.days)):
                dropped += await self._drop(draft)
        await self.watch.ran()
        if dropped:
            log.info("drafts: dropped %d draft(s) untouched for %d days", dropped, self.days)
        return dropped

    async def _drop(self, draft: Draft) -> int:
        now = self.clock.now()
        note = await self._note(draft)
        async with self.store.unit(None, now) as tx:
            if not await self.store.drafts.expire(tx, draft, note):
                return 0  # answered since it was read: kept
            detail = f"untouched {self.days} days"
            await self.store.audit.record(tx, None, "draft.expire", f"draft:{draft.id}", detail, now)
        crash_point("draft.dropped")
        return 1

    async def _note(self, draft: Draft) -> tuple[str, int, str] | None:
        """(outbox key, chat, text) of the note to the owner; None for an owner who is gone (told nothing)."""
        owner = await self.store.staff.get(draft.staff_id)
        if owner is None or not owner.active or owner.telegram_id is None:
            return None
        state = load_state(draft)
        if state is None:
            text = t("flow.expired_draft.note_undated", days=self.days)
        else:
            area = self.taxonomy.area_label(state.area)
            day = dates.short_for(state.date, self.clock.now().astimezone(self.tz).date())
            text = t("flow.expired_draft.note", date=day, area=area, days=self.days)
        # Draft ids may be reused once the newest is deleted: its creation time makes the key this draft's.
        return f"draft-expired:{draft.id}:{utc_iso(draft.created_at)}", owner.telegram_id, text

    async def notify(self) -> int:
        sent = 0
        for key, chat_id, text in await self.store.drafts.expiry_notes():
            sent += await self._send(key, chat_id, text)
        return sent

    async def _send(self, key: str, chat_id: int, text: str) -> int:
        if not await self.store.outbox.claim(key, "draft-expired", chat_id, self.clock.now()):
            await self.store.drafts.expiry_note_done(key)  # settled by a run that stopped before saying so
            return 0
        sent = 0
        try:
            await self.sender.text(chat_id, text)
        except DeliveryError as exc:
            log.warning("draft note %s not delivered (%s): %s", key, exc.outcome, exc)
            if exc.outcome == "retry":
                await self.store.outbox.release(key)
                return 0  # still queued: the next tick tries again
            await self.store.outbox.give_up(key, UNKNOWN if exc.outcome == "unknown" else FAILED, str(exc))
        else:
            crash_point("draft.note_sent")
            await self.store.outbox.sent(key, self.clock.now())
            sent = 1
        await self.store.drafts.expiry_note_done(key)
        return sent
