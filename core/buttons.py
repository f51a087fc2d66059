"""Button data: one registry of button kinds, a frozen dataclass and a short prefix each, and their codec.

Every button the bot shows carries one of these, encoded as `prefix:field:field…` (Telegram's callback_data,
at most 64 bytes; a LINE WORKS postback later, at most 300 characters). Fields are ints, bools, short codes
or one of a fixed set of words (a `Literal`); only the last field of a kind may contain ':' (a flow action
such as `p:salon-elderly`). `decode` never raises: forged or outdated data decodes to None, and the bot
answers it as an expired button. Buttons carry codes and ids, never labels (labels change, and one Japanese
character is 3 bytes).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from typing_extensions import dataclass_transform

LIMIT = 64  # bytes: Telegram's limit on callback_data
INT_DIGITS = 18  # at most this many digits: a 64-bit integer, so a forged number cannot overflow storage


class Button:
    """A button kind: subclasses are frozen dataclasses registered with `@kind("prefix")`."""

    PREFIX: ClassVar[str] = ""


B = TypeVar("B", bound=Button)

_Parse = Callable[[str], Any]
_Format = Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    parse: _Parse  # returns the value, or raises ValueError
    format: _Format
    colon_ok: bool  # only the last field of a kind may contain ':'
    default: Any = dataclasses.MISSING  # trailing fields at their default are left out of the data


_KINDS: dict[str, type[Button]] = {}
_FIELDS: dict[type[Button], tuple[_Field, ...]] = {}


def _parse_int(text: str) -> int:
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit() and len(digits) <= INT_DIGITS):
        raise ValueError(text)  # int() would accept "٣", "+1", " 1" and 4,000-digit strings
    return int(text)


def _parse_bool(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(text)
    return text == "1"


def _parse_str(text: str) -> str:
    # Codes are checked where they are used (a taxonomy lookup): a forged one gets the same hint as a stale one.
    if not text or not text.isprintable():
        raise ValueError(text)
    return text


def _literal(choices: tuple[str, ...]) -> _Parse:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(text)
        return text

    return parse


def _field(name: str, annotation: Any, last: bool, default: Any) -> _Field:
    if annotation is int:
        return _Field(name, _parse_int, str, last, default)
    if annotation is bool:
        return _Field(name, _parse_bool, lambda value: "1" if value else "0", last, default)
    if annotation is str:
        return _Field(name, _parse_str, str, last, default)
    if typing.get_origin(annotation) is Literal:
        choices = typing.get_args(annotation)
        if all(isinstance(c, str) and ":" not in c for c in choices):
            return _Field(name, _literal(choices), str, last, default)
    raise TypeError(f"button field {name}: {annotation!r} is not int, bool, str or a Literal of words")


@dataclass_transform(frozen_default=True)
def kind(prefix: str) -> Callable[[type[B]], type[B]]:
    """Register a button kind under a prefix (short: it travels in every button of that kind)."""

    def register(cls: type[B]) -> type[B]:
        if not prefix.isascii() or not prefix.isalpha() or prefix in _KINDS:
            raise ValueError(f"button prefix {prefix!r} is not a fresh ASCII word")
        made = dataclass(frozen=True, slots=True)(cls)
        hints = typing.get_type_hints(made)
        found = dataclasses.fields(made)  # type: ignore[arg-type]
        made.PREFIX = prefix
        _FIELDS[made] = tuple(
            _field(f.name, hints[f.name], i == len(found) - 1, f.default) for i, f in enumerate(found)
        )
        _KINDS[prefix] = made
        return made

    return register


def kinds() -> dict[str, type[Button]]:
    """Every registered kind by prefix."""
    return dict(_KINDS)


def pattern(*classes: type[Button]) -> str:
    """A regular expression matching the data of every button of these kinds (for handler registration)."""
    return rf"^({'|'.join(cls.PREFIX for cls in classes)})(:|$)"


def encode(button: Button) -> str:
    """The data of one button; raises ValueError if it cannot travel (too long, or a ':' in a middle field)."""
    fields = list(_FIELDS[type(button)])
    while fields and getattr(button, fields[-1].name) == fields[-1].default:
        fields.pop()  # shorter data, and buttons sent before a field was added still decode
    parts = [button.PREFIX]
    for f in fields:
        text = f.format(getattr(button, f.name))
        if ":" in text and not f.colon_ok:
            raise ValueError(f"{type(button).__name__}.{f.name}: ':' only allowed in the last field")
        parts.append(text)
    data = ":".join(parts)
    if len(data.encode("utf-8")) > LIMIT:
        raise ValueError(f"{type(button).__name__}: {len(data.encode('utf-8'))} bytes, over {LIMIT}")
    return data


def decode(data: str | None) -> Button | None:
    """The button this data stands for, or None (unknown kind, wrong shape, a value out of range)."""
    if not data or len(data) > 4 * LIMIT:
        return None
    prefix, _, rest = data.partition(":")
    cls = _KINDS.get(prefix)
    if cls is None:
        return None
    fields = _FIELDS[cls]
    if not fields:
        return cls() if not rest and ":" not in data else None
    pieces = rest.split(":", len(fields) - 1) if ":" in data else []
    required = sum(1 for f in fields if f.default is dataclasses.MISSING)
    if not required <= len(pieces) <= len(fields) or (not pieces and not rest and ":" in data):
        return None
    try:
        values = {f.name: f.parse(piece) for f, piece in zip(fields, pieces, strict=False)}
    except ValueError:
        return None
    return cls(**values)


def decode_as(data: str | None, cls: type[B]) -> B | None:
    """`decode`, only if the data is a button of kind `cls`."""
    found = decode(data)
    return found if isinstance(found, cls) else None


# ---------------------------------------------------------------------------------------------------------------
# The kinds. Adding one: a dataclass here with a fresh prefix; the handler that owns it registers `pattern(...)`.

ResumeChoice = Literal["go", "drop", "visit", "consult"]
YesNo = Literal["yes", "no"]
RoleName = Literal["staff", "supervisor", "admin"]
DuePreset = Literal["1w", "2w", "1m"]
PeriodKey = Literal["week", "lastweek", "month", "fy", "lastfy"]
TableKey = Literal["staff", "area", "month", "places"]


@kind("f")
class FlowPress(Button):
    """An answer on a flow screen: the draft and its version (a stale press changes nothing), the flow action."""

    draft: int
    version: int
    action: str


@kind("r")
class ResumeDraft(Button):
    """After a restart: continue the draft, drop it, or drop it and start a new visit/consultation."""

    draft: int
    version: int
    choice: ResumeChoice


@kind("c")
class CancelDraft(Button):
    """The answer to 「破棄しますか？」."""

    draft: int
    version: int
    answer: YesNo


@kind("u")
class UndoSubmission(Button):
    submission: int


@kind("hz")
class HomeZone(Button):
    """Registration: the zone whose areas to offer as a home area (people without a zone)."""

    zone: str


@kind("ha")
class HomeArea(Button):
    area: str


@kind("ir")
class InviteRole(Button):
    role: RoleName


@kind("iz")
class InviteZone(Button):
    role: RoleName
    zone: str


@kind("il")
class InviteList(Button):
    """The unused invites, each with a button to withdraw it."""


@kind("iv")
class InviteRevoke(Button):
    invite: int


@kind("sp")
class StaffPage(Button):
    page: int


@kind("sa")
class StaffAsk(Button):
    """「停止」 pressed next to a person: asks to confirm."""

    staff: int


@kind("sd")
class StaffDeactivate(Button):
    staff: int


@kind("sr")
class StaffReactivateAsk(Button):
    """「再開」 pressed next to a deactivated person: asks to confirm."""

    staff: int


@kind("su")
class StaffReactivate(Button):
    staff: int


@kind("pp")
class PlacePage(Button):
    page: int


@kind("pc")
class PlaceCard(Button):
    place: int


@kind("ps")
class PlaceStatusSet(Button):
    """A place's status changed from its card (confirming a place added during an outing keeps its status)."""

    place: int
    status: str


@kind("pk")
class PlaceConfirm(Button):
    place: int


@kind("pn")
class PlaceRename(Button):
    """「名前を変更」 on a place's card: the new name is typed next."""

    place: int


@kind("pa")
class PlaceAdd(Button):
    """「＋ 活動先を追加」: the name is typed next, then the kind and the area are pressed."""


@kind("pt")
class PlaceAddKind(Button):
    kind: str


@kind("pr")
class PlaceAddArea(Button):
    area: str


@kind("fl")
class FollowUpPage(Button):
    page: int


@kind("fv")
class FollowUpCard(Button):
    followup: int


@kind("fx")
class FollowUpDetails(Button):
    """The 🔒 reason and notes, a page at a time: each view is audited."""

    followup: int
    page: int = 0


@kind("fn")
class FollowUpNote(Button):
    followup: int


@kind("fd")
class FollowUpDueMenu(Button):
    followup: int


@kind("fp")
class FollowUpDuePreset(Button):
    """A due-date preset (1週間後…); `day`: the date its label showed, as yyyymmdd, which the press sets (0 in
    buttons sent before the label showed a date: counted from the day of the press)."""

    followup: int
    preset: DuePreset
    day: int = 0


@kind("fi")
class FollowUpDueTyped(Button):
    followup: int


@kind("fc")
class FollowUpCloseMenu(Button):
    followup: int


@kind("fo")
class FollowUpClose(Button):
    followup: int
    outcome: str


@kind("fz")
class FollowUpReopen(Button):
    """元に戻す after 完了: reopens the follow-up only if it is still closed by that closing (`closed`: its time in
    microseconds since the epoch), within the undo window."""

    followup: int
    closed: int


@kind("fr")
class FollowUpOwnerMenu(Button):
    followup: int


@kind("fa")
class FollowUpOwner(Button):
    followup: int
    staff: int


@kind("fw")
class FollowUpOwnerPage(Button):
    """A supervisor's list of one person's open follow-ups (sent when that person is deactivated)."""

    staff: int
    page: int = 0


@kind("rp")
class ReportPeriod(Button):
    period: PeriodKey


@kind("rt")
class ReportTable(Button):
    """A supervisors' table of /report (担当者別, 地域別, 月別) for a period (default: this fiscal year)."""

    table: TableKey
    period: PeriodKey = "fy"


@kind("rc")
class ReportCity(Button):
    """The councils under this one side by side and summed (区社協合計), for a period."""

    period: PeriodKey


@kind("ex")
class ExportYear(Button):
    fiscal_year: int


@kind("fy")
class FollowUpDueDate(Button):
    """A due date offered when the year of a typed one was guessed: the date as yyyymmdd (20271101)."""

    followup: int
    day: int
