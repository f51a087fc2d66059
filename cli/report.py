"""`fieldbot report`: a period's tallies as text, JSON, CSV, XLSX or a PNG chart, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from io import BytesIO
from pathlib import Path

from bot.settings import Settings
from core.periods import Period, PeriodError, date_range, fiscal_year, parse_month, parse_week
from core.taxonomy import Taxonomy, load_taxonomy
from reports.charts import comparison_chart, multi_year_chart
from reports.render_csv import render_csv
from reports.render_text import render_text
from reports.render_xlsx import render_xlsx
from services.reporting import Reporter, Scope
from storage.sqlite.store import Store

FORMATS = ("text", "json", "csv", "xlsx", "png")
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
    report.add_argument("--format", choices=FORMATS, default="text")
    report.add_argument("--chart", choices=CHARTS, default="activity", help="with --format png: what to draw")
    report.add_argument("--out", type=Path, help="write to this file instead of standard output")
    report.add_argument("--zone", metavar="CODE", help="only this zone's areas")
    return report


def period_of(args: argparse.Namespace) -> Period:
    try:
        if args.fy is not None:
            if not 1989 <= args.fy <= 2200:
                raise UsageError(f"--fy: {args.fy} is not a plausible fiscal year")
            return fiscal_year(args.fy)
        if args.week:
            return parse_week(args.week)
        if args.month:
            return parse_month(args.month)
        if not args.end:
            raise UsageError("--from needs --to")
        return date_range(_date("--from", args.start), _date("--to", args.end))
    except PeriodError as exc:
        raise UsageError(str(exc)) from None


def _date(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a date like 2026-11-01") from None


def _scope(taxonomy: Taxonomy, zone: str | None) -> Scope:
    if zone is not None and taxonomy.zone(zone) is None:
        known = ", ".join(z.code for z in taxonomy.zones)
        raise UsageError(f"--zone: unknown zone {zone!r} (zones: {known})")
    return Scope(zone=zone)


async def produce(args: argparse.Namespace, settings: Settings) -> bytes:
    taxonomy = load_taxonomy(settings.taxonomy_file)
    period = period_of(args)
    scope = _scope(taxonomy, args.zone)
    store = await Store.open(settings.database_path)
    try:
        reporter = Reporter(store, taxonomy)
        if args.format == "png" and args.chart == "multi-year":
            series = await reporter.activity_by_year(period.fiscal_year, 3, scope)
            return multi_year_chart(taxonomy, series)
        report = await reporter.report(period, compare=args.compare, scope=scope)
    finally:
        await store.close()
    if args.format == "text":
        return ("\n\n".join(render_text(report, limit=10**9)) + "\n").encode("utf-8")
    if args.format == "json":
        return (report.model_dump_json(indent=2) + "\n").encode("utf-8")
    buffer = BytesIO()
    if args.format == "csv":
        render_csv(report, buffer)
    elif args.format == "xlsx":
        render_xlsx(report, buffer)
    else:
        return comparison_chart(report, args.chart)
    return buffer.getvalue()


def run(args: argparse.Namespace, settings: Settings) -> None:
    if args.end and not args.start:
        raise UsageError("--to needs --from")
    data = asyncio.run(produce(args, settings))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(data)
        print(f"wrote {args.out} ({len(data):,} bytes)", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
