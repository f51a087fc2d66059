"""A draft's answers as stored between inputs, the answer types, and what the flow knows besides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.i18n import t
from core.taxonomy import Taxonomy
from core.text import has_hidden

FlowKind = Literal["visit", "consult"]

# A record holds at most this many consultations: a longer summary card would outgrow Telegram's 4,096
# characters (about 150 each, plus a 500-character memo). More are saved as a second record.
CONSULTATIONS_MAX = 15

T = TypeVar("T")


class Skipped(BaseModel):
    """The answer "nothing" (skipped, no follow-up): distinct from None, which means not answered yet.

    Falsy, so that code reading a value (`if answer:`) treats it like an empty answer.
    """

    # The field is required and extras are refused so that no other JSON object reads as a skip.
    model_config = ConfigDict(frozen=True, extra="forbid")

    skipped: Literal[True]

    def __bool__(self) -> Literal[False]:
        return False


SKIPPED = Skipped(skipped=True)


def given(answer: T | Skipped | None) -> T | None:
    """The value of an answer: None when it was skipped or is not given yet."""
    return None if isinstance(answer, Skipped) else answer


def _from_flag(value: Any, done: Any) -> Any:
    """An answer of the old shape (value plus `*_done` flag) in the new one."""
    if not done:
        return None
    return SKIPPED if value is None else value


class Ticking(BaseModel):
    """A multi-select not confirmed yet: what is ticked so far."""

    model_config = ConfigDict(extra="forbid")

    ticked: list[str] = Field(default_factory=list)


class FollowUpAnswer(BaseModel):
    label: str | None = None
    reason: str | Skipped | None = None
    due: date | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_done_flags(cls, data: Any) -> Any:
        """Drafts saved before the answer types said a skipped reason with `reason_done`."""
        if isinstance(data, dict) and "reason_done" in data:
            data = dict(data)
            data["reason"] = _from_flag(data.get("reason"), data.pop("reason_done"))
        return data


class ConsultationAnswer(BaseModel):
    channel: str | None = None
    consulter: str | None = None
    category: str | None = None
    # Asked of the group that came from an agency only: the agency that consulted, and about what (a topic
    # SKIPPED is from drafts saved when the topic was optional and asked of every group).
    from_agency: str | None = None
    topic: str | Skipped | None = None
    # The referrals (つないだ先): ticks while the question is open, then the confirmed list ([] for なし).
    agency_answer: Ticking | list[str] = Field(default_factory=Ticking)
    # The answer to "follow-up?": a follow-up being entered, or SKIPPED for none.
    followup: Annotated[Skipped | FollowUpAnswer | None, Field(union_mode="left_to_right")] = None
    more: bool | None = None

    @property
    def agencies(self) -> list[str]:
        """The agencies chosen: confirmed, or ticked so far (the same list object, to change in place)."""
        answer = self.agency_answer
        return answer.ticked if isinstance(answer, Ticking) else answer

    @property
    def flagged(self) -> FollowUpAnswer | None:
        """The follow-up, when the consultation is flagged for one."""
        return self.followup if isinstance(self.followup, FollowUpAnswer) else None

    @model_validator(mode="before")
    @classmethod
    def _from_done_flags(cls, data: Any) -> Any:
        """Drafts saved before the answer types marked answers with `topic_done`, `agencies_done`, ..."""
        if not isinstance(data, dict) or "agencies_done" not in data:
            return data
        data = dict(data)
        data["topic"] = _from_flag(data.get("topic"), data.pop("topic_done", False))
        agencies = list(data.pop("agencies", None) or [])
        data["agency_answer"] = agencies if data.pop("agencies_done") else Ticking(ticked=agencies)
        # A flagged follow-up was always answered; without one, the flag tells "none" from "not yet".
        followup_done = data.pop("followup_done", False)
        if data.get("followup") is None:
            data["followup"] = SKIPPED if followup_done else None
        return data


class PendingAnswer(BaseModel):
    """A typed answer the step on screen asks to confirm before moving on: a follow-up label that looks like a
    full name (not taken yet), or a date whose year was guessed into another year or far from today (the dates
    to choose from; the guess stands meanwhile, and `previous`, the answer before it, comes back on ◀ 戻る).

    `step` is the stack id of the step that asked: the question shows only there.
    """

    model_config = ConfigDict(extra="forbid")

    step: str
    label: str | None = None
    days: list[date] = Field(default_factory=list)
    previous: date | None = None


class DraftState(BaseModel):
    """Everything a staff member has answered so far; stored as JSON in the draft row after each answer."""

    kind: FlowKind
    date: date
    area: str
    browse_zone: str | None = None
    activity: str | None = None
    # The registered place gone to (its id), SKIPPED for 活動先なし; its name is kept for the cards.
    place: int | Skipped | None = None
    place_name: str | None = None
    place_query: str | None = None  # what was typed to find another place
    new_place: str | None = None  # a place not in the register, added at save for a supervisor to confirm
    destination: str | None = None
    headcount: int | Skipped | None = None
    has_consultations: bool | None = None
    consultations: list[ConsultationAnswer] = Field(default_factory=list)
    memo: str | None = None
    stack: list[str] = Field(default_factory=list)
    # Optional, so that drafts saved before it existed load as they are.
    pending: PendingAnswer | None = None

    @property
    def step(self) -> str:
        return self.stack[-1]

    @model_validator(mode="before")
    @classmethod
    def _from_done_flags(cls, data: Any) -> Any:
        """Drafts saved before the answer types said a skipped headcount with `headcount_done`.

        Staff in the middle of a flow during an upgrade resume where they were (the consultations and
        their follow-ups convert themselves).
        """
        if isinstance(data, dict) and "headcount_done" in data:
            data = dict(data)
            data["headcount"] = _from_flag(data.get("headcount"), data.pop("headcount_done"))
        return data


@dataclass(frozen=True, slots=True)
class PlaceChoice:
    """A registered place as the flow offers it (public: a salon's name, never a person)."""

    id: int
    name: str
    kind: str  # a destination code: the outing's 支援先
    area: str


@dataclass(frozen=True, slots=True)
class Repeat:
    """One of the staff member's last distinct outings, offered as 前回と同じ."""

    activity: str
    destination: str
    area: str
    headcount: int | None
    place: PlaceChoice | None = None


@dataclass(frozen=True, slots=True)
class FlowContext:
    """What the flow needs to know besides the answers: categories, today, and who is answering; at the outing's
    first questions also the places to offer (recent first) and the last outings to repeat."""

    taxonomy: Taxonomy
    today: date
    home_zone: str | None
    recent_places: tuple[PlaceChoice, ...] = ()
    other_places: tuple[PlaceChoice, ...] = ()  # the rest of the zone's places, found by typing or browsing
    repeats: tuple[Repeat, ...] = ()

    def place(self, place_id: int) -> PlaceChoice | None:
        return next((p for p in (*self.recent_places, *self.other_places) if p.id == place_id), None)


def check_free_text(text: str, limit: int, *, multiline: bool = True) -> str | None:
    """A hint when typed text is empty, too long, or carries control or format characters; None when it is fine.

    Line breaks and tabs are kept in multi-line text (a reason, a note, a memo), not in a one-line label.
    """
    if not text:
        return t("flow.hint.empty_text")
    if len(text) > limit:
        return t("flow.hint.too_long", limit=limit, length=len(text))
    if has_hidden(text, "\n\t" if multiline else ""):
        return t("flow.hint.control_characters")
    return None
