"""The outing (/visit) and consultation (/consult) flows as a use case: drafts, answers, saving, undo.

A draft row holds the answers so far (sealed: a follow-up's label and reason are among them) and is written after
every answer, so a crash or restart loses nothing. Every write takes the update's idempotency key; a button
also carries the draft's version, so a press delivered twice, or pressed on an old message, changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

from pydantic import ValidationError

from core import dates, flow
from core.accounts import is_lineworks
from core.buttons import CancelDraft, FlowPress, ResumeDraft, UndoSubmission
from core.faults import crash_point
from core.flow import DraftState, FlowContext, FlowKind, PlaceChoice, Repeat, Screen
from core.flow.screen import FormField
from core.i18n import t
from core.models import Place, Staff
from core.webapp import LinkClaims
from services.deps import Deps
from services.screens import Choice, FormLink, Reply, View, expired, rows
from storage.interface import Tx
from storage.types import AlreadyProcessed, Draft, DraftConflict, IdempotencyKey

log = logging.getLogger(__name__)

UNDO_WINDOW = timedelta(minutes=10)
# The steps whose screens offer places or repeats (the card too: its place can be changed), and how many.
PLACE_STEPS = frozenset({"activity", "place", "place_search", "summary", "date", "area"})
RECENT_PLACES = 6
REPEATS = 3


def _choice(place: Place) -> PlaceChoice:
    return PlaceChoice(place.id, place.name, place.kind, place.area)


class LinkUsed(Exception):
    """The form's link was used already (a double tap, or a link opened again): the transaction rolls back."""


@dataclass(frozen=True, slots=True)
class FormQuestion:
    """A draft's question as the note form asks it: the draft and its state still on it, and what it takes."""

    draft: Draft
    state: DraftState
    ctx: FlowContext
    field: FormField


@dataclass(frozen=True, slots=True)
class FormAnswer:
    """What became of a form's text: stored (`reply` for the chat `chat_id`), invalid (`hint`), used, moved."""

    outcome: Literal["stored", "invalid", "used", "moved"]
    reply: Reply | None = None
    chat_id: int | None = None
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class Pressed:
    """The draft a button belongs to, still this person's and still at the button's version."""

    draft: Draft
    state: DraftState


def load_state(draft: Draft) -> DraftState | None:
    try:
        return DraftState.model_validate_json(draft.state)
    except ValidationError:
        # A draft written by an older program version that no longer fits: better dropped than crashing.
        log.warning("draft %s could not be read and is ignored", draft.id)
        return None


def view_of(screen: Screen, draft: Draft, form: Choice | None = None) -> View:
    """A flow screen as choices: every button carries the draft id and version; `form`, the button opening the
    note form, goes above the screen's last row."""
    lines = [[Choice(b.label, FlowPress(draft.id, draft.version, b.action)) for b in row] for row in screen.keyboard]
    if form is not None:
        lines.insert(max(0, len(lines) - 1), [form])
    return View(screen.text, rows(*lines), personal_text=screen.personal_text)


class FlowService:
    def __init__(self, deps: Deps, boot_id: str) -> None:
        self.deps = deps
        self.store = deps.store
        self.boot_id = boot_id  # drafts answered before this process started are offered to resume first

    def context(self, staff: Staff) -> FlowContext:
        return FlowContext(self.deps.taxonomy, self.deps.today(), staff.zone)

    async def _context(self, staff: Staff, state: DraftState) -> FlowContext:
        """The context of an input or screen; at the outing's first questions (and its card, whose place can be
        changed) also the places to offer and the last outings to repeat: two reads, only there."""
        basic = self.context(staff)
        step = state.step.partition(".")[0]
        if state.kind != "visit" or step not in PLACE_STEPS or (step == "summary" and state.place is None):
            return basic
        areas = [a.code for a in self.deps.taxonomy.areas_of(staff.zone)] if staff.zone else None
        offered = await self.store.places.offered(staff.id, areas, RECENT_PLACES)
        recent, others = ([_choice(p) for p in found] for found in offered)
        repeats = []
        if state.step == "activity" and state.activity is None:
            places = {p.id: p for p in (*recent, *others)}
            for last in await self.store.records.recent_outings(staff.id, REPEATS):
                place = places.get(last.place_id) if last.place_id is not None else None
                if last.place_id is None or place is not None:  # an ended place is not offered again
                    repeats.append(Repeat(last.activity, last.destination, last.area, last.headcount, place))
        return replace(basic, recent_places=tuple(recent), other_places=tuple(others), repeats=tuple(repeats))

    # --- starting, resuming, cancelling ------------------------------------------------------------------------

    async def begin(self, staff: Staff, kind: FlowKind, chat_id: int, key: IdempotencyKey) -> Reply:
        """/visit or /consult: a new draft, or first the offer to resume the one in progress."""
        existing = await self.store.drafts.for_staff(staff.id)
        if existing is not None and load_state(existing) is not None:
            return Reply(send=[self._resume_offer(existing, then=kind)])
        try:
            draft, state = await self._create(staff, kind, chat_id, key)
        except AlreadyProcessed:
            return Reply()
        return Reply(send=[await self._screen(draft, state, staff)], track=draft.id)

    async def _create(
        self, staff: Staff, kind: FlowKind, chat_id: int, key: IdempotencyKey
    ) -> tuple[Draft, DraftState]:
        state = self._new_state(staff, kind)
        now = self.deps.now()
        async with self.store.unit(key, now) as tx:
            draft = await self._insert(tx, staff, kind, state, chat_id)
        return draft, state

    async def _insert(self, tx: Tx, staff: Staff, kind: FlowKind, state: DraftState, chat_id: int) -> Draft:
        return await self.store.drafts.create(
            tx,
            staff_id=staff.id,
            chat_id=chat_id,
            kind=kind,
            state=state.model_dump_json(),
            boot_id=self.boot_id,
            now=self.deps.now(),
        )

    def _new_state(self, staff: Staff, kind: FlowKind) -> DraftState:
        taxonomy = self.deps.taxonomy
        home = staff.area if staff.area and taxonomy.area(staff.area) else None
        zone_areas = taxonomy.areas_of(staff.zone) if staff.zone else []
        fallback = zone_areas[0].code if zone_areas else taxonomy.areas()[0].code
        state = flow.start(kind, self.context(staff), home or fallback)
        if home is None:
            state.stack.append("area")  # no home area yet: ask for it first instead of guessing
        return state

    def _resume_offer(self, draft: Draft, then: FlowKind | None = None) -> View:
        state = load_state(draft)
        assert state is not None
        title = t("flow.title.visit") if state.kind == "visit" else t("flow.title.consult")
        area = self.deps.taxonomy.area_label(state.area)
        text = t("flow.resume.offer", title=title, date=dates.short_for(state.date, self.deps.today()), area=area)
        go = Choice(t("flow.resume.go"), ResumeDraft(draft.id, draft.version, "go"))
        if then is not None:
            drop = Choice(t("flow.resume.drop_and_start"), ResumeDraft(draft.id, draft.version, then))
        else:
            drop = Choice(t("flow.resume.drop"), ResumeDraft(draft.id, draft.version, "drop"))
        return View(text, rows([go], [drop]))

    async def cancel_command(self, staff: Staff) -> Reply:
        """/cancel: asks once before the draft in progress is dropped."""
        draft = await self.store.drafts.for_staff(staff.id)
        if draft is None:
            return Reply(send=[View(t("flow.cancel.nothing"))], menu=True)
        return Reply(send=[self._cancel_question(draft)])

    @staticmethod
    def _cancel_question(draft: Draft) -> View:
        yes = Choice(t("flow.cancel.yes"), CancelDraft(draft.id, draft.version, "yes"))
        no = Choice(t("flow.cancel.no"), CancelDraft(draft.id, draft.version, "no"))
        return View(t("flow.cancel.confirm"), rows([yes, no]))

    async def resume(self, staff: Staff, button: ResumeDraft, chat_id: int, key: IdempotencyKey) -> Reply:
        """After a restart: continue the draft, drop it, or drop it and start a new visit/consultation."""
        pressed = await self._pressed(staff, button.draft, button.version)
        if pressed is None:
            return expired()
        draft, choice = pressed.draft, button.choice
        kind: FlowKind | None = "visit" if choice == "visit" else "consult" if choice == "consult" else None
        started: tuple[Draft, DraftState] | None = None
        now = self.deps.now()
        try:
            async with self.store.unit(key, now) as tx:
                if choice == "go":
                    fresh = await self.store.drafts.update(tx, draft, state=draft.state, boot_id=self.boot_id, now=now)
                elif not await self.store.drafts.delete(tx, draft.id, version=draft.version):
                    raise DraftConflict(draft.id)
                if kind is not None:
                    state = self._new_state(staff, kind)
                    started = (await self._insert(tx, staff, kind, state, chat_id), state)
        except (AlreadyProcessed, DraftConflict):
            return Reply()
        if choice == "go":
            return Reply(edit=await self._screen(fresh, pressed.state, staff), retire=draft.message_id, track=fresh.id)
        reply = Reply(edit=View(t("flow.cancel.done")), retire=draft.message_id)
        if started is not None:
            reply.send.append(await self._screen(started[0], started[1], staff))
            reply.track = started[0].id
        return reply

    async def cancel(self, staff: Staff, button: CancelDraft, message_id: int | None, key: IdempotencyKey) -> Reply:
        pressed = await self._pressed(staff, button.draft, button.version)
        if pressed is None:
            return expired()
        draft = pressed.draft
        stale = draft.message_id if draft.message_id != message_id else None
        if button.answer == "no":
            return Reply(edit=await self._screen(draft, pressed.state, staff), retire=stale, track=draft.id)
        try:
            async with self.store.unit(key, self.deps.now()) as tx:
                await self.store.drafts.delete(tx, draft.id, version=draft.version)
        except AlreadyProcessed:
            return Reply()
        return Reply(edit=View(t("flow.cancel.done")), retire=stale)

    # --- answers -----------------------------------------------------------------------------------------------

    async def press(self, staff: Staff, button: FlowPress, key: IdempotencyKey) -> Reply:
        """A button on a flow screen."""
        pressed = await self._pressed(staff, button.draft, button.version)
        if pressed is None:
            if button.action == flow.SAVE:
                return await self._already_saved(staff, button.draft)
            return await self._reshow_undelivered(staff, button.draft)
        if button.action == flow.SAVE:
            return await self._save(staff, pressed, key)
        if button.action == flow.DISCARD:
            return Reply(edit=self._cancel_question(pressed.draft))
        ctx = await self._context(staff, pressed.state)
        outcome = flow.apply(pressed.state, ctx, action=button.action)
        if not outcome.changed:
            return Reply(toast=outcome.hint)
        try:
            draft = await self._write(pressed.draft, outcome.state, key)
        except (AlreadyProcessed, DraftConflict):
            return expired()
        crash_point("answer.committed")
        screen = await self._screen(draft, outcome.state, staff, ctx=ctx)
        if outcome.notes:  # what the answer changed besides itself, said on the next screen
            screen = View("\n".join([*outcome.notes, "", screen.text]), screen.rows, screen.personal_text)
        return Reply(edit=screen, track=draft.id)

    async def type_text(self, staff: Staff, text: str, key: IdempotencyKey) -> Reply:
        """Typed text: the answer to the current question, or a hint with the question again."""
        draft = await self.store.drafts.for_staff(staff.id)
        state = load_state(draft) if draft is not None else None
        if draft is None or state is None:
            return Reply(send=[View(t("common.use_menu"))], menu=True)
        if draft.boot_id != self.boot_id:
            # The bot restarted since the last answer: ask before treating this text as an answer.
            return Reply(send=[self._resume_offer(draft)], retire=draft.message_id)
        if draft.message_id is None:
            # The last question never arrived (the messenger failed): show it rather than guess what this answers.
            screen = await self._screen(draft, state, staff, t("flow.hint.not_delivered"))
            return Reply(send=[screen], track=draft.id)
        ctx = await self._context(staff, state)
        personal = flow.render(state, ctx).personal_text
        forms = self.deps.forms
        if personal and forms is not None and not forms.typing_allowed(staff.telegram_id):
            # The council takes personal text only through the form: what was typed is not kept, and goes.
            # Telegram's copy is deleted; LINE WORKS cannot delete (core/accounts.py tells the two apart).
            said = "flow.form.typing_never" if is_lineworks(staff.telegram_id or 0) else "flow.form.typing_off"
            screen = await self._screen(draft, state, staff, t(said), ctx=ctx)
            return Reply(send=[screen], retire=draft.message_id, track=draft.id, forget_typed=True)
        outcome = flow.apply(state, ctx, text=text)
        shown_before = draft.message_id
        if outcome.changed:
            try:
                draft = await self._write(draft, outcome.state, key)
            except (AlreadyProcessed, DraftConflict):
                return Reply()
        crash_point("answer.committed")
        screen = await self._screen(draft, outcome.state, staff, outcome.hint, ctx=ctx)
        if not (personal and outcome.changed):
            return Reply(send=[screen], retire=shown_before, track=draft.id)
        # Personal text (a label, a reason, a memo) is kept sealed in the draft; the copy in the chat is removed,
        # and the person is told so.
        screen = View(f"{t('flow.personal.removed')}\n\n{screen.text}", screen.rows, screen.personal_text)
        return Reply(send=[screen], retire=shown_before, track=draft.id, forget_typed=True)

    async def _write(self, draft: Draft, state: DraftState, key: IdempotencyKey) -> Draft:
        now = self.deps.now()
        async with self.store.unit(key, now) as tx:
            return await self.store.drafts.update(
                tx, draft, state=state.model_dump_json(), boot_id=self.boot_id, now=now
            )

    # --- saving and undoing ------------------------------------------------------------------------------------

    async def _save(self, staff: Staff, pressed: Pressed, key: IdempotencyKey) -> Reply:
        draft, state = pressed.draft, pressed.state
        ctx = self.context(staff)
        if flow.missing_step(state, ctx) is not None:
            return Reply(toast=t("flow.hint.incomplete"))
        submission = flow.to_submission(state, ctx, staff.id)
        now = self.deps.now()
        try:
            async with self.store.unit(key, now) as tx:
                if not await self.store.drafts.delete(tx, draft.id, version=draft.version):
                    raise DraftConflict(draft.id)
                saved = await self.store.records.save_submission(tx, submission, state.kind, now, draft.id)
                crash_point("save.before_commit")
        except (AlreadyProcessed, DraftConflict):
            return expired()
        crash_point("save.committed")
        log.info("staff %s saved submission %s (%s consultations)", staff.id, saved.id, len(saved.consultation_ids))
        card = t("flow.saved_card", summary=flow.render_summary_text(state, ctx))
        undo = Choice(t("flow.undo.button"), UndoSubmission(saved.id))
        return Reply(edit=View(card, rows([undo])), toast=t("flow.saved"))

    async def _already_saved(self, staff: Staff, draft_id: int) -> Reply:
        """保存 pressed on a card whose draft is gone: saved already (the reply was lost to a crash) or discarded."""
        saved = await self.store.records.saved_from(draft_id, staff.id)
        if saved is None:
            return expired()
        undo = Choice(t("flow.undo.button"), UndoSubmission(saved))
        return Reply(edit=View(t("flow.already_saved"), rows([undo])), toast=t("flow.already_saved"))

    async def undo(self, staff: Staff, button: UndoSubmission, message_id: int | None, key: IdempotencyKey) -> Reply:
        saved = await self.store.records.submission(button.submission)
        if saved is None or saved.staff_id != staff.id or self.deps.now() - saved.created_at > UNDO_WINDOW:
            return Reply(toast=t("common.expired"), retire=message_id)
        try:
            async with self.store.unit(key, self.deps.now()) as tx:
                removed = await self.store.records.delete_submission(tx, saved.id, staff.id)
                if removed:  # what was undone stays in the audit log (its follow-ups went with it)
                    detail = f"{len(saved.consultation_ids)} consultation(s)"
                    subject = f"submission:{saved.id}"
                    await self.store.audit.record(tx, staff.id, "submission.undo", subject, detail, self.deps.now())
        except AlreadyProcessed:
            return Reply()
        if not removed:
            return expired()
        log.info("staff %s undid submission %s", staff.id, saved.id)
        return Reply(edit=View(t("flow.undo.done")), toast=t("flow.undo.done"))

    # --- which message shows the draft -------------------------------------------------------------------------

    async def shown(self, draft_id: int, message_id: int | None) -> None:
        """The message now showing the draft's current question (None: it never arrived, so the next message
        or press shows it again instead of being taken as an answer)."""
        draft = await self.store.drafts.get(draft_id)
        if draft is not None and draft.message_id != message_id:
            await self.store.drafts.set_message(draft_id, message_id)

    async def current(self, staff: Staff) -> Reply | None:
        """The question the person's draft is on, as a new message (None: no draft in progress). For a front end
        that cannot edit (LINE WORKS): after a press on an old message it shows where the draft really is."""
        draft = await self.store.drafts.for_staff(staff.id)
        state = load_state(draft) if draft is not None else None
        if draft is None or state is None:
            return None
        return Reply(send=[await self._screen(draft, state, staff)], track=draft.id)

    async def _reshow_undelivered(self, staff: Staff, draft_id: int) -> Reply:
        """A press on a question whose answer was saved but whose next question never arrived: show that question
        on the pressed message (its buttons are one version behind, so the press itself changed nothing)."""
        draft = await self.store.drafts.get(draft_id)
        if draft is None or draft.staff_id != staff.id or draft.message_id is not None:
            return expired()
        state = load_state(draft)
        if state is None:
            return expired()
        return Reply(edit=await self._screen(draft, state, staff), track=draft.id, toast=t("flow.hint.not_delivered"))

    async def _pressed(self, staff: Staff, draft_id: int, version: int) -> Pressed | None:
        draft = await self.store.drafts.get(draft_id)
        if draft is None or draft.staff_id != staff.id or draft.version != version:
            return None
        state = load_state(draft)
        return Pressed(draft, state) if state is not None else None

    async def _screen(
        self, draft: Draft, state: DraftState, staff: Staff, hint: str | None = None, ctx: FlowContext | None = None
    ) -> View:
        ctx = ctx or await self._context(staff, state)
        screen = flow.render(state, ctx, hint)
        form = self._form_button(staff, draft, state) if screen.form else None
        view = view_of(screen, draft, form)
        forms = self.deps.forms
        if form is not None and forms is not None and not forms.typing_allowed(staff.telegram_id):
            return View(f"{view.text}\n\n{t('flow.form.only')}", view.rows, view.personal_text)
        return view

    def _form_button(self, staff: Staff, draft: Draft, state: DraftState) -> Choice | None:
        """The button opening the note form for this question (when the council has the form)."""
        forms = self.deps.forms
        if forms is None or staff.telegram_id is None:
            return None
        issued = int(self.deps.now().timestamp())
        claims = LinkClaims("draft", staff.telegram_id, draft.id, issued, draft.version, state.step)
        return Choice(t("flow.form.button"), FormLink(forms.links.url(claims)))

    # --- the note form (services/notes.py) ---------------------------------------------------------------------

    async def form_question(self, staff: Staff, claims: LinkClaims) -> FormQuestion | None:
        """The question a draft link asks, if the draft is still on it (this person's, at the link's version)."""
        draft = await self.store.drafts.get(claims.subject)
        if draft is None or draft.staff_id != staff.id or draft.version != claims.version:
            return None
        state = load_state(draft)
        if state is None or state.step != claims.step:
            return None
        ctx = await self._context(staff, state)
        form = flow.render(state, ctx).form
        return FormQuestion(draft, state, ctx, form) if form is not None else None

    async def form_answer(self, staff: Staff, question: FormQuestion, token_hash: str, text: str) -> FormAnswer:
        """What the form posted, as the answer to its question: kept sealed in the draft, in the transaction that
        marks the link used; then the receipt and the next question for the chat."""
        draft, ctx = question.draft, question.ctx
        outcome = flow.apply(question.state, ctx, text=text)
        if not outcome.changed:
            return FormAnswer("invalid", hint=outcome.hint)
        now = self.deps.now()
        try:
            async with self.store.unit(None, now) as tx:
                if not await self.store.used_links.use(tx, token_hash, "draft", staff.id, now):
                    raise LinkUsed
                fresh = await self.store.drafts.update(
                    tx, draft, state=outcome.state.model_dump_json(), boot_id=self.boot_id, now=now, unshown=True
                )
        except LinkUsed:
            return FormAnswer("used")
        except DraftConflict:
            return FormAnswer("moved")
        screen = await self._screen(fresh, outcome.state, staff, outcome.hint, ctx=ctx)
        notes = [t("flow.form.received"), *outcome.notes, "", screen.text]
        shown = View("\n".join(notes), screen.rows, screen.personal_text)
        return FormAnswer("stored", Reply(send=[shown], retire=draft.message_id, track=fresh.id), draft.chat_id)
