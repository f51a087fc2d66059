"""Reading a council's CSV file safely: its encoding and hash, its lines in bounded pieces, and an error list
that names the line and column of every problem."""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Literal

Encoding = Literal["utf-8", "utf-8-sig", "cp932", "utf-16"]

ERROR_LIMIT: Final = 1000
# A physical line longer than this (without a newline) stops reading: it is not a CSV row, and holding it
# would defeat streaming. Quoted multi-line cells are bounded by csv.field_size_limit() (128 KiB).
LINE_MAX: Final = 1 << 20
CHUNK: Final = 1 << 16
_UTF8_BOM: Final = codecs.BOM_UTF8
_UTF16_BOMS: Final = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_VALUE_SHOWN: Final = 60


# ---- formula characters: the one rule shared by every file fieldbot writes and the import that reads them ----

QUOTE: Final = "'"
# OWASP's list (= + - @ TAB CR), and the full-width forms of = + - @ (U+FF1D, U+FF0B, U+FF0D, U+FF20), which
# Japanese input gives: a spreadsheet that converts full-width input may read them as a formula too, and a
# quote before them costs nothing.
_FORMULA_SIGNS: Final = ("=", "+", "-", "@")
FORMULA_STARTS: Final = (*_FORMULA_SIGNS, "\t", "\r", *(chr(ord(sign) + 0xFEE0) for sign in _FORMULA_SIGNS))


def _formula_like(text: str) -> bool:
    """Starts, after any quotes, with a character a spreadsheet reads as the start of a formula, and has more
    after it: one character alone ("－", the mark of "no value") is no formula, and stays as it is."""
    rest = text.lstrip(QUOTE)
    return len(rest) > 1 and rest.startswith(FORMULA_STARTS)


def escape_formula(text: str) -> str:
    """Text as a spreadsheet cell: with one more leading ' when a spreadsheet could take it for a formula.

    Reversible: text that is already quotes and a formula character ('=x) gets one more ' too, so that
    `unescape_formula(escape_formula(t)) == t` for every text.
    """
    return QUOTE + text if _formula_like(text) else text


def unescape_formula(text: str) -> str:
    """A cell read back from a file that fieldbot (or a spreadsheet saving its file) wrote: the ' taken off."""
    return text[1:] if text.startswith(QUOTE) and _formula_like(text) else text


# ---- errors ----


def has_control(text: str) -> bool:
    """Control or bidirectional-override characters: never part of a name, and unsafe to print to a terminal."""
    return _CONTROL.search(text) is not None


def show(value: str) -> str:
    """A cell value as it appears in an error: control characters escaped, long values cut."""
    if has_control(value):
        value = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)
    return value if len(value) <= _VALUE_SHOWN else value[:_VALUE_SHOWN] + "…"


class ErrorList:
    """Every problem found in a file, in order; keeps the first `limit` messages and counts the rest."""

    def __init__(self, limit: int = ERROR_LIMIT) -> None:
        self.limit = limit
        self.total = 0
        self._messages: list[str] = []

    def __bool__(self) -> bool:
        return self.total > 0

    def __len__(self) -> int:
        return self.total

    def _add(self, message: str) -> None:
        self.total += 1
        if len(self._messages) < self.limit:
            self._messages.append(message)

    def cell(self, line: int, column: str, problem: str, value: str = "") -> None:
        """`line N, column NAME: problem (value)`; the value is left out when it is empty."""
        self._add(f"line {line}, column {column}: {problem}" + (f" ({show(value)})" if value else ""))

    def line(self, line: int, problem: str) -> None:
        """`line N: problem`, for what concerns a whole line (its number of cells, its bytes, the CSV syntax)."""
        self._add(f"line {line}: {problem}")

    def messages(self) -> list[str]:
        """The kept messages, plus `and K more errors` when some were left out."""
        more = self.total - len(self._messages)
        return [*self._messages, f"and {more} more error{'s' if more != 1 else ''}"] if more else list(self._messages)


# ---- the file: hash and encoding in one streaming pass ----


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    sha256: str
    encoding: Encoding
    size: int


def inspect_file(path: Path) -> SourceFile:
    """Hash the file and detect its encoding, reading it in 64 KiB chunks (never whole).

    UTF-8 with a BOM is taken at its word; otherwise the bytes are decoded incrementally as UTF-8, and the
    first invalid sequence means cp932 (Excel's "CSV" on Japanese Windows). UTF-16 (Excel's "Unicode text")
    is recognised only to be refused with a clear message. Raises OSError when the file cannot be read.
    """
    digest = hashlib.sha256()
    decoder: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")()
    size = 0
    head = b""
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            if not size:
                head = chunk[:3]
            size += len(chunk)
            digest.update(chunk)
            if decoder is not None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    decoder = None
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            decoder = None
    encoding: Encoding
    if head.startswith(_UTF8_BOM):
        encoding = "utf-8-sig"
    elif head[:2] in _UTF16_BOMS:
        encoding = "utf-16"
    else:
        encoding = "utf-8" if decoder is not None else "cp932"
    return SourceFile(path, digest.hexdigest(), encoding, size)


class LineReader:
    """The decoded physical lines of a binary stream, hashed as they are read; undecodable bytes are errors."""

    def __init__(self, stream: BinaryIO, encoding: Encoding, errors: ErrorList) -> None:
        self._stream = stream
        self._encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self._skip_bom = encoding == "utf-8-sig"
        self._errors = errors
        self.digest = hashlib.sha256()
        self.line = 0
        self.stopped = False

    def __iter__(self) -> Iterator[str]:
        # Splitting the bytes on b"\n" is safe in cp932 too: its trail bytes are 0x40 and above.
        while raw := self._stream.readline(LINE_MAX + 1):
            self.line += 1
            self.digest.update(raw)
            if len(raw) > LINE_MAX and not raw.endswith(b"\n"):
                self._errors.line(self.line, f"longer than {LINE_MAX >> 20} MiB; reading stopped here")
                self.stopped = True
                return
            if self._skip_bom:
                self._skip_bom = False
                raw = raw.removeprefix(_UTF8_BOM)
            try:
                text = raw.decode(self._encoding)
            except UnicodeDecodeError as exc:
                bad = raw[exc.start : exc.start + 4].hex(" ")
                self._errors.line(
                    self.line, f"bytes that are not {self._encoding} text (at byte {exc.start + 1} of the line: {bad})"
                )
                text = raw.decode(self._encoding, "replace")
            yield text

    def drain(self) -> None:
        """Hash the rest of the file after reading stopped early, so the digest is of the whole file."""
        while chunk := self._stream.read(CHUNK):
            self.digest.update(chunk)
