"""PNG bar charts with Japanese labels (IPAexGothic, bundled by matplotlib-fontja): this period vs the comparison,
and activity types over several fiscal years."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")  # no display; must precede anything that could pick a GUI backend

import matplotlib_fontja  # type: ignore[import-untyped]  # registers the bundled IPAexGothic font
from matplotlib import colormaps, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from core.era import era_range_label, fiscal_year_label
from core.i18n import t
from core.taxonomy import Taxonomy
from reports.render_text import section_name
from reports.tally import Report, Row

FONT_FAMILY = "IPAexGothic"
FONT_FILE: str = matplotlib_fontja.get_font_ttf_path()
DPI = 100
WIDTH_INCHES = 9.0
MAX_HEIGHT_INCHES = 60.0  # 6000 px: Telegram accepts photos up to width + height = 10000 and a 1:20 ratio
LABEL_WRAP = 16  # characters per line of a category label (Japanese has no spaces to break at)
CURRENT_COLOR = "#2F6EBA"
COMPARE_COLOR = "#B8C7DA"


@contextmanager
def _japanese() -> Iterator[None]:
    # Set per chart rather than relying on the global rcParams matplotlib-fontja sets on import, which anything
    # else in the process may change. The minus sign: IPAexGothic has no U+2212, so use the ASCII hyphen.
    with rc_context({"font.family": FONT_FAMILY, "axes.unicode_minus": False}):
        yield


def _wrap(label: str) -> str:
    return "\n".join(textwrap.wrap(label, LABEL_WRAP)) or label


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _height(bars: int, per_bar: float) -> float:
    return min(max(3.0, 1.6 + bars * per_bar), MAX_HEIGHT_INCHES)


def _empty(axes: Axes) -> None:
    axes.text(0.5, 0.5, t("report.chart.empty"), ha="center", va="center", fontsize=14, transform=axes.transAxes)
    axes.set_axis_off()


def chart_rows(report: Report, dimension: str) -> tuple[str, list[Row]]:
    """The title and rows a comparison chart shows: a dimension by JSON name (関係機関別), or
    `consulter:<group code>` for the sub-categories of one consulter group (titled with the group's label)."""
    if dimension.startswith("consulter:"):
        code = dimension.partition(":")[2]
        group = next((g for g in report.dimensions.consulter if g.code == code), None)
        return (group.label, list(group.categories)) if group else (code, [])
    return section_name(dimension), report.dimensions.rows(dimension)


def render_comparison_chart(report: Report, dimension: str) -> bytes:
    """Horizontal bars per category in display order, this period above the comparison period; PNG bytes."""
    title_name, rows = chart_rows(report, dimension)
    compare = report.compare
    per_row = 0.62 if compare is not None else 0.4
    with _japanese():
        figure = Figure(figsize=(WIDTH_INCHES, _height(len(rows), per_row)), layout="constrained")
        axes = figure.add_subplot()
        axes.set_title(t("report.chart.comparison_title", dimension=title_name, period=report.period.label))
        if not rows:
            _empty(axes)
            return _png(figure)
        positions = list(range(len(rows)))
        thickness = 0.4 if compare is not None else 0.6
        offset = thickness / 2 if compare is not None else 0.0
        current = axes.barh(
            [p - offset for p in positions],
            [row.count for row in rows],
            height=thickness,
            color=CURRENT_COLOR,
            label=report.period.label,
        )
        axes.bar_label(current, padding=3, fontsize=9)
        if compare is not None:
            before = axes.barh(
                [p + offset for p in positions],
                [row.previous or 0 for row in rows],
                height=thickness,
                color=COMPARE_COLOR,
                label=compare.label,
            )
            axes.bar_label(before, padding=3, fontsize=9, color="#555555")
            figure.legend(loc="outside lower center", ncols=2, frameon=False)
        axes.set_yticks(positions, [_wrap(row.label) for row in rows])
        axes.invert_yaxis()  # the first row of the table at the top
        axes.set_xlabel(t("report.chart.count_axis"))
        axes.margins(x=0.12)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.spines[["top", "right"]].set_visible(False)
        return _png(figure)


def _ordered_codes(taxonomy: Taxonomy, series: Mapping[int, Mapping[str, int]]) -> list[str]:
    codes = {code for counts in series.values() for code, value in counts.items() if value > 0}
    activity = taxonomy.activity

    def order(code: str) -> tuple[int, int, str]:
        known = activity.get(code)
        return (0, known.order, code) if known else (1, 0, code)

    return sorted(codes, key=order)


def render_multi_year_chart(taxonomy: Taxonomy, series: Mapping[int, Mapping[str, int]]) -> bytes:
    """Activity counts per type, one bar per fiscal year (oldest first, lighter), titled with the era range
    (平成30年度～令和2年度); `series` maps fiscal year → activity code → count. PNG bytes."""
    if not series:
        raise ValueError("a multi-year chart needs at least one fiscal year")
    years: Sequence[int] = sorted(series)
    codes = _ordered_codes(taxonomy, series)
    title = t("report.chart.multi_year_title", years=era_range_label(years[0], years[-1]))
    band = 0.8  # the share of each category's slot taken by its bars
    thickness = band / len(years)
    palette = colormaps["Blues"]
    with _japanese():
        figure = Figure(figsize=(WIDTH_INCHES, _height(len(codes), 0.25 + 0.22 * len(years))), layout="constrained")
        axes = figure.add_subplot()
        axes.set_title(title)
        if not codes:
            _empty(axes)
            return _png(figure)
        positions = list(range(len(codes)))
        for index, fy in enumerate(years):
            shade = 0.35 + 0.6 * (index / (len(years) - 1) if len(years) > 1 else 1.0)
            bars = axes.barh(
                [p - band / 2 + thickness * (index + 0.5) for p in positions],
                [series[fy].get(code, 0) for code in codes],
                height=thickness,
                color=palette(shade),
                label=fiscal_year_label(fy),
            )
            axes.bar_label(bars, padding=2, fontsize=8)
        axes.set_yticks(positions, [_wrap(taxonomy.activity.label(code)) for code in codes])
        axes.invert_yaxis()
        axes.set_xlabel(t("report.chart.count_axis"))
        axes.margins(x=0.12)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        figure.legend(loc="outside lower center", ncols=min(len(years), 6), frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
        return _png(figure)
