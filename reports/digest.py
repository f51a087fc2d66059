"""The weekly digest, for a supervisor's Monday: the week's figures and the year to date, each staff member's counts,
areas not visited lately, overdue follow-ups (private chats only) and short category lists, compared with a year
earlier only where both counts are large enough to mean something."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from core import dates
from core.era import fiscal_year_label
from core.i18n import t
from core.periods import Period
from reports.render_text import TELEGRAM_LIMIT, format_delta, format_share, pack_sections
from reports.tally import Report, Row, Total

# A change from a year earlier is printed only when both compared counts are at least this: below it, a week's
# +3 or −2 is noise (one salon more or less), and a percentage of it would be worse. The footnote says so.
MIN_COMPARED = 10
TOP = 3  # rows of each category list, ties at the boundary cut (see top_lines)
TOP_DIMENSIONS = ("activity", "destination", "referral")  # ranked lists; consulter groups print in their order
QUIET_DAYS = 28  # (4 weeks) an area without an outing in the 4 weeks up to the week's end is listed
STAFF_SHOWN = 15  # staff lines with counts; more are summed up in one line
IDLE_SHOWN = 20  # names of staff without a record, on one line
AREAS_SHOWN = 10
QUIET_PLACE_WEEKS = 8  # a registered place without an outing this long is listed (as in the 活動先別 table)
OVERDUE_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Figures:
    """The headline figures of a span (a year to date is counted for these alone)."""

    outings: int = 0
    consultations: int = 0
    at_outing: int = 0

    @property
    def has_data(self) -> bool:
        return bool(self.outings or self.consultations)


@dataclass(frozen=True, slots=True)
class StaffCounts:
    name: str
    outings: int
    consultations: int


@dataclass(frozen=True, slots=True)
class QuietArea:
    label: str
    last: date | None  # the last outing ever, None: none recorded


@dataclass(frozen=True, slots=True)
class OverdueFollowUp:
    """What an overdue follow-up shows in a digest: its pseudonymous label, area, due date and owner; never a
    reason, note or memo."""

    label: str
    area: str
    due: date
    owner: str


@dataclass(frozen=True, slots=True)
class YearToDate:
    """The fiscal year from 1 April to the week's end, and the same span a year earlier (前年同期)."""

    span: Period
    figures: Figures
    before: Figures


@dataclass(frozen=True, slots=True)
class DigestContent:
    """Everything one digest shows. `staff` (with a record in the scope, most first) and `idle` (names of the
    scope's staff without any record) print as names in private chats and as two numbers in a group chat;
    `overdue` is None for a group chat, which gets the follow-up numbers only."""

    scope_label: str
    week: Report  # the week against the same week a year earlier
    year_to_date: YearToDate
    staff: Sequence[StaffCounts]
    idle: Sequence[str]
    quiet_areas: Sequence[QuietArea]  # never visited first, then the longest ago
    followups: tuple[int, int]  # (open, overdue)
    overdue: Sequence[OverdueFollowUp] | None
    today: date
    private: bool
    # Registered places of the scope without an outing for 8 weeks (name, last outing): private chats only;
    # empty where the council keeps no register.
    quiet_places: Sequence[tuple[str, date | None]] = ()


def week_label(week: Period) -> str:
    """11/24(月)〜11/30(日): how an office names a week (no ISO week number)."""
    return t("digest.week", start=dates.short(week.start), end=dates.short(week.end))


def comparable(count: int, before: int | None) -> bool:
    """Whether a change means something: both counts at least MIN_COMPARED."""
    return before is not None and count >= MIN_COMPARED and before >= MIN_COMPARED


def _change(count: int, before: int | None, basis: str) -> str:
    """（前年同週比 +3件）, or "" when the counts are too small to compare (or there is nothing to compare with)."""
    if before is None or not comparable(count, before):
        return ""
    return t(
        "digest.change",
        basis=t(f"digest.basis.{basis}"),
        delta=format_delta(Total(count=count, previous=before, delta=count - before)),
    )


def _line(label: str, count: int, before: int | None, basis: str) -> str:
    return t("digest.line", label=label, count=count, change=_change(count, before, basis))


def _week_lines(report: Report) -> list[str]:
    totals = report.totals
    lines = [
        _line(t(f"report.total.{name}"), total.count, total.previous, "week")
        for name, total in (
            ("outings", totals.outings),
            ("consultations", totals.consultations),
            ("at_outing", totals.at_outing),
            ("agency_links", totals.agency_links),
        )
    ]
    before = report.previous_outing_share()
    share = format_share(report.outing_share)
    if before is not None and comparable(totals.consultations.count, totals.consultations.previous):
        lines.append(t("digest.share_compared", share=share, before=format_share(before)))
    else:
        lines.append(t("digest.share", share=share))
    if not report.comparable:
        lines.append(t("digest.no_data.week"))
    return lines


def _year_lines(ytd: YearToDate) -> list[str]:
    title = t(
        "digest.ytd_title",
        fiscal_year=fiscal_year_label(ytd.span.fiscal_year),
        start=dates.short(ytd.span.start),
        end=dates.short(ytd.span.end),
    )
    now, then = ytd.figures, ytd.before
    before = then if then.has_data else None
    lines = [title]
    for name in ("outings", "consultations", "at_outing"):
        count = getattr(now, name)
        lines.append(_line(t(f"report.total.{name}"), count, None if before is None else getattr(before, name), "ytd"))
    if before is None:
        lines.append(t("digest.no_data.ytd"))
    return lines


def _more(shown: Sequence[str], total: int, key: str) -> list[str]:
    return [*shown, t(key, count=total - len(shown))] if total > len(shown) else list(shown)


def _staff_lines(content: DigestContent) -> list[str]:
    title = t("digest.staff_title")
    if not content.private:  # counts only: no names in a group chat
        return [title, t("digest.staff_counts", recorded=len(content.staff), idle=len(content.idle))]
    lines = [
        t("digest.staff_line", name=p.name, outings=p.outings, consultations=p.consultations)
        for p in content.staff[:STAFF_SHOWN]
    ]
    lines = _more(lines, len(content.staff), "digest.staff_more")
    if not content.staff:
        lines.append(t("digest.staff_none"))
    if content.idle:
        names = t("flow.list_separator").join(content.idle[:IDLE_SHOWN])
        if len(content.idle) > IDLE_SHOWN:
            names += t("digest.idle_more", count=len(content.idle) - IDLE_SHOWN)
        lines.append(t("digest.idle", names=names))
    return [title, *lines]


def _area_lines(content: DigestContent) -> list[str]:
    end = content.week.period.end
    start = end - timedelta(days=QUIET_DAYS - 1)
    title = t("digest.quiet_title", weeks=QUIET_DAYS // 7, start=dates.short(start), end=dates.short(end))
    quiet = content.quiet_areas
    if not content.private:  # the group chat gets the number; the names go to supervisors
        return [title, t("digest.quiet_count", count=len(quiet))]
    if not quiet:
        return [title, t("digest.quiet_none")]
    lines = [
        t("digest.quiet_never", area=a.label)
        if a.last is None
        else t("digest.quiet_line", area=a.label, last=dates.short_for(a.last, end))
        for a in quiet[:AREAS_SHOWN]
    ]
    return [title, *_more(lines, len(quiet), "digest.quiet_more")]


def _followup_lines(content: DigestContent) -> list[str]:
    open_count, overdue_count = content.followups
    lines = [t("digest.followups_title"), t("digest.followups", open=open_count, overdue=overdue_count)]
    if content.overdue is None:  # a group chat: numbers only
        return lines
    today = content.today
    shown = [
        t(
            "digest.overdue_line",
            label=f.label,
            area=f.area,
            due=dates.short_for(f.due, today),
            days=(today - f.due).days,
            owner=f.owner,
        )
        for f in content.overdue[:OVERDUE_SHOWN]
    ]
    return [*lines, *_more(shown, max(overdue_count, len(content.overdue)), "digest.overdue_more")]


def top_lines(rows: Sequence[Row], top: int, basis: str = "week") -> list[str]:
    """At most `top` ranked lines (1位：…, ties sharing a rank). When rows tied with the last one shown would make
    the list longer, they are cut and the last line says how many (（ほか同数2項目）): a list never runs longer than
    its title says, however many categories share a count of 1."""
    counted = [r for r in rows if r.count > 0]
    shown = counted[:top]
    lines = [
        t("digest.ranked_line", rank=r.rank, label=r.label, count=r.count, change=_change(r.count, r.previous, basis))
        for r in shown
    ]
    if shown:
        tied = sum(1 for r in counted[top:] if r.count == shown[-1].count)
        if tied:
            lines[-1] += t("digest.tied_more", count=tied)
    return lines


def _category_sections(report: Report) -> list[list[str]]:
    sections = []
    for dimension in TOP_DIMENSIONS:
        lines = top_lines(report.dimensions.rows(dimension), TOP)
        title = t("digest.top", dimension=t(f"report.dimension.{dimension}"), top=TOP)
        sections.append([title, *(lines or [t("report.empty")])])
    groups = [
        _line(g.label, g.count, g.previous, "week") for g in report.dimensions.consulter if g.count > 0
    ]  # in their configured order, unranked
    sections.append([t("digest.groups_title"), *(groups or [t("report.empty")])])
    return sections


def _place_lines(content: DigestContent) -> list[str]:
    """Places not visited for 8 weeks (supervisors and admins only: a group chat has the areas' count)."""
    end = content.week.period.end
    lines = [
        t("digest.quiet_never", area=name)
        if last is None
        else t("digest.quiet_line", area=name, last=dates.short_for(last, end))
        for name, last in content.quiet_places[:AREAS_SHOWN]
    ]
    title = t("digest.quiet_places_title", weeks=QUIET_PLACE_WEEKS)
    return [title, *_more(lines, len(content.quiet_places), "digest.quiet_places_more")]


def render_digest(content: DigestContent, *, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The digest's messages, each within `limit` (Telegram's 4,096), split between sections; each message ends
    with the footnote, which states the comparison rule."""
    period = content.week.period.label
    head = t("digest.title", period=period, scope=content.scope_label)
    sections = [
        [t("digest.totals_title"), *_week_lines(content.week)],
        _year_lines(content.year_to_date),
        _staff_lines(content),
        _followup_lines(content),
        _area_lines(content),
        *([_place_lines(content)] if content.quiet_places and content.private else []),
        *_category_sections(content.week),
    ]
    continued = t("digest.continued", period=period)
    return pack_sections(head, continued, sections, t("digest.footnote", min=MIN_COMPARED), limit=limit)
