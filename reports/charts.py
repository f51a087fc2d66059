"""Charts on demand: matplotlib and numpy (about 40 MB) load with the first chart, not when the bot starts."""

from __future__ import annotations

from collections.abc import Mapping

from core.taxonomy import Taxonomy
from reports.tally import Report


def comparison_chart(report: Report, dimension: str) -> bytes:
    from reports.render_chart import render_comparison_chart

    return render_comparison_chart(report, dimension)


def multi_year_chart(taxonomy: Taxonomy, series: Mapping[int, Mapping[str, int]]) -> bytes:
    from reports.render_chart import render_multi_year_chart

    return render_multi_year_chart(taxonomy, series)
