"""The weekly digest: when it is due, who gets which scope, and sending each part exactly once via the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core.clock import Clock, parse_utc, utc_iso
from core.faults import crash_point
from core.i18n import t
from core.models import Role, Staff
from core.periods import Period, previous_period, same_period_last_year, week_containing
from core.schedule import DigestSchedule
from core.taxonomy import Taxonomy
from reports.charts import comparison_chart
from reports.digest import render_digest
from reports.tally import Report, build_report
from services.access import Scope
from services.outbound import DeliveryError, Sender
from services.reporting import Reporter, render_off_loop
from storage.interface import Store
from storage.types import FAILED, UNKNOWN

log = logging.getLogger(__name__)


def due_week(now: datetime, tz: ZoneInfo, schedule: DigestSchedule) -> tuple[Period, datetime]:
    """The week whose digest is due now (the last full week before the latest scheduled moment), and that moment."""
    moment = schedule.latest(now, tz)
    return previous_period(week_containing(moment.date())), moment


@dataclass(frozen=True, slots=True)
class Recipient:
    chat_id: int
    scope: Scope
    private: bool  # group chats get counts only: no names of staff
    scope_label: str


def recipients(staff: Sequence[Staff], taxonomy: Taxonomy, group_chat: int | None) -> list[Recipient]:
    """Supervisors get their zone privately, admins the whole council, the optional group chat counts only."""
    found: list[Recipient] = []
    for person in staff:
        if not person.active or person.telegram_id is None:
            continue
        if person.role is Role.SUPERVISOR and person.zone is not None:
            found.append(Recipient(person.telegram_id, Scope(zone=person.zone), True, taxonomy.zone_label(person.zone)))
        elif person.role is Role.ADMIN:
            found.append(Recipient(person.telegram_id, Scope(), True, t("common.all_zones")))
    if group_chat is not None:
        found.append(Recipient(group_chat, Scope(), False, t("common.all_zones")))
    return found


def idle_staff(staff: Sequence[Staff], scope: Scope, recorded: set[int]) -> list[Staff]:
    """Staff in the scope who recorded nothing (admins are not expected to record)."""
    return [
        p
        for p in staff
        if p.active
        and not p.imported
        and p.role is not Role.ADMIN
        and (scope.zone is None or p.zone == scope.zone)
        and p.id not in recorded
    ]


class DigestService:
    def __init__(
        self,
        store: Store,
        taxonomy: Taxonomy,
        sender: Sender,
        clock: Clock,
        tz: ZoneInfo,
        schedule: DigestSchedule | None,
        group_chat: int | None = None,
        *,
        draw: Callable[[Report, str], bytes] = comparison_chart,
    ) -> None:
        self.store = store
        self.taxonomy = taxonomy
        self.sender = sender
        self.clock = clock
        self.tz = tz
        self.schedule = schedule
        self.group_chat = group_chat
        self.draw = draw  # the chart of a digest (the benchmark of the digest's data and text draws nothing)
        self.reporter = Reporter(store, taxonomy)

    async def run(self) -> int:
        """Send every digest part that is due and not yet sent; returns how many parts were sent."""
        if self.schedule is None:
            return 0
        now = self.clock.now()
        week, moment = due_week(now, self.tz, self.schedule)
        installed = parse_utc(await self.store.meta.set_once("installed_at", utc_iso(now)))
        if moment < installed:
            return 0  # the bot did not exist at that moment: no digest was ever due for that week
        staff = await self.store.staff.all()
        sent = 0
        composed: dict[tuple[Scope, bool], tuple[list[str], bytes]] = {}  # recipients of one zone share a digest
        for recipient in recipients(staff, self.taxonomy, self.group_chat):
            sent += await self._send_one(recipient, week, staff, composed)
        return sent

    async def _send_one(
        self,
        recipient: Recipient,
        week: Period,
        staff: Sequence[Staff],
        composed: dict[tuple[Scope, bool], tuple[list[str], bytes]],
    ) -> int:
        key = f"digest:{week.key}:{recipient.chat_id}"
        chart_key = f"{key}:chart"  # the last part: once it was attempted, the whole digest was
        if await self.store.outbox.status(chart_key) is not None:
            return 0
        key_of_content = (recipient.scope, recipient.private)
        if key_of_content not in composed:
            composed[key_of_content] = await self._compose(recipient, week, staff)
        texts, chart = composed[key_of_content]
        caption = t("report.misc.chart_caption", period=week.label)
        parts: list[tuple[str, str | bytes]] = [(f"{key}:text:{i}", text) for i, text in enumerate(texts)]
        parts.append((chart_key, chart))
        sent = 0
        for part, content in parts:
            if not await self.store.outbox.claim(part, "digest", recipient.chat_id, self.clock.now()):
                continue  # sent (or given up) by an earlier run
            try:
                if isinstance(content, str):
                    await self.sender.text(recipient.chat_id, content)
                else:
                    await self.sender.photo(recipient.chat_id, content, caption)
            except DeliveryError as exc:
                log.warning("digest part %s not delivered (%s): %s", part, exc.outcome, exc)
                if exc.outcome == "retry":
                    await self.store.outbox.release(part)
                    return sent  # the rest waits for the next run, in order
                await self.store.outbox.give_up(part, UNKNOWN if exc.outcome == "unknown" else FAILED, str(exc))
                if exc.outcome == "failed":
                    return sent
                continue
            crash_point("digest.sent")
            await self.store.outbox.sent(part, self.clock.now())
            sent += 1
        log.info("digest %s sent to chat %s", week.key, recipient.chat_id)
        return sent

    async def _compose(self, recipient: Recipient, week: Period, staff: Sequence[Staff]) -> tuple[list[str], bytes]:
        scope = recipient.scope
        current = await self.reporter.counts(week, scope)
        before = previous_period(week)
        last_year = same_period_last_year(week)
        versus_week = build_report(self.taxonomy, week, current, before, await self.reporter.counts(before, scope))
        versus_year = build_report(
            self.taxonomy, week, current, last_year, await self.reporter.counts(last_year, scope)
        )
        today = self.clock.now().astimezone(self.tz).date()
        followups = await self.store.tallies.followup_numbers(today, scope.areas(self.taxonomy))
        idle_names: list[str] | None = None
        if recipient.private:
            candidates = idle_staff(staff, scope, set())
            recorded = await self.store.tallies.staff_with_records(week.start, week.end, [p.id for p in candidates])
            idle_names = [p.name for p in candidates if p.id not in recorded]
        texts = render_digest(recipient.scope_label, versus_week, versus_year, followups, idle_names)
        chart = await render_off_loop(lambda: self.draw(versus_week, "activity"))
        return texts, chart
