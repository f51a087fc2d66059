"""`fieldbot report`: a period's tallies as text, JSON, CSV, XLSX or a PNG chart, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import unicodedata
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

from bot.councils import council_settings
from bot.settings import Settings
from cli import city
from cli.common import clock_of, existing_database, open_database
from core.i18n import t
from core.periods import Period, PeriodError, date_range, fiscal_year, parse_month, parse_week
from core.taxonomy import Taxonomy, load_taxonomy
from reports.charts import comparison_chart, multi_year_chart
from reports.render_csv import render_csv
from reports.render_tables import render_table_csv, render_table_text, render_table_xlsx
from reports.render_text import render_text
from reports.render_xlsx import render_xlsx
from reports.tables import TABLE_NAMES, NamedTable
from reports.tally import Report
from services.report_tables import DEFAULT_YEARS, ReportTables, counted_span
from services.reporting import Reporter, Scope

FORMATS = ("text", "json", "csv", "xlsx", "png")
BINARY = ("xlsx", "png")  # never written to a terminal
CHARTS = ("activity", "destination", "channel", "consulter", "topic", "agency", "multi-year")


class UsageError(ValueError):
    """A wrong option value: printed as one line."""


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    report: argparse.ArgumentParser = commands.add_parser(
        "report", help="tallies of a period (text, json, csv, xlsx, png)"
    )
    which = report.add_mutually_exclusive_group(required=True)
    which.add_argument("--fy", type=int, metavar="YEAR", help="fiscal year starting 1 April YEAR, e.g. 2020")
    which.add_argument("--week", metavar="YYYY-Www", help="ISO week, e.g. 2026-W47")
    which.add_argument("--month", metavar="YYYY-MM", help="calendar month, e.g. 2026-11")
    which.add_argument("--from", dest="start", metavar="DATE", help="first day of a range (with --to)")
    report.add_argument("--to", dest="end", metavar="DATE", help="last day of a range")
    report.add_argument(
        "--compare",
        choices=("previous-year", "previous-period"),
        help="default: previous-year for --fy, previous-period otherwise",
    )
    report.add_argument("--format", choices=FORMATS, help="default: text, or png with --chart")
    report.add_argument(
        "--chart", choices=CHARTS, help="draw this chart (a PNG; implies --format png; default with png: activity)"
    )
    report.add_argument(
        "--out", type=Path, help="write to this file instead of standard output (needed for xlsx and png)"
    )
    report.add_argument(
        "--council",
        metavar="CODE|all",
        help="with COUNCILS_DIR: this council's report, or its children side by side and summed (all: every "
        "council under the top)",
    )
    report.add_argument("--zone", metavar="CODE|LABEL", help="only this zone's areas, by its code or its label")
    report.add_argument(
        "--table",
        choices=TABLE_NAMES,
        help="one of the supervisors' tables instead (years, month, staff, area, cross, headcount, outcomes)",
    )
    report.add_argument(
        "--years", type=int, metavar="N", help=f"with --table years: how many fiscal years (default {DEFAULT_YEARS})"
    )
    return report


def output_format(args: argparse.Namespace) -> tuple[str, str]:
    """(format, chart): --chart asks for a picture, so it implies png; with another --format it is an error
    rather than silently ignored."""
    if args.chart is not None and args.format not in (None, "png"):
        raise UsageError(t("cli.report.chart_needs_png", format=args.format))
    if getattr(args, "table", None) is not None and (args.chart is not None or args.format == "png"):
        raise UsageError(t("report.table.cli.no_png"))
    fmt = args.format or ("png" if args.chart is not None else "text")
    return fmt, args.chart or "activity"


def day(value: date) -> str:
    return t("report.period.day", year=value.year, month=value.month, day=value.day)


def period_of(args: argparse.Namespace, today: date | None = None) -> Period:
    """The period asked for; one that has not begun by `today` (local) is refused: it can only read zero."""
    try:
        if args.fy is not None:
            if not 1989 <= args.fy <= 2200:
                raise UsageError(f"--fy: {args.fy} is not a plausible fiscal year")
            period = fiscal_year(args.fy)
        elif args.week:
            period = parse_week(args.week)
        elif args.month:
            period = parse_month(args.month)
        elif not args.end:
            raise UsageError("--from needs --to")
        else:
            period = date_range(_date("--from", args.start), _date("--to", args.end))
    except PeriodError as exc:
        raise UsageError(str(exc)) from None
    if today is not None and period.start > today:
        raise UsageError(t("cli.report.not_started", period=period.label, start=day(period.start), today=day(today)))
    return period


def _date(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a date like 2026-11-01") from None


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def zone_code(taxonomy: Taxonomy, zone: str) -> str:
    """A zone given by its code or its label (as in the taxonomy, full-width or not); else an error listing them."""
    wanted = _normal(zone)
    for entry in taxonomy.zones:
        if wanted in (_normal(entry.code), _normal(entry.label)):
            return entry.code
    known = t("cli.separator").join(t("cli.report.zone_item", code=z.code, label=z.label) for z in taxonomy.zones)
    raise UsageError(t("cli.report.unknown_zone", zone=zone, zones=known))


def _scope(taxonomy: Taxonomy, zone: str | None) -> Scope:
    return Scope(zone=None if zone is None else zone_code(taxonomy, zone))


def is_empty(report: Report) -> bool:
    """No count anywhere: not in the period, not in the one it is compared with (a wrong or a new database)."""

    def counts(node: Any) -> bool:
        if isinstance(node, dict):
            if any(node.get(key) not in (None, 0) for key in ("count", "previous")):
                return True
            return any(counts(value) for value in node.values())
        if isinstance(node, list):
            return any(counts(value) for value in node)
        return False

    shape = report.model_dump(mode="json")
    return not counts(shape.get("totals")) and not counts(shape.get("dimensions"))


def empty_lines(report: Report, database: Path) -> list[str]:
    period = report.period
    return [
        t("cli.report.empty", period=period.label, start=day(period.start), end=day(period.end)),
        t("cli.report.database", path=database),
    ]


async def produce(args: argparse.Namespace, settings: Settings) -> bytes:
    fmt, _ = output_format(args)
    today = clock_of(args).now().astimezone(settings.tz).date()
    period = period_of(args, today)
    if getattr(args, "council", None) is None and settings.councils_dir is not None:
        raise UsageError(t("cli.council.which", command=args.command))
    if getattr(args, "council", None) is not None:
        parent, children = city.resolve(args, settings)
        if parent is None or children:
            return await city.produce_city(settings, fmt, counted_span(period, today), parent, children)
        settings = council_settings(settings, parent.code)  # a council without children: its own report
    return await _produce(args, settings, today, period)


async def _produce(args: argparse.Namespace, settings: Settings, today: date, period: Period) -> bytes:
    fmt, chart = output_format(args)
    taxonomy = load_taxonomy(settings.taxonomy_file)
    scope = _scope(taxonomy, args.zone)
    years = years_of(args)
    database = existing_database(args, settings)
    store = await open_database(settings, database)
    try:
        reporter = Reporter(store, taxonomy)
        if fmt == "png" and chart == "multi-year":
            series = await reporter.activity_by_year(period.fiscal_year, 3, scope)
            return multi_year_chart(taxonomy, series)
        # A period still running is compared up to the same day (前年同期), as in the bot and every export.
        report = await reporter.report(period, compare=args.compare, scope=scope, today=today)
        tables = ReportTables(reporter, settings.tz)
        if args.table is not None:
            table = await tables.table(args.table, period, scope=scope, today=today, years=years)
            return table_output(fmt, report, table)
        # The workbook carries every supervisors' table of the same period and scope, a sheet each.
        sheets = await tables.every_table(period, scope=scope, today=today) if fmt == "xlsx" else []
    finally:
        await store.close()
    empty = is_empty(report)
    if fmt == "text":
        if empty:
            return ("\n".join(empty_lines(report, database)) + "\n").encode("utf-8")
        return ("\n\n".join(render_text(report, limit=10**9)) + "\n").encode("utf-8")
    if fmt == "json":
        # The published shape, plus `empty`: true when no count at all was found (rather than a report of zeros
        # that reads like a council which did nothing).
        shape = json.loads(report.model_dump_json())
        shape["empty"] = empty
        return (json.dumps(shape, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if empty:  # the file is still made (its layout is expected), but the admin hears why it is all zeros
        print("\n".join(empty_lines(report, database)), file=sys.stderr)
    buffer = BytesIO()
    if fmt == "csv":
        render_csv(report, buffer, council=taxonomy.council)
    elif fmt == "xlsx":
        render_xlsx(report, buffer, council=taxonomy.council, tables=sheets)
    else:
        return comparison_chart(report, chart)
    return buffer.getvalue()


def years_of(args: argparse.Namespace) -> int:
    """--years: only with --table years, 1 to 20."""
    if args.years is None:
        return DEFAULT_YEARS
    if args.table != "years":
        raise UsageError(t("report.table.cli.years_needs_table"))
    if not 1 <= args.years <= 20:
        raise UsageError(t("report.table.cli.years_range", years=args.years))
    return int(args.years)


def table_output(fmt: str, report: Report, table: NamedTable) -> bytes:
    """A table in the format asked for; its JSON is the report's with the table in `tables` (by its name)."""
    if fmt == "text":
        return ("\n\n".join(render_table_text(table, limit=10**9)) + "\n").encode("utf-8")
    if fmt == "json":
        shape = json.loads(report.model_dump_json())
        shape["empty"] = is_empty(report)
        shape["tables"] = {table.name: table.table.model_dump(mode="json", exclude_none=True)}
        return (json.dumps(shape, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    buffer = BytesIO()
    if fmt == "csv":
        render_table_csv(table, buffer)
    else:
        render_table_xlsx(table, buffer)
    return buffer.getvalue()


def run(args: argparse.Namespace, settings: Settings) -> None:
    if args.end and not args.start:
        raise UsageError("--to needs --from")
    fmt, _ = output_format(args)
    if args.out is None and fmt in BINARY and sys.stdout.isatty():
        raise UsageError(t("cli.binary_to_terminal", format=fmt))
    data = asyncio.run(produce(args, settings))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(data)
        print(t("cli.wrote", path=args.out, size=len(data)), file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
