"""The weekly digest: when it is due, who gets which scope, and sending each part exactly once via the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from core.clock import Clock, JumpWatch, parse_utc, utc_iso
from core.faults import crash_point
from core.i18n import t
from core.models import Role, Staff
from core.periods import Period, fiscal_year_of, previous_period, same_period_last_year, so_far, week_containing
from core.schedule import DigestSchedule
from core.taxonomy import Area, Taxonomy
from reports.charts import comparison_chart
from reports.digest import (
    OVERDUE_SHOWN,
    QUIET_DAYS,
    QUIET_PLACE_WEEKS,
    DigestContent,
    Figures,
    OverdueFollowUp,
    QuietArea,
    StaffCounts,
    YearToDate,
    render_digest,
    week_label,
)
from reports.places import quiet_places
from reports.tally import Report, build_report
from services.access import Scope
from services.followups import owner_label
from services.outbound import DeliveryError, Sender
from services.reporting import Reporter, render_off_loop
from storage.interface import Outbox, Store
from storage.types import FAILED, UNKNOWN, FollowUpScope

log = logging.getLogger(__name__)


def due_week(now: datetime, tz: ZoneInfo, schedule: DigestSchedule) -> tuple[Period, datetime]:
    """The week whose digest is due now (the last full week before the latest scheduled moment), and that moment."""
    moment = schedule.latest(now, tz)
    return _named(previous_period(week_containing(moment.date()))), moment


def _named(week: Period) -> Period:
    """The week labelled as an office names it, 11/16(月)〜11/22(日) (its key stays the ISO week's)."""
    return Period(week.kind, week.start, week.end, label=week_label(week))


@dataclass(frozen=True, slots=True)
class Recipient:
    chat_id: int
    scope: Scope
    private: bool  # group chats get counts only: no names of staff
    scope_label: str


def recipients(staff: Sequence[Staff], taxonomy: Taxonomy, group_chats: Sequence[int] = ()) -> list[Recipient]:
    """Supervisors get their zone privately, admins the whole council, the group chats (a Telegram group, a LINE
    WORKS room) counts only."""
    found: list[Recipient] = []
    for person in staff:
        if not person.active or person.telegram_id is None:
            continue
        if person.role is Role.SUPERVISOR and person.zone is not None:
            found.append(Recipient(person.telegram_id, Scope(zone=person.zone), True, taxonomy.zone_label(person.zone)))
        elif person.role is Role.ADMIN:
            found.append(Recipient(person.telegram_id, Scope(), True, t("common.all_zones")))
    found.extend(Recipient(chat, Scope(), False, t("common.all_zones")) for chat in group_chats)
    return found


def idle_staff(staff: Sequence[Staff], scope: Scope, recorded: set[int]) -> list[Staff]:
    """Area staff in the scope who recorded nothing. Supervisors and admins read the digest and are not expected
    to record (one who did is among the staff with counts)."""
    return [
        p
        for p in staff
        if p.active
        and not p.imported
        and p.role is Role.STAFF
        and (scope.zone is None or p.zone == scope.zone)
        and p.id not in recorded
    ]


Content = tuple[list[str], bytes]  # a digest's messages and its chart


def _content_of(recipient: Recipient) -> tuple[Scope, bool]:
    """What a digest's content depends on: recipients of one zone (or the council, privately) share one."""
    return recipient.scope, recipient.private


class _Claims:
    """The outbox claims and marks of one run's digest parts, in order. A part that went out is marked sent in
    the same statement that claims the next part (one trip to the database instead of two); the last one on
    `close`. Nothing runs between a send and that statement but the loop to the next part."""

    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self.outbox = outbox
        self.clock = clock
        self.unmarked: tuple[str, int] | None = None  # (key, chat id) of a part sent and not yet marked

    async def claim(self, key: str, chat_id: int) -> bool:
        """True if this part is ours to send: no earlier run sent it, is sending it, or gave up on it."""
        if self.unmarked is None:
            return await self.outbox.claim(key, "digest", chat_id, self.clock.now())
        claimed = await self.outbox.sent_and_claim(self.unmarked, key, "digest", chat_id, self.clock.now())
        self.unmarked = None  # (were the statement to fail, `close` would still mark it)
        return claimed

    def sent(self, key: str, chat_id: int) -> None:
        self.unmarked = (key, chat_id)

    async def close(self) -> None:
        done, self.unmarked = self.unmarked, None
        if done is not None:
            await self.outbox.sent(done[0], self.clock.now())


class DigestService:
    def __init__(
        self,
        store: Store,
        taxonomy: Taxonomy,
        sender: Sender,
        clock: Clock,
        tz: ZoneInfo,
        schedule: DigestSchedule | None,
        group_chats: Sequence[int] = (),
        *,
        draw: Callable[[Report, str], bytes] = comparison_chart,
    ) -> None:
        self.store = store
        self.taxonomy = taxonomy
        self.sender = sender
        self.clock = clock
        self.tz = tz
        self.schedule = schedule
        self.group_chats = tuple(group_chats)
        self.draw = draw  # the chart of a digest (the benchmark of the digest's data and text draws nothing)
        self.reporter = Reporter(store, taxonomy)
        self._installed: datetime | None = None  # written once (set_once), so read once
        self.watch = JumpWatch(clock)  # a digest waits while the clock has just been set

    async def run(self) -> int:
        """Send every digest part that is due and not yet sent; returns how many parts were sent.

        The outbox statuses of the week's digests are one query, beside the staff; a recipient whose digest was
        attempted to the end costs nothing more. The distinct contents the others need are composed together
        (see _compose), then each recipient's parts go out in order, each claimed before it is sent and marked
        after (see _Claims)."""
        if self.schedule is None or not self._clock_steady():
            return 0
        now = self.clock.now()
        week, moment = due_week(now, self.tz, self.schedule)
        if moment < await self._installed_at(now):
            return 0  # the bot did not exist at that moment: no digest was ever due for that week
        staff, attempted = await asyncio.gather(self.store.staff.all(), self.store.outbox.statuses(_prefix(week)))
        # The chart is the last part: once it was claimed, the whole digest was attempted.
        due = [r for r in recipients(staff, self.taxonomy, self.group_chats) if _key(week, r, "chart") not in attempted]
        if not due:
            return 0
        contents = await self._compose(due, week, staff)
        claims = _Claims(self.store.outbox, self.clock)
        sent = 0
        try:
            for recipient in due:
                sent += await self._send_one(recipient, week, contents[_content_of(recipient)], claims)
        finally:
            await claims.close()
        return sent

    def _clock_steady(self) -> bool:
        steady, jump = self.watch.steady()
        if jump is not None:
            log.warning(
                "the clock moved %s more than the time that passed; digests wait until it has run steadily for %s",
                jump,
                JumpWatch.SETTLE,
            )
        return steady

    async def _installed_at(self, now: datetime) -> datetime:
        if self._installed is None:
            self._installed = parse_utc(await self.store.meta.set_once("installed_at", utc_iso(now)))
        return self._installed

    async def _send_one(self, recipient: Recipient, week: Period, content: Content, claims: _Claims) -> int:
        texts, chart = content
        caption = t("report.misc.chart_caption", period=week.label)
        parts: list[tuple[str, str | bytes]] = [
            (_key(week, recipient, f"text:{i}"), text) for i, text in enumerate(texts)
        ]
        parts.append((_key(week, recipient, "chart"), chart))
        sent = 0
        for part, body in parts:
            if not await claims.claim(part, recipient.chat_id):
                continue  # sent (or given up) by an earlier run
            try:
                if isinstance(body, str):
                    await self.sender.text(recipient.chat_id, body)
                else:
                    await self.sender.photo(recipient.chat_id, body, caption)
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
            claims.sent(part, recipient.chat_id)
            sent += 1
        log.info("digest %s sent to chat %s", week.key, recipient.chat_id)
        return sent

    async def _compose(
        self, due: list[Recipient], week: Period, staff: Sequence[Staff]
    ) -> dict[tuple[Scope, bool], Content]:
        """The content of each distinct digest `due` needs (recipients of one zone share one). One statement each for
        all the scopes: the week and a year earlier, the years to date, each person's week, every area's last outing,
        who recorded; then each scope's follow-up numbers and, for private digests, overdue follow-ups and places."""
        distinct = {_content_of(r): r for r in due}
        scopes = list(dict.fromkeys(r.scope for r in due))
        private = list(dict.fromkeys(r.scope for r in due if r.private))
        year_ago = _named(same_period_last_year(week))
        ytd, ytd_before = so_far(fiscal_year_of(week.end), week.end)
        today = self.clock.now().astimezone(self.tz).date()
        areas = {s: s.areas(self.taxonomy) for s in scopes}
        active = {s: self._active_areas(s) for s in scopes}
        tallies = self.store.tallies
        every_area = list(dict.fromkeys(a.code for s in scopes for a in active[s]))
        groups = list(areas.values())
        each_scope = asyncio.gather(
            asyncio.gather(*(tallies.followup_numbers(today, areas[s]) for s in scopes)),
            asyncio.gather(*(self._overdue(areas[s], today) for s in private)),
            self._places(private, week.end),
        )
        counts, ytd_figures, by_staff, last_outing, recorded, (followups, overdue, places) = await asyncio.gather(
            self.reporter.counts_by_scope([week, year_ago], scopes),
            tallies.totals_by_areas([(ytd.start, ytd.end), (ytd_before.start, ytd_before.end)], groups),
            tallies.staff_counts_by_areas(week.start, week.end, groups),
            tallies.last_outing_by_area(week.end, areas=every_area),
            tallies.staff_with_records(week.start, week.end),
            each_scope,
        )
        per_scope = {
            s: (figures, numbers, people)
            for s, figures, numbers, people in zip(scopes, ytd_figures, followups, by_staff, strict=True)
        }
        overdue_of = dict(zip(private, overdue, strict=True))
        names = await self._names_of(staff, {i for people in by_staff for i in people})
        texts: dict[tuple[Scope, bool], list[str]] = {}
        charted: dict[tuple[Scope, bool], Report] = {}
        for key, recipient in distinct.items():
            scope = recipient.scope
            current, before = counts[scope]
            (now_ytd, before_ytd), numbers, people = per_scope[scope]
            versus_year = build_report(self.taxonomy, week, current, year_ago, before)
            content = DigestContent(
                scope_label=recipient.scope_label,
                week=versus_year,
                year_to_date=YearToDate(ytd, Figures(*now_ytd), Figures(*before_ytd)),
                staff=_staff_counts(people, names),
                idle=[p.name for p in idle_staff(staff, scope, recorded)],
                quiet_areas=quiet_areas(active[scope], last_outing, week.end),
                followups=numbers,
                overdue=overdue_of[scope] if recipient.private else None,
                today=today,
                private=recipient.private,
                quiet_places=places.get(scope, []) if recipient.private else [],
            )
            texts[key] = render_digest(content)
            # The chart draws the year-earlier bars only when that week has data (else they would read as zeros).
            charted[key] = versus_year if versus_year.comparable else build_report(self.taxonomy, week, current)
        return await self._with_charts(texts, charted)

    async def _with_charts(
        self, texts: dict[tuple[Scope, bool], list[str]], charted: dict[tuple[Scope, bool], Report]
    ) -> dict[tuple[Scope, bool], Content]:
        charts = await asyncio.gather(*(render_off_loop(partial(self.draw, r, "activity")) for r in charted.values()))
        return {key: (texts[key], chart) for key, chart in zip(charted, charts, strict=True)}

    async def _places(self, scopes: list[Scope], end: date) -> dict[Scope, list[tuple[str, date | None]]]:
        """For each scope of a private digest, its registered places without an outing for 8 weeks up to `end`
        (one read of the register and one of the places' last outings; nothing where there is no register)."""
        if not scopes:
            return {}
        registered = await self.store.places.all()
        if not registered:
            return {}
        last = await self.store.places.activity(end, end, None)
        found = {}
        for scope in scopes:
            areas = scope.areas(self.taxonomy)
            mine = [p for p in registered if areas is None or p.area in areas]
            quiet = quiet_places(mine, last, end, QUIET_PLACE_WEEKS)
            found[scope] = [(p.name, seen) for p, seen in quiet]
        return found

    def _active_areas(self, scope: Scope) -> list[Area]:
        """The areas of a scope still in use (a retired area is not expected to be visited)."""
        zones = [z for z in self.taxonomy.zones if not z.retired and scope.zone in (None, z.code)]
        return [a for z in zones for a in z.areas if not a.retired]

    async def _names_of(self, staff: Sequence[Staff], ids: set[int]) -> dict[int, str]:
        """The names of these staff: from the list of everyone, and the others (imported history's) from the staff
        repository."""
        names = {p.id: p.name for p in staff}
        found = await asyncio.gather(*(self.store.staff.get(i) for i in sorted(ids - set(names))))
        return names | {p.id: p.name for p in found if p is not None}

    async def _overdue(self, areas: list[str] | None, today: date) -> list[OverdueFollowUp]:
        """The overdue follow-ups of a scope, oldest due first: label, area, due date and owner, nothing else."""
        found = await self.store.followups.open_list(FollowUpScope(areas=areas), today, limit=OVERDUE_SHOWN)
        return [
            OverdueFollowUp(f.label, self.taxonomy.area_label(f.area), f.due, owner_label(f))
            for f in found
            if f.due < today
        ]


def _staff_counts(people: dict[int, tuple[int, int]], names: dict[int, str]) -> list[StaffCounts]:
    """Each staff member with a record in the scope, the most records first (then by registration)."""
    ordered = sorted(people.items(), key=lambda item: (-sum(item[1]), item[0]))
    return [StaffCounts(names.get(i) or t("report.misc.unknown"), o, c) for i, (o, c) in ordered]


def quiet_areas(areas: Sequence[Area], last_outing: dict[str, date], until: date) -> list[QuietArea]:
    """The areas without an outing in the QUIET_DAYS up to `until`: never visited first, then the longest ago
    (then in the configured order)."""
    since = until - timedelta(days=QUIET_DAYS - 1)
    quiet = [(last_outing.get(a.code, date.min), i, a) for i, a in enumerate(areas)]
    return [QuietArea(a.label, last_outing.get(a.code)) for last, _, a in sorted(quiet) if last < since]


def _prefix(week: Period) -> str:
    """What the outbox keys of the digests of a week start with."""
    return f"digest:{week.key}:"


def _key(week: Period, recipient: Recipient, part: str) -> str:
    """The outbox key of one part of a recipient's digest of a week: each is sent once."""
    return f"{_prefix(week)}{recipient.chat_id}:{part}"
