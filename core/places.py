"""The places file (`fieldbot places import|export`): one place per row, codes or labels, checked all or nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Final

from core.csvfile import ErrorList, LineReader, escape_formula, inspect_file, unescape_formula
from core.i18n import t
from core.models import NewPlace, Place, PlaceStatus
from core.taxonomy import Taxonomy
from core.text import has_hidden

COLUMNS: Final = ("name", "kind", "area", "organiser", "status", "started_on", "ended_on")
REQUIRED: Final = ("name", "kind", "area")
NAME_MAX: Final = 64


def status_label(status: PlaceStatus) -> str:
    return t(f"place.status.{status.value}")


def _status(text: str) -> PlaceStatus | None:
    for status in PlaceStatus:
        if text in (status.value, status_label(status)):
            return status
    return None


def _date(text: str) -> date | None:
    return date.fromisoformat(text.replace("/", "-")) if text else None


class PlacesReader:
    """Rows of a places file as NewPlace, and every problem by line and column (no row is taken when any is
    wrong: the import is all or nothing)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.errors = ErrorList()

    def read(self, path: Path) -> list[NewPlace]:
        source = inspect_file(path)
        if source.encoding == "utf-16":
            self.errors.line(1, "UTF-16 text: save the file as CSV (UTF-8) instead")
            return []
        with path.open("rb") as stream:
            lines = LineReader(stream, source.encoding, self.errors)
            reader = csv.reader(lines)
            header = [cell.strip().lower() for cell in next(reader, [])]
            missing = [name for name in REQUIRED if name not in header]
            unknown = [name for name in header if name not in COLUMNS]
            if missing or unknown:
                self.errors.line(1, f"columns must be {', '.join(COLUMNS)} (missing {missing}, unknown {unknown})")
                return []
            return self._rows(reader, header, lines)

    def _rows(self, reader: Iterable[list[str]], header: list[str], lines: LineReader) -> list[NewPlace]:
        places: list[NewPlace] = []
        seen: set[tuple[str, str]] = set()
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            row = {name: unescape_formula(cells[i].strip()) if i < len(cells) else "" for i, name in enumerate(header)}
            place = self._place(lines.line, row)
            if place is None:
                continue
            if (place.area, place.name) in seen:
                self.errors.cell(lines.line, "name", "the same place (area and name) is listed twice", place.name)
                continue
            seen.add((place.area, place.name))
            places.append(place)
        return places

    def _place(self, line: int, row: dict[str, str]) -> NewPlace | None:
        before = len(self.errors)
        name = row.get("name", "")
        if not name or len(name) > NAME_MAX or has_hidden(name):
            self.errors.cell(line, "name", f"1 to {NAME_MAX} characters without control characters", name)
        kind = self.taxonomy.destination.resolve(row.get("kind", ""))
        if kind is None:
            self.errors.cell(line, "kind", "not a code or label of a destination (kind of place)", row.get("kind", ""))
        area = self.taxonomy.resolve_area(row.get("area", ""))
        if area is None:
            self.errors.cell(line, "area", "not a code or label of an area", row.get("area", ""))
        organiser = row.get("organiser", "") or None
        if organiser is not None and (len(organiser) > NAME_MAX or has_hidden(organiser)):
            self.errors.cell(line, "organiser", f"up to {NAME_MAX} characters without control characters", organiser)
        status = _status(row.get("status", "")) if row.get("status") else PlaceStatus.ACTIVE
        if status is None:
            self.errors.cell(line, "status", "not a status: preparing, active, paused or ended (or their labels)")
        days: dict[str, date | None] = {}
        for column in ("started_on", "ended_on"):
            try:
                days[column] = _date(row.get(column, ""))
            except ValueError:
                self.errors.cell(line, column, "not a date like 2026-04-01", row.get(column, ""))
        if len(self.errors) > before or kind is None or area is None or status is None:
            return None
        return NewPlace(name, kind.code, area.code, organiser, status, days["started_on"], days["ended_on"])


def places_csv(places: Iterable[Place], taxonomy: Taxonomy) -> bytes:
    """The register as a CSV file that imports again (labels, UTF-8 with BOM, CRLF; text cells never formulas)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for place in places:
        cells = [
            place.name,
            taxonomy.destination.label(place.kind),
            taxonomy.area_label(place.area),
            place.organiser or "",
            status_label(place.status),
            place.started_on.isoformat() if place.started_on else "",
            place.ended_on.isoformat() if place.ended_on else "",
        ]
        writer.writerow([escape_formula(cell) for cell in cells])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
