"""The weekly digest: a week's totals and top categories, against the week before and the same week last year."""

from __future__ import annotations

from collections.abc import Sequence

from core.counts import Counts
from core.i18n import t
from reports.render_text import TELEGRAM_LIMIT, format_delta, format_share, pack_sections, section_title
from reports.tally import Report, Row, Total, headline, outing_share

DIGEST_DIMENSIONS = ("activity", "destination", "consulter", "agency")
TOP = 3


def _both(this_week: Row | Total, last_year: Row | Total) -> str:
    """(前週比 +3件／前年同週比 新) — the two comparisons of one figure."""
    week = format_delta(this_week) or t("report.share_none")
    year = format_delta(last_year) or t("report.share_none")
    return t("digest.deltas", week=week, year=year)


def _line(label: str, count: int, deltas: str, rank: int | None = None) -> str:
    if rank is None:
        return t("digest.line", label=label, count=count, deltas=deltas)
    return t("digest.ranked_line", rank=rank, label=label, count=count, deltas=deltas)


def render_digest(
    scope_label: str,
    versus_week: Report,
    year_ago: Counts,
    followups: tuple[int, int],
    idle_staff: Sequence[str] | None,
    *,
    limit: int = TELEGRAM_LIMIT,
) -> list[str]:
    """The digest's messages. `versus_week` counts the week against the week before; each figure shown is also
    compared with `year_ago`, the counts of the same week a year earlier. `idle_staff` (names) is None for group
    chats, which get counts only."""
    head = t("digest.title", period=versus_week.period.label, scope=scope_label)
    sections: list[list[str]] = []
    totals = [section_title("totals")]
    year_totals = headline(year_ago)
    for name in ("outings", "consultations", "at_outing", "agency_links"):
        week_total: Total = getattr(versus_week.totals, name)
        year_total = week_total.against(year_totals[name])
        totals.append(_line(t(f"report.total.{name}"), week_total.count, _both(week_total, year_total)))
    totals.append(
        t(
            "digest.share",
            share=format_share(versus_week.outing_share),
            week=format_share(versus_week.previous_outing_share()),
            year=format_share(outing_share(year_ago)),
        )
    )
    sections.append(totals)
    for dimension in DIGEST_DIMENSIONS:
        year_counts = year_ago.dimension(dimension)
        rows = [r for r in versus_week.dimensions.rows(dimension) if r.count > 0 and (r.rank or 0) <= TOP]
        lines = [_line(r.label, r.count, _both(r, r.against(year_counts.get(r.code, 0))), r.rank) for r in rows]
        sections.append(
            [t("digest.top", dimension=t(f"report.dimension.{dimension}"), top=TOP), *(lines or [t("report.empty")])]
        )
    open_count, overdue = followups
    sections.append([t("digest.followups_title"), t("digest.followups", open=open_count, overdue=overdue)])
    if idle_staff is not None:
        names = t("flow.list_separator").join(idle_staff) if idle_staff else t("digest.idle_none")
        sections.append([t("digest.idle_title"), names])
    continued = t("digest.continued", period=versus_week.period.label)
    return pack_sections(head, continued, sections, t("digest.footnote"), limit=limit)
