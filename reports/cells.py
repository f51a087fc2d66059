"""Spreadsheet cells that are text stay text: the one rule of every CSV and XLSX fieldbot writes.

A text cell that starts with a character a spreadsheet reads as the start of a formula (= + - @ TAB CR, and
their full-width forms) is written with one leading ' (`core.csvfile.escape_formula`, the same rule the import
undoes). XLSX files write text only with `write_string` (never `write`/`write_row`, which turn "=…" into a
formula and "http://…" into a link) and the same escaped text, so a sheet saved as CSV from Excel, or a cell
edited and confirmed in it, stays text, and reads back through `fieldbot import` like the CSV. Numbers are
never text: they reach the writers as numbers and are never prefixed, negative ones included.
"""

from __future__ import annotations

from typing import Any

from core.csvfile import escape_formula, unescape_formula

safe_text = escape_formula
unescape = unescape_formula


def safe_cell(value: Any) -> Any:
    """A cell of a CSV row: text made safe, numbers and None as they are."""
    return escape_formula(value) if isinstance(value, str) else value


def write_cell(sheet: Any, row: int, col: int, value: Any, cell_format: Any = None) -> None:
    """One XLSX cell: text as a (safe) string, a number as a number, None or "" as nothing."""
    if value is None or value == "":
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        sheet.write_string(row, col, escape_formula(str(value)), cell_format)
    else:
        sheet.write_number(row, col, value, cell_format)
