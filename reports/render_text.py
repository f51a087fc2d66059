"""A report as Telegram text in the councils' published layout, split into messages at section boundaries."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.counts import DIMENSIONS
from core.i18n import t
from reports.tally import GroupRow, Report, Row, Total, basis_word

# Telegram's limit for one message's text, counted in UTF-16 code units.
TELEGRAM_LIMIT = 4096


def format_delta(row: Row | Total) -> str:
    """+3件, -2件, ±0件, or 新 (a category with no count in the comparison period); "" without a comparison.

    Totals never read 新: a total that was 0 reads +N件.
    """
    if row.previous is None or row.delta is None:
        return ""
    if isinstance(row, Row) and row.new:
        return t("report.delta_new")
    if row.delta > 0:
        return t("report.delta_up", delta=row.delta)
    if row.delta < 0:
        return t("report.delta_down", delta=-row.delta)
    return t("report.delta_zero")


def total_line(name: str, total: Total) -> str:
    """・出向き 27件 (-1件): a headline figure as a list line; name: outings, consultations, at_outing, agency_links."""
    label = t(f"report.total.{name}")
    delta = format_delta(total)
    if delta:
        return t("report.list_line", label=label, count=total.count, delta=delta)
    return t("report.list_line_plain", label=label, count=total.count)


def _line(kind: str, row: Row, **params: object) -> str:
    delta = format_delta(row)
    if delta:
        return t(f"report.{kind}", label=row.label, count=row.count, delta=delta, **params)
    return t(f"report.{kind}_plain", label=row.label, count=row.count, **params)


def dimension_lines(rows: Sequence[Row], ranked: bool, *, top: int | None = None) -> list[str]:
    """`・子ども政策課 12件 (+3件)` lines, or with `ranked` `1位：寄付（寄贈）したい 10件（+4件）` lines.

    With `top`, only rows with a positive count and a rank up to `top` (ties at the boundary included).
    """
    if top is not None:
        rows = [row for row in rows if row.count > 0 and (row.rank is None or row.rank <= top)]
    if ranked:
        return [_line("ranked_line", row, rank=row.rank) for row in rows]
    return [_line("list_line", row) for row in rows]


def group_lines(groups: Sequence[GroupRow], *, top: int | None = None) -> list[str]:
    """`■ group 24件（+5件）` then its ranked sub-categories and the group's notes, for each consulter group (in
    their configured order; with `top`, groups with a count)."""
    lines: list[str] = []
    for group in groups:
        if top is not None and group.count == 0:
            continue
        lines.append(_line("group_line", group))
        lines.extend(dimension_lines(group.categories, ranked=True, top=top))
        lines.extend(group.notes)
    return lines


def dimension_title(dimension: str) -> str:
    """The bare name of a dimension: 関係機関 (column cells, sheet names)."""
    return t(f"report.dimension.{dimension}")


def section_name(dimension: str) -> str:
    """The name of a dimension's table: 関係機関別 (also "totals": 合計)."""
    return t(f"report.section.{dimension}")


def section_title(dimension: str) -> str:
    """The heading of a dimension's table in text: <関係機関別> (also "totals": <合計>)."""
    return t("report.heading", title=section_name(dimension))


def footnote(report: Report) -> str:
    """※ () 内は前年度比 / 前週比 / 前月比 / 前期間比 / 前年同月比 …; "" without a comparison; when the comparison
    period has no data, ※比較できる前年度のデータがありません."""
    if report.compare is None or report.basis is None:
        return ""
    if not report.comparable:
        return t("report.no_earlier_data", basis=basis_word(report.period_kind, report.basis, report.compare.label))
    if report.basis == "custom":
        return t("report.footnote.custom", compare=report.compare.label)
    suffix = "year" if report.basis == "previous-year" else "previous"
    return t(f"report.footnote.{report.period_kind}_{suffix}")


def header_lines(report: Report) -> list[str]:
    """The title with the period, and the comparison period."""
    compare = t("report.no_compare") if report.compare is None else t("report.compare", compare=report.compare.label)
    return [t("report.title", period=report.period.label), compare]


def format_share(share: float | None) -> str:
    return t("report.share_none") if share is None else t("report.percent", value=share * 100)


def share_line(report: Report) -> str:
    """・出向き先で受けた相談の割合 35.0% (+1.7ポイント)."""
    label = t("report.total.outing_share")
    share = format_share(report.outing_share)
    before = report.previous_outing_share()
    if report.compare is None or report.outing_share is None or before is None:
        return t("report.share_line_plain", label=label, share=share)
    # Rounded to the shown precision first, so that 35.0% vs 35.0% reads ±0.0 and not -0.0.
    points = round(report.outing_share * 100, 1) - round(before * 100, 1)
    if abs(points) < 0.05:
        delta = t("report.points_zero")
    elif points > 0:
        delta = t("report.points_up", value=points)
    else:
        delta = t("report.points_down", value=-points)
    return t("report.share_line", label=label, share=share, delta=delta)


def totals_lines(report: Report) -> list[str]:
    """The headline figures as list lines: outings, consultations, of them at outings, agency links, the share."""
    totals = report.totals
    lines = [
        total_line(name, total)
        for name, total in (
            ("outings", totals.outings),
            ("consultations", totals.consultations),
            ("at_outing", totals.at_outing),
            ("agency_links", totals.agency_links),
        )
    ]
    lines.append(share_line(report))
    return lines


def section_lines(report: Report, dimension: str, *, top: int | None = None) -> list[str]:
    """A dimension's heading and its lines (consulter: groups with their ranked sub-categories)."""
    if dimension == "consulter":
        body = group_lines(report.dimensions.consulter, top=top)
    else:
        body = dimension_lines(report.dimensions.rows(dimension), ranked=False, top=top)
        body += report.notes.get(dimension, []) if body else []
    return [section_title(dimension), *(body or [t("report.empty")])]


def text_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def render_text(
    report: Report,
    *,
    limit: int = TELEGRAM_LIMIT,
    dimensions: Sequence[str] = DIMENSIONS,
    top: int | None = None,
) -> list[str]:
    """The report as one or more plain-text messages (send without parse_mode: headings contain < and >).

    Sections (totals, then each dimension) are never split unless one alone exceeds `limit`; then it is split
    between lines and its heading repeated. Every message after the first starts with a continuation title, and
    every message ends with the comparison footnote, so each reads on its own.
    """
    head = "\n".join(header_lines(report))
    note = footnote(report)
    continued = t("report.continued", period=report.period.label)
    sections = [[section_title("totals"), *totals_lines(report)]]
    for name in dimensions:
        if name == "consulter":
            # Each group with its sub-categories is one unit, so that a split falls between groups.
            groups = report.dimensions.consulter
            units = ["\n".join(group_lines([group], top=top)) for group in groups]
            sections.append([section_title(name), *([u for u in units if u] or [t("report.empty")])])
        else:
            sections.append(section_lines(report, name, top=top))
    return pack_sections(head, continued, sections, note, limit=limit)


def pack_sections(head: str, continued: str, sections: Sequence[Sequence[str]], note: str, *, limit: int) -> list[str]:
    """Pack sections (lists of lines, the first being the heading) into messages of at most `limit` characters.

    A message is its title (`head` for the first, `continued` after), its sections and `note`, separated by blank
    lines. A section too long for a message of its own is split between lines, its heading repeated.
    """

    def assemble(title: str, blocks: Sequence[str]) -> str:
        return "\n\n".join([title, *blocks, note] if note else [title, *blocks])

    def fits(title: str, blocks: Sequence[str]) -> bool:
        return text_length(assemble(title, blocks)) <= limit

    def fits_alone(block: str) -> bool:
        return fits(head, [block]) and fits(continued, [block])

    if not (fits_alone("") and fits_alone("x" * 8)):
        raise ValueError(f"limit {limit} leaves no room for the report's lines")
    messages: list[str] = []
    title = head
    blocks: list[str] = []
    for section in sections:
        for block in _split_section(section, fits_alone):
            if fits(title, [*blocks, block]):
                blocks.append(block)
                continue
            messages.append(assemble(title, blocks))
            title, blocks = continued, [block]
    messages.append(assemble(title, blocks))
    return messages


def _split_section(section: Sequence[str], fits_alone: Callable[[str], bool]) -> list[str]:
    """A section as one block, or, when too long for a message by itself, several with the heading repeated.

    The items after the heading are units kept together when possible (a consulter group with its
    sub-categories); a unit too long by itself is split between its lines.
    """
    whole = "\n".join(section)
    if fits_alone(whole):
        return [whole]
    heading = section[0]
    lines: list[str] = []
    for unit in section[1:]:
        lines.extend([unit] if fits_alone(f"{heading}\n{unit}") else unit.split("\n"))
    blocks: list[str] = []
    current = [heading]
    for line in lines:
        if len(current) > 1 and not fits_alone("\n".join([*current, line])):
            blocks.append("\n".join(current))
            current = [heading]
        while len(line) > 1 and not fits_alone("\n".join([*current, line])):
            line = line[:-2] + "…"  # a single line longer than a message: only with absurdly small limits
        current.append(line)
    blocks.append("\n".join(current))
    return blocks
