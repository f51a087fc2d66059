"""The outing and consultation flows as a pure state machine: answers in, next question out, no Telegram.

A draft's state is the answers given so far plus a stack of steps (the top is the question on screen).
`apply` takes one input (a button action or typed text) and returns the new state; `render` turns a state
into a `Screen` (text and buttons carrying short actions). The handlers store the state after every input
(the database is the truth) and turn screens into Telegram messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from core import dates
from core.i18n import t
from core.models import NewConsultation, NewFollowUp, NewOuting, Submission
from core.taxonomy import Category, Taxonomy

FlowKind = Literal["visit", "consult"]

LABEL_MAX = 30
# A record holds at most this many consultations: a longer summary card would outgrow Telegram's 4,096
# characters (about 150 each, plus a 500-character memo). More are saved as a second record.
CONSULTATIONS_MAX = 15
REASON_MAX = 300
MEMO_MAX = 500
HEADCOUNT_MAX = 9999
OUTING_MAX_AGE_DAYS = 400  # an outing older than this is surely a typo (the previous fiscal year fits)
DUE_MAX_DAYS = 366
HEADCOUNT_PRESETS = (3, 5, 8, 10, 15, 20, 30, 50)
DUE_PRESETS = {"1w": 7, "2w": 14, "1m": 30}


class FollowUpAnswer(BaseModel):
    label: str | None = None
    reason: str | None = None
    reason_done: bool = False
    due: date | None = None


class ConsultationAnswer(BaseModel):
    channel: str | None = None
    consulter: str | None = None
    category: str | None = None
    topic: str | None = None
    topic_done: bool = False
    agencies: list[str] = Field(default_factory=list)
    agencies_done: bool = False
    followup: FollowUpAnswer | None = None
    followup_done: bool = False
    more: bool | None = None


class DraftState(BaseModel):
    """Everything a staff member has answered so far; stored as JSON in the draft row after each answer."""

    kind: FlowKind
    date: date
    area: str
    browse_zone: str | None = None
    activity: str | None = None
    destination: str | None = None
    headcount: int | None = None
    headcount_done: bool = False
    has_consultations: bool | None = None
    consultations: list[ConsultationAnswer] = Field(default_factory=list)
    memo: str | None = None
    stack: list[str] = Field(default_factory=list)

    @property
    def step(self) -> str:
        return self.stack[-1]


@dataclass(frozen=True, slots=True)
class FlowContext:
    """What the flow needs to know besides the answers: categories, today, and who is answering."""

    taxonomy: Taxonomy
    today: date
    home_zone: str | None


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str


@dataclass(frozen=True, slots=True)
class Screen:
    text: str
    keyboard: list[list[Button]]
    accepts_text: bool = False


@dataclass(slots=True)
class Outcome:
    """The result of one input: the new state, and a hint to show when the input was not accepted."""

    state: DraftState
    hint: str | None = None
    changed: bool = True
    notes: list[str] = field(default_factory=list)


# Actions carried by buttons (kept short: they travel in 64-byte callback data).
PICK = "p"  # p:<code>  choose an option of the current step
TOGGLE = "t"  # t:<code>  toggle an agency
OK = "k"  # confirm a multi-select
SKIP = "x"  # skip an optional step
BACK = "b"
EDIT = "e"  # e:<target>  jump to a field (from the summary card or the first question)
ZONE = "z"  # z:<zone>   browse the areas of another zone
SAVE = "s"
DISCARD = "d"
NOOP = "n"

NONE_CODE = "-"  # the exclusive なし of the agency multi-select


def start(kind: FlowKind, ctx: FlowContext, home_area: str) -> DraftState:
    """A new draft: date and area pre-filled (today, the staff member's own area) so they cost no tap."""
    state = DraftState(kind=kind, date=ctx.today, area=home_area)
    if kind == "consult":
        state.has_consultations = True
        state.consultations = [ConsultationAnswer()]
    first = _sequence(state, ctx)[0]
    state.stack = [first]
    return state


# ---------------------------------------------------------------------------------------------------------
# The order of questions


def _index(step: str) -> tuple[str, int]:
    name, _, number = step.partition(".")
    # Forged button data reaches here too (e:cons.x): anything but a short ASCII number is no index.
    return name, int(number) if number.isascii() and number.isdigit() and len(number) <= 6 else -1


def _consultation_steps(state: DraftState, ctx: FlowContext, i: int) -> list[str]:
    answer = state.consultations[i]
    steps = [f"channel.{i}"] if state.kind == "consult" else []
    steps.append(f"consulter.{i}")
    if answer.consulter is None or len(ctx.taxonomy.categories_of(answer.consulter).active()) > 0:
        steps.append(f"category.{i}")
    steps += [f"topic.{i}", f"agencies.{i}", f"next.{i}"]
    if answer.followup is not None:
        steps += [f"fu_label.{i}", f"fu_reason.{i}", f"fu_due.{i}", f"after_fu.{i}"]
    return steps


def _sequence(state: DraftState, ctx: FlowContext) -> list[str]:
    steps: list[str] = []
    if state.kind == "visit":
        steps += ["activity", "destination", "headcount", "has_consult"]
    for i in range(len(state.consultations)):
        steps += _consultation_steps(state, ctx, i)
    steps.append("summary")
    return steps


def _answered(state: DraftState, ctx: FlowContext, step: str) -> bool:
    name, i = _index(step)
    if name == "activity":
        return state.activity is not None
    if name == "destination":
        return state.destination is not None
    if name == "headcount":
        return state.headcount_done
    if name == "has_consult":
        return state.has_consultations is not None
    if name == "summary":
        return False
    c = state.consultations[i]
    match name:
        case "channel":
            return c.channel is not None
        case "consulter":
            return c.consulter is not None
        case "category":
            return c.category is not None or (
                c.consulter is not None and not ctx.taxonomy.categories_of(c.consulter).active()
            )
        case "topic":
            return c.topic_done
        case "agencies":
            return c.agencies_done
        case "next":
            return c.followup_done
        case "fu_label":
            return c.followup is not None and c.followup.label is not None
        case "fu_reason":
            return c.followup is not None and c.followup.reason_done
        case "fu_due":
            return c.followup is not None and c.followup.due is not None
        case "after_fu":
            return c.more is not None
    return True


def missing_step(state: DraftState, ctx: FlowContext) -> str | None:
    """The first unanswered question, or None when the draft can be saved."""
    return next((s for s in _sequence(state, ctx) if s != "summary" and not _answered(state, ctx, s)), None)


def _advance(state: DraftState, ctx: FlowContext, answered: str) -> None:
    """After a step is answered: go to the next unanswered question, or back to the summary card."""
    sequence = _sequence(state, ctx)
    start_at = sequence.index(answered) + 1 if answered in sequence else 0
    target = next(
        (s for s in sequence[start_at:] if s != "summary" and not _answered(state, ctx, s)),
        None,
    ) or next((s for s in sequence if s != "summary" and not _answered(state, ctx, s)), "summary")
    if target == "summary" and "summary" in state.stack:
        while state.stack[-1] != "summary":
            state.stack.pop()
        return
    state.stack.append(target)


def _return(state: DraftState) -> None:
    """Leave a side step (date, area, a sub-menu) back to the screen it was opened from."""
    if len(state.stack) > 1:
        state.stack.pop()


# ---------------------------------------------------------------------------------------------------------
# Inputs


def apply(state: DraftState, ctx: FlowContext, action: str | None = None, text: str | None = None) -> Outcome:
    """Apply one button action or one typed text to a copy of the state."""
    new = state.model_copy(deep=True)
    if text is not None:
        return _apply_text(new, ctx, text)
    assert action is not None
    op, _, arg = action.partition(":")
    step = new.step
    name, i = _index(step)
    if op == NOOP:
        return Outcome(state, changed=False)
    if op == BACK:
        if len(new.stack) <= 1:
            return Outcome(state, changed=False)
        new.stack.pop()
        new.browse_zone = None
        return Outcome(new)
    if op == EDIT:
        return _apply_edit(new, ctx, arg)
    if op == ZONE and name == "area" and ctx.taxonomy.zone(arg):
        new.browse_zone = arg
        return Outcome(new)
    if op == SKIP:
        return _apply_skip(new, ctx, name, i)
    if op == TOGGLE and name == "agencies":
        return _apply_toggle(new, ctx, i, arg)
    if op == OK and name == "agencies":
        if not new.consultations[i].agencies:
            return Outcome(state, hint=t("flow.hint.pick_agency_or_none"), changed=False)
        new.consultations[i].agencies_done = True
        _advance(new, ctx, step)
        return Outcome(new)
    if op == PICK:
        return _apply_pick(new, ctx, name, i, arg)
    return Outcome(state, hint=t("flow.hint.use_buttons"), changed=False)


def _valid(dimension: Iterable[Category], code: str) -> bool:
    return any(c.code == code and not c.retired for c in dimension)


def _apply_pick(new: DraftState, ctx: FlowContext, name: str, i: int, code: str) -> Outcome:
    tax = ctx.taxonomy
    step = new.step
    invalid = Outcome(new, hint=t("flow.hint.use_buttons"), changed=False)
    match name:
        case "date":
            preset = {"today": 0, "yesterday": 1, "before": 2}.get(code)
            if preset is None:
                return invalid
            new.date = ctx.today - timedelta(days=preset)
            _return(new)
            return Outcome(new)
        case "area":
            area = tax.area(code)
            if area is None or area.retired:
                return invalid
            new.area = code
            new.browse_zone = None
            _return(new)
            return Outcome(new)
        case "activity":
            if not _valid(tax.activity, code):
                return invalid
            new.activity = code
        case "destination":
            if not _valid(tax.destination, code):
                return invalid
            new.destination = code
        case "headcount":
            if not (code.isascii() and code.isdigit()) or int(code) not in HEADCOUNT_PRESETS:
                return invalid
            new.headcount = int(code)
            new.headcount_done = True
        case "has_consult":
            if code not in ("yes", "no"):
                return invalid
            new.has_consultations = code == "yes"
            if new.has_consultations and not new.consultations:
                new.consultations = [ConsultationAnswer()]
            if not new.has_consultations:
                new.consultations = []
        case "channel":
            if not _valid(tax.channel, code):
                return invalid
            new.consultations[i].channel = code
        case "consulter":
            if not _valid(tax.consulter, code):
                return invalid
            c = new.consultations[i]
            if c.consulter != code:
                c.category = None
            c.consulter = code
        case "category":
            c = new.consultations[i]
            if c.consulter is None or not _valid(tax.categories_of(c.consulter), code):
                return invalid
            c.category = code
        case "topic":
            if not _valid(tax.topic, code):
                return invalid
            new.consultations[i].topic = code
            new.consultations[i].topic_done = True
        case "next":
            c = new.consultations[i]
            if code == "flag":
                c.followup = c.followup or FollowUpAnswer()
                c.followup_done = True
            elif code in ("more", "done"):
                if code == "more" and _full(new, i):
                    return Outcome(
                        new, hint=t("flow.hint.too_many_consultations", max=CONSULTATIONS_MAX), changed=False
                    )
                c.followup = None
                c.followup_done = True
                _set_more(new, i, code == "more")
            else:
                return invalid
        case "after_fu":
            if code not in ("more", "done"):
                return invalid
            if code == "more" and _full(new, i):
                return Outcome(new, hint=t("flow.hint.too_many_consultations", max=CONSULTATIONS_MAX), changed=False)
            _set_more(new, i, code == "more")
        case "fu_label":
            followup = new.consultations[i].followup
            if code != "suggested" or followup is None:
                return invalid
            followup.label = _label_suggestion(new, ctx, i)
            _after_followup_field(new, ctx, step)
            return Outcome(new)
        case "fu_due":
            followup = new.consultations[i].followup
            if followup is None:
                return invalid
            if code == "date":
                new.stack.append(f"fu_date.{i}")
                return Outcome(new)
            days = DUE_PRESETS.get(code)
            if days is None:
                return invalid
            followup.due = ctx.today + timedelta(days=days)
            _after_followup_field(new, ctx, step)
            return Outcome(new)
        case "fu_edit":
            c = new.consultations[i]
            if code == "remove":
                c.followup = None
                c.followup_done = True
                if c.more is None:
                    c.more = i + 1 < len(new.consultations)
                _return(new)
                return Outcome(new)
            if code == "add":
                c.followup = FollowUpAnswer()
                c.followup_done = True
                _return(new)
                _advance(new, ctx, f"next.{i}")
                return Outcome(new)
            if code in ("label", "reason", "due") and c.followup is not None:
                new.stack.append(f"fu_{code}.{i}")
                return Outcome(new)
            return invalid
        case "cons_menu":
            return _apply_consultation_menu(new, ctx, i, code)
        case _:
            return invalid
    _advance(new, ctx, step)
    return Outcome(new)


def _full(state: DraftState, i: int) -> bool:
    """No consultation may follow the i-th: the record already holds the most it can."""
    return i + 1 >= len(state.consultations) and len(state.consultations) >= CONSULTATIONS_MAX


def _set_more(state: DraftState, i: int, more: bool) -> None:
    c = state.consultations[i]
    c.more = more
    if more and i + 1 >= len(state.consultations):
        follower = ConsultationAnswer()
        if state.kind == "consult":
            # A second consultation in the same call came the same way: pre-filled, changeable on the card.
            follower.channel = c.channel
        state.consultations.append(follower)
    if not more:
        del state.consultations[i + 1 :]


def _apply_toggle(new: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
    c = new.consultations[i]
    if code == NONE_CODE:
        # なし is exclusive and final: it clears the selection and answers the question in one tap.
        c.agencies = []
        c.agencies_done = True
        _advance(new, ctx, new.step)
        return Outcome(new)
    if not _valid(ctx.taxonomy.agency, code):
        return Outcome(new, hint=t("flow.hint.use_buttons"), changed=False)
    if code in c.agencies:
        c.agencies.remove(code)
    else:
        c.agencies.append(code)
        order = ctx.taxonomy.agency.order_of
        c.agencies.sort(key=order)
    return Outcome(new)


def _apply_skip(new: DraftState, ctx: FlowContext, name: str, i: int) -> Outcome:
    if name == "headcount":
        new.headcount = None
        new.headcount_done = True
    elif name == "topic":
        new.consultations[i].topic = None
        new.consultations[i].topic_done = True
    elif name == "fu_reason" and new.consultations[i].followup is not None:
        followup = new.consultations[i].followup
        assert followup is not None
        followup.reason, followup.reason_done = None, True
        _after_followup_field(new, ctx, new.step)
        return Outcome(new)
    else:
        return Outcome(new, hint=t("flow.hint.use_buttons"), changed=False)
    _advance(new, ctx, new.step)
    return Outcome(new)


def _apply_edit(new: DraftState, ctx: FlowContext, target: str) -> Outcome:
    name, i = _index(target)
    if target in ("date", "area"):
        if new.step in ("date", "area"):
            new.stack.pop()
        new.stack.append(target)
        return Outcome(new)
    if new.step != "summary" and not new.step.startswith("cons_menu"):
        return Outcome(new, hint=t("flow.hint.use_buttons"), changed=False)
    if target == "memo_clear":
        new.memo = None
        return Outcome(new)
    if target == "add_consultation":
        if len(new.consultations) >= CONSULTATIONS_MAX:
            return Outcome(new, hint=t("flow.hint.too_many_consultations", max=CONSULTATIONS_MAX), changed=False)
        new.has_consultations = True
        if new.consultations:
            new.consultations[-1].more = True
        new.consultations.append(ConsultationAnswer())
        _advance(new, ctx, "summary")
        return Outcome(new)
    if name == "cons" and 0 <= i < len(new.consultations):
        new.stack.append(f"cons_menu.{i}")
        return Outcome(new)
    if target in ("activity", "destination", "headcount") and new.kind == "visit":
        new.stack.append(target)
        return Outcome(new)
    return Outcome(new, hint=t("flow.hint.use_buttons"), changed=False)


def _apply_consultation_menu(new: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
    if code == "delete":
        if new.kind == "consult" and len(new.consultations) == 1:
            return Outcome(new, hint=t("flow.hint.last_consultation"), changed=False)
        del new.consultations[i]
        if new.consultations:
            new.consultations[-1].more = False
        else:
            new.has_consultations = False
        _return(new)
        return Outcome(new)
    fields = {"channel", "consulter", "category", "topic", "agencies", "fu_edit"}
    if code not in fields or (code == "channel" and new.kind != "consult"):
        return Outcome(new, hint=t("flow.hint.use_buttons"), changed=False)
    if code == "category" and not ctx.taxonomy.categories_of(new.consultations[i].consulter or "").active():
        return Outcome(new, hint=t("flow.hint.use_buttons"), changed=False)
    new.stack.append(f"{code}.{i}")
    return Outcome(new)


def _apply_text(new: DraftState, ctx: FlowContext, text: str) -> Outcome:
    step = new.step
    name, i = _index(step)
    text = text.strip()
    if name == "date":
        day = dates.parse_date(text, ctx.today, prefer="past")
        if day is None:
            return Outcome(new, hint=t("flow.hint.bad_date"), changed=False)
        if day > ctx.today:
            return Outcome(new, hint=t("flow.hint.future_date"), changed=False)
        if (ctx.today - day).days > OUTING_MAX_AGE_DAYS:
            return Outcome(new, hint=t("flow.hint.old_date"), changed=False)
        new.date = day
        _return(new)
        return Outcome(new)
    if name == "headcount":
        digits = re.sub(r"[^\d]+$", "", dates.normalise(text))  # 12人, 12名: the counter word is optional
        if not re.fullmatch(r"-?\d+", digits):  # not "--1": int() would raise
            return Outcome(new, hint=t("flow.hint.headcount_number"), changed=False)
        # int() refuses more than 4,300 digits, and NFKC makes 4,096 characters into more ("⑳" is "20").
        number = int(digits) if len(digits) <= 9 else HEADCOUNT_MAX + 1
        if number < 0 or number > HEADCOUNT_MAX:
            return Outcome(new, hint=t("flow.hint.headcount_range", max=HEADCOUNT_MAX), changed=False)
        new.headcount = number
        new.headcount_done = True
        _advance(new, ctx, step)
        return Outcome(new)
    if name == "fu_label":
        label = " ".join(text.split())
        problem = check_free_text(label, LABEL_MAX)
        if problem:
            return Outcome(new, hint=problem, changed=False)
        followup = new.consultations[i].followup
        assert followup is not None
        followup.label = label
        _after_followup_field(new, ctx, step)
        return Outcome(new)
    if name == "fu_reason":
        problem = check_free_text(text, REASON_MAX)
        if problem:
            return Outcome(new, hint=problem, changed=False)
        followup = new.consultations[i].followup
        assert followup is not None
        followup.reason, followup.reason_done = text, True
        _after_followup_field(new, ctx, step)
        return Outcome(new)
    if name in ("fu_due", "fu_date"):
        day = dates.parse_date(text, ctx.today, prefer="future")
        if day is None:
            return Outcome(new, hint=t("flow.hint.bad_date"), changed=False)
        if day < ctx.today:
            return Outcome(new, hint=t("flow.hint.past_due"), changed=False)
        if (day - ctx.today).days > DUE_MAX_DAYS:
            return Outcome(new, hint=t("flow.hint.far_due"), changed=False)
        followup = new.consultations[i].followup
        assert followup is not None
        followup.due = day
        if name == "fu_date":
            new.stack.pop()  # the typed-date prompt stands in for the due-date step
        _after_followup_field(new, ctx, f"fu_due.{i}")
        return Outcome(new)
    if name == "area":
        area = ctx.taxonomy.resolve_area(text)
        if area is None or area.retired:
            return Outcome(new, hint=t("flow.hint.use_buttons"), changed=False)
        new.area = area.code
        new.browse_zone = None
        _return(new)
        return Outcome(new)
    if name == "summary":
        problem = check_free_text(text, MEMO_MAX)
        if problem:
            return Outcome(new, hint=problem, changed=False)
        new.memo = text
        return Outcome(new)
    return Outcome(new, hint=t("flow.hint.use_buttons"), changed=False)


def _after_followup_field(new: DraftState, ctx: FlowContext, step: str) -> None:
    if len(new.stack) >= 2 and new.stack[-2].startswith("fu_edit"):
        _return(new)  # an edit from the follow-up menu goes back to that menu
        return
    if new.step != step:
        new.stack.append(step)
    _advance(new, ctx, step)


def check_free_text(text: str, limit: int) -> str | None:
    """A hint when typed text is empty, too long, or carries control characters; None when it is fine."""
    if not text:
        return t("flow.hint.empty_text")
    if len(text) > limit:
        return t("flow.hint.too_long", limit=limit, length=len(text))
    if any(ch in text for ch in "\x00\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"):
        return t("flow.hint.control_characters")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        return t("flow.hint.control_characters")
    return None


def _label_suggestion(state: DraftState, ctx: FlowContext, i: int) -> str:
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i % 26]
    return t(
        "flow.followup.suggested_label",
        area=ctx.taxonomy.area_label(state.area),
        month=state.date.month,
        day=state.date.day,
        letter=letter,
    )


# ---------------------------------------------------------------------------------------------------------
# Saving


def to_submission(state: DraftState, ctx: FlowContext, staff_id: int) -> Submission:
    """The records a complete draft saves. Call only when `missing_step` is None."""
    outing = None
    if state.kind == "visit":
        assert state.activity and state.destination
        outing = NewOuting(state.activity, state.destination, state.headcount)
    consultations = []
    for c in state.consultations:
        assert c.consulter is not None
        channel = ctx.taxonomy.outing_channel if state.kind == "visit" else c.channel
        assert channel is not None
        followup = None
        if c.followup is not None:
            assert c.followup.label and c.followup.due
            followup = NewFollowUp(c.followup.label, c.followup.due, c.followup.reason)
        consultations.append(
            NewConsultation(
                channel=channel,
                consulter=c.consulter,
                consulter_category=c.category,
                topic=c.topic,
                agencies=tuple(c.agencies),
                at_outing=channel == ctx.taxonomy.outing_channel,
                followup=followup,
            )
        )
    return Submission(
        staff_id=staff_id,
        date=state.date,
        area=state.area,
        outing=outing,
        consultations=tuple(consultations),
        memo=state.memo,
    )


# ---------------------------------------------------------------------------------------------------------
# Screens


def _columns(labels: list[str]) -> int:
    longest = max((len(label) for label in labels), default=0)
    if longest <= 5:
        return 3
    if longest <= 11:
        return 2
    return 1


def _grid(buttons: list[Button], columns: int | None = None) -> list[list[Button]]:
    columns = columns or _columns([b.label for b in buttons])
    return [buttons[k : k + columns] for k in range(0, len(buttons), columns)]


def _mark(label: str, chosen: bool) -> str:
    return t("flow.chosen", label=label) if chosen else label


def _choices(categories: Iterable[Category], current: str | None) -> list[list[Button]]:
    return _grid([Button(_mark(c.label, c.code == current), f"{PICK}:{c.code}") for c in categories])


def _nav(state: DraftState, *extra: Button) -> list[Button]:
    row = list(extra)
    if len(state.stack) > 1:
        row.insert(0, Button(t("flow.button.back"), BACK))
    return row


def _header(state: DraftState, ctx: FlowContext) -> str:
    title = t("flow.title.visit") if state.kind == "visit" else t("flow.title.consult")
    return t(
        "flow.header",
        title=title,
        date=dates.short(state.date),
        area=ctx.taxonomy.area_label(state.area),
    )


def _consultation_heading(state: DraftState, i: int) -> str:
    return t("flow.consultation_heading", number=i + 1)


def render(state: DraftState, ctx: FlowContext, hint: str | None = None) -> Screen:
    screen = _render(state, ctx)
    body = f"{_header(state, ctx)}\n\n{screen.text}"
    if hint:
        body = f"{t('flow.hint_prefix', hint=hint)}\n\n{body}"
    return Screen(body, screen.keyboard, screen.accepts_text)


def _render(state: DraftState, ctx: FlowContext) -> Screen:
    tax = ctx.taxonomy
    name, i = _index(state.step)
    c = state.consultations[i] if i >= 0 and i < len(state.consultations) else None
    first_row = [
        Button(t("flow.button.change_date"), f"{EDIT}:date"),
        Button(t("flow.button.change_area"), f"{EDIT}:area"),
    ]
    is_first = len(state.stack) == 1
    match name:
        case "activity":
            rows = _choices(tax.activity.active(), state.activity)
            if is_first:
                rows.append(first_row)
            rows.append(_nav(state))
            return Screen(t("flow.ask.activity"), [r for r in rows if r])
        case "destination":
            rows = _choices(tax.destination.active(), state.destination)
            return Screen(t("flow.ask.destination"), [*rows, _nav(state)])
        case "headcount":
            presets = [
                Button(_mark(t("flow.people", count=n), state.headcount == n), f"{PICK}:{n}") for n in HEADCOUNT_PRESETS
            ]
            rows = _grid(presets, 4)
            rows.append(_nav(state, Button(t("flow.button.skip"), SKIP)))
            return Screen(t("flow.ask.headcount", max=HEADCOUNT_MAX), rows, accepts_text=True)
        case "has_consult":
            yes = _mark(t("flow.button.consult_yes"), state.has_consultations is True)
            no = _mark(t("flow.button.consult_no"), state.has_consultations is False)
            return Screen(
                t("flow.ask.has_consult"),
                [[Button(yes, f"{PICK}:yes"), Button(no, f"{PICK}:no")], _nav(state)],
            )
        case "channel":
            assert c is not None
            rows = _choices(tax.channel.active(), c.channel)
            if is_first:
                rows.append(first_row)
            nav = _nav(state)
            text = f"{_consultation_heading(state, i)}\n{t('flow.ask.channel')}"
            return Screen(text, [*rows, nav] if nav else rows)
        case "consulter":
            assert c is not None
            rows = _choices(tax.consulter.active(), c.consulter)
            return Screen(f"{_consultation_heading(state, i)}\n{t('flow.ask.consulter')}", [*rows, _nav(state)])
        case "category":
            assert c is not None and c.consulter is not None
            rows = _choices(tax.categories_of(c.consulter).active(), c.category)
            text = t("flow.ask.category", group=tax.consulter.label(c.consulter))
            return Screen(f"{_consultation_heading(state, i)}\n{text}", [*rows, _nav(state)])
        case "topic":
            assert c is not None
            rows = _choices(tax.topic.active(), c.topic)
            rows.append(_nav(state, Button(t("flow.button.skip"), SKIP)))
            return Screen(f"{_consultation_heading(state, i)}\n{t('flow.ask.topic')}", rows)
        case "agencies":
            assert c is not None
            toggles = [
                Button(
                    t("flow.toggle_on", label=a.label) if a.code in c.agencies else a.label,
                    f"{TOGGLE}:{a.code}",
                )
                for a in tax.agency.active()
            ]
            rows = _grid(toggles)
            rows.append([Button(t("flow.button.no_agency"), f"{TOGGLE}:{NONE_CODE}")])
            rows.append(_nav(state, Button(t("flow.button.confirm_agencies", count=len(c.agencies)), OK)))
            return Screen(f"{_consultation_heading(state, i)}\n{t('flow.ask.agencies')}", rows)
        case "next":
            assert c is not None
            rows = [
                [Button(t("flow.button.flag_followup"), f"{PICK}:flag")],
                [Button(t("flow.button.no_followup_more"), f"{PICK}:more")] if not _full(state, i) else [],
                [Button(t("flow.button.no_followup_done"), f"{PICK}:done")],
                _nav(state),
            ]
            return Screen(f"{_consultation_heading(state, i)}\n{t('flow.ask.followup')}", rows)
        case "fu_label":
            assert c is not None
            suggestion = _label_suggestion(state, ctx, i)
            rows = [
                [Button(t("flow.button.use_suggestion", label=suggestion), f"{PICK}:suggested")],
                _nav(state),
            ]
            text = t("flow.ask.followup_label", limit=LABEL_MAX)
            return Screen(f"{_consultation_heading(state, i)}\n{text}", rows, accepts_text=True)
        case "fu_reason":
            assert c is not None
            rows = [_nav(state, Button(t("flow.button.skip"), SKIP))]
            text = t("flow.ask.followup_reason", limit=REASON_MAX)
            return Screen(f"{_consultation_heading(state, i)}\n{text}", rows, accepts_text=True)
        case "fu_due":
            assert c is not None
            presets = [Button(t(f"flow.due.{code}"), f"{PICK}:{code}") for code in DUE_PRESETS]
            presets.append(Button(t("flow.due.date"), f"{PICK}:date"))
            rows = [presets, _nav(state)]
            return Screen(f"{_consultation_heading(state, i)}\n{t('flow.ask.followup_due')}", rows, accepts_text=True)
        case "fu_date":
            return Screen(t("flow.ask.followup_date"), [_nav(state)], accepts_text=True)
        case "after_fu":
            rows = [
                [Button(t("flow.button.more"), f"{PICK}:more")] if not _full(state, i) else [],
                [Button(t("flow.button.done"), f"{PICK}:done")],
                _nav(state),
            ]
            return Screen(f"{_consultation_heading(state, i)}\n{t('flow.ask.after_followup')}", rows)
        case "fu_edit":
            assert c is not None
            if c.followup is None:
                rows = [[Button(t("flow.button.followup_add"), f"{PICK}:add")]]
            else:
                rows = [
                    [Button(t("flow.button.followup_label"), f"{PICK}:label")],
                    [Button(t("flow.button.followup_reason"), f"{PICK}:reason")],
                    [Button(t("flow.button.followup_due"), f"{PICK}:due")],
                    [Button(t("flow.button.followup_remove"), f"{PICK}:remove")],
                ]
            rows.append(_nav(state))
            return Screen(f"{_consultation_heading(state, i)}\n{t('flow.ask.followup_edit')}", rows)
        case "cons_menu":
            assert c is not None
            fields = []
            if state.kind == "consult":
                fields.append(Button(t("flow.field.channel"), f"{PICK}:channel"))
            fields.append(Button(t("flow.field.consulter"), f"{PICK}:consulter"))
            if c.consulter and tax.categories_of(c.consulter).active():
                fields.append(Button(t("flow.field.category"), f"{PICK}:category"))
            fields += [
                Button(t("flow.field.topic"), f"{PICK}:topic"),
                Button(t("flow.field.agencies"), f"{PICK}:agencies"),
                Button(t("flow.field.followup"), f"{PICK}:fu_edit"),
            ]
            rows = _grid(fields, 2)
            rows.append([Button(t("flow.button.delete_consultation"), f"{PICK}:delete")])
            rows.append(_nav(state))
            heading = _consultation_heading(state, i)
            text = f"{heading}\n{_consultation_summary(state, ctx, i)}\n\n{t('flow.ask.cons_menu')}"
            return Screen(text, rows)
        case "date":
            presets = [
                Button(
                    _mark(
                        t(f"flow.date.{key}", date=dates.short(ctx.today - timedelta(days=n))),
                        state.date == ctx.today - timedelta(days=n),
                    ),
                    f"{PICK}:{key}",
                )
                for key, n in (("today", 0), ("yesterday", 1), ("before", 2))
            ]
            return Screen(t("flow.ask.date"), [*_grid(presets, 1), _nav(state)], accepts_text=True)
        case "area":
            zone_code = state.browse_zone or ctx.home_zone or tax.zones[0].code
            zone = tax.zone(zone_code) or tax.zones[0]
            areas = [a for a in zone.areas if not a.retired]
            rows = _grid([Button(_mark(a.label, a.code == state.area), f"{PICK}:{a.code}") for a in areas])
            others = [
                Button(t("flow.button.zone", zone=z.label), f"{ZONE}:{z.code}")
                for z in tax.zones
                if z.code != zone.code and not z.retired
            ]
            rows += _grid(others, 2)
            rows.append(_nav(state))
            return Screen(t("flow.ask.area", zone=zone.label), rows)
        case "summary":
            return _render_summary(state, ctx)
    raise ValueError(f"unknown step {state.step!r}")


def _consultation_summary(state: DraftState, ctx: FlowContext, i: int) -> str:
    tax = ctx.taxonomy
    c = state.consultations[i]
    lines = []
    who = tax.consulter.label(c.consulter) if c.consulter else t("flow.unanswered")
    if c.category and c.consulter:
        who = t(
            "flow.summary.group_category",
            group=who,
            category=tax.categories_of(c.consulter).label(c.category),
        )
    if state.kind == "consult" and c.channel:
        lines.append(t("flow.summary.channel", channel=tax.channel.label(c.channel)))
    lines.append(t("flow.summary.consulter", consulter=who))
    lines.append(t("flow.summary.topic", topic=tax.topic.label(c.topic) if c.topic else t("flow.none")))
    agencies = t("flow.list_separator").join(tax.agency.label(a) for a in c.agencies) if c.agencies else t("flow.none")
    lines.append(t("flow.summary.agencies", agencies=agencies))
    if c.followup is not None and c.followup.label and c.followup.due:
        lines.append(t("flow.summary.followup", label=c.followup.label, due=dates.short(c.followup.due)))
        if c.followup.reason:
            lines.append(t("flow.summary.followup_reason", reason=c.followup.reason))
    else:
        lines.append(t("flow.summary.followup_none"))
    return "\n".join(lines)


def render_summary_text(state: DraftState, ctx: FlowContext) -> str:
    """Every answer, one per line: the body of the summary card and of the saved confirmation."""
    tax = ctx.taxonomy
    lines = [t("flow.summary.date", date=dates.long(state.date))]
    lines.append(t("flow.summary.area", area=tax.area_label(state.area)))
    if state.kind == "visit":
        lines.append(t("flow.summary.activity", activity=tax.activity.label(state.activity or "")))
        lines.append(t("flow.summary.destination", destination=tax.destination.label(state.destination or "")))
        headcount = t("flow.people", count=state.headcount) if state.headcount is not None else t("flow.not_given")
        lines.append(t("flow.summary.headcount", headcount=headcount))
    lines.append(t("flow.summary.consultations", count=len(state.consultations)))
    for i in range(len(state.consultations)):
        body = _consultation_summary(state, ctx, i).replace("\n", "\n    ")
        lines.append(t("flow.summary.consultation_item", number=i + 1, body=body))
    if state.memo:
        lines.append(t("flow.summary.memo", memo=state.memo))
    return "\n".join(lines)


def _render_summary(state: DraftState, ctx: FlowContext) -> Screen:
    lines = [t("flow.summary.title"), render_summary_text(state, ctx)]
    if not state.memo:
        lines.append(t("flow.summary.memo_hint", limit=MEMO_MAX))
    rows: list[list[Button]] = [
        [Button(t("flow.field.date"), f"{EDIT}:date"), Button(t("flow.field.area"), f"{EDIT}:area")]
    ]
    if state.kind == "visit":
        rows.append(
            [
                Button(t("flow.field.activity"), f"{EDIT}:activity"),
                Button(t("flow.field.destination"), f"{EDIT}:destination"),
                Button(t("flow.field.headcount"), f"{EDIT}:headcount"),
            ]
        )
    consult_buttons = [
        Button(t("flow.field.consultation", number=i + 1), f"{EDIT}:cons.{i}") for i in range(len(state.consultations))
    ]
    if len(state.consultations) < CONSULTATIONS_MAX:
        consult_buttons.append(Button(t("flow.button.add_consultation"), f"{EDIT}:add_consultation"))
    rows += _grid(consult_buttons, 3)
    if state.memo:
        rows.append([Button(t("flow.button.memo_clear"), f"{EDIT}:memo_clear")])
    rows.append([Button(t("flow.button.save"), SAVE)])
    rows.append(_nav(state, Button(t("flow.button.discard"), DISCARD)))
    return Screen("\n".join(lines), rows, accepts_text=True)
