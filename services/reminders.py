"""Scheduled follow-up jobs: reminders on the due date (and weekly while overdue), and retention erasure."""

from __future__ import annotations

import logging
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from core.clock import Clock
from core.faults import crash_point
from core.i18n import t
from core.models import Role
from core.taxonomy import Taxonomy
from services.followups import card_buttons, card_text
from services.outbound import DeliveryError, Sender
from storage.interface import Store
from storage.types import FAILED, UNKNOWN, FollowUp

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
        day = self.reminder_day()
        sent = 0
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


class RetentionService:
    """Nightly: the reason and notes of follow-ups closed more than RETENTION_DAYS ago are erased and the label
    replaced; the rows stay, so every count (and every report) is unchanged."""

    RUN_AFTER = time(3, 0)

    def __init__(self, store: Store, clock: Clock, tz: ZoneInfo, retention_days: int) -> None:
        self.store = store
        self.clock = clock
        self.tz = tz
        self.retention = timedelta(days=retention_days)

    async def candidates(self) -> list[FollowUp]:
        return await self.store.followups.closed_before(self.clock.now() - self.retention)

    async def run(self, *, force: bool = False) -> int:
        local = self.clock.now().astimezone(self.tz)
        if not force and (
            local.time() < self.RUN_AFTER or await self.store.meta.get("purged_on") == local.date().isoformat()
        ):
            return 0
        erased = await self.store.followups.erase(
            [f.id for f in await self.candidates()], t("followup.erased_label"), self.clock.now()
        )
        await self.store.meta.put("purged_on", local.date().isoformat())
        if erased:
            log.info("retention: erased the personal text of %d closed follow-up(s)", erased)
        return erased
