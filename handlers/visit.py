"""The outing (/visit) and consultation (/consult) flows on Telegram: drafts, buttons, typed answers, saving."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from pydantic import ValidationError
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from core import dates, flow
from core.faults import crash_point
from core.flow import DraftState, FlowContext, FlowKind
from core.i18n import t
from core.models import Staff
from handlers import followups
from handlers.common import (
    EXPIRED,
    Context,
    Services,
    edit,
    inline,
    menu_keyboard,
    number,
    registered,
    retire_keyboard,
    screen_markup,
    send,
    services,
)
from storage.types import AlreadyProcessed, Draft, DraftConflict

log = logging.getLogger(__name__)

UNDO_WINDOW = timedelta(minutes=10)

# Callback prefixes (each handler below owns one).
FLOW = "f"  # f:<draft>:<version>:<flow action>
RESUME = "r"  # r:<draft>:<version>:<go|drop|visit|consult>
CANCEL = "c"  # c:<draft>:<version>:<yes|no>
UNDO = "u"  # u:<submission>


def _context(svc: Services, staff: Staff) -> FlowContext:
    return FlowContext(svc.taxonomy, svc.today(), staff.zone)


def _load(draft: Draft) -> DraftState | None:
    try:
        return DraftState.model_validate_json(draft.state)
    except ValidationError:
        # A draft written by an older program version that no longer fits: better dropped than crashing.
        log.warning("draft %s could not be read and is ignored", draft.id)
        return None


def _home_area(svc: Services, staff: Staff) -> str | None:
    if staff.area and svc.taxonomy.area(staff.area):
        return staff.area
    return None


def _new_state(svc: Services, staff: Staff, kind: FlowKind) -> DraftState:
    ctx = _context(svc, staff)
    home = _home_area(svc, staff)
    fallback = svc.taxonomy.areas_of(staff.zone)[0].code if staff.zone and svc.taxonomy.areas_of(staff.zone) else None
    state = flow.start(kind, ctx, home or fallback or svc.taxonomy.areas()[0].code)
    if home is None:
        state.stack.append("area")  # no home area yet: ask for it first instead of guessing
    return state


async def _show_new(
    update: Update,
    context: Context,
    svc: Services,
    draft: Draft,
    state: DraftState,
    staff: Staff,
    hint: str | None,
) -> None:
    """Send the current question as a new message (after typed text) and retire the previous one's buttons."""
    message = update.effective_message
    assert message is not None
    screen = flow.render(state, _context(svc, staff), hint)
    try:
        sent = await send(
            message, screen.text, reply_markup=screen_markup(screen, f"{FLOW}:{draft.id}:{draft.version}")
        )
    except TelegramError:
        await _not_shown(svc, draft)
        raise
    if sent is not None:
        await svc.store.drafts.set_message(draft.id, sent.message_id)
    await retire_keyboard(context, draft.chat_id, draft.message_id)


async def _not_shown(svc: Services, draft: Draft) -> None:
    """The answer is saved but the next question never reached the person: remember that no message shows it,
    so that their next message or press shows it again instead of being taken as an answer."""
    await svc.store.drafts.set_message(draft.id, None)


async def _show_edit(update: Update, svc: Services, draft: Draft, state: DraftState, staff: Staff) -> None:
    """Show the current question in place of the pressed message."""
    query = update.callback_query
    assert query is not None and query.message is not None
    screen = flow.render(state, _context(svc, staff))
    try:
        await edit(query, screen.text, screen_markup(screen, f"{FLOW}:{draft.id}:{draft.version}"))
    except TelegramError:
        await _not_shown(svc, draft)
        raise
    if draft.message_id != query.message.message_id:
        await svc.store.drafts.set_message(draft.id, query.message.message_id)


async def _begin(update: Update, context: Context, staff: Staff, kind: FlowKind) -> None:
    svc = services(context)
    message = update.effective_message
    assert message is not None
    existing = await svc.store.drafts.for_staff(staff.id)
    if existing is not None and _load(existing) is not None:
        await _offer_resume(message, svc, existing, staff, then=kind)
        return
    state = _new_state(svc, staff, kind)
    try:
        async with svc.store.unit(bot_id=svc.bot_id, update_id=update.update_id, now=svc.now()) as tx:
            draft = await svc.store.drafts.create(
                tx,
                staff_id=staff.id,
                chat_id=message.chat_id,
                kind=kind,
                state=state.model_dump_json(),
                boot_id=svc.boot_id,
                now=svc.now(),
            )
    except AlreadyProcessed:
        return
    await _show_new(update, context, svc, draft, state, staff, None)


async def _offer_resume(message: Message, svc: Services, draft: Draft, staff: Staff, then: str = "") -> None:
    state = _load(draft)
    assert state is not None
    title = t("flow.title.visit") if state.kind == "visit" else t("flow.title.consult")
    text = t(
        "flow.resume.offer",
        title=title,
        date=dates.short(state.date),
        area=svc.taxonomy.area_label(state.area),
    )
    prefix = f"{RESUME}:{draft.id}:{draft.version}"
    drop = f"{prefix}:{then}" if then else f"{prefix}:drop"
    drop_label = t("flow.resume.drop_and_start") if then else t("flow.resume.drop")
    await send(message, text, reply_markup=inline([[(t("flow.resume.go"), f"{prefix}:go")], [(drop_label, drop)]]))


@registered()
async def cmd_visit(update: Update, context: Context, staff: Staff) -> str | None:
    await _begin(update, context, staff, "visit")
    return None


@registered()
async def cmd_consult(update: Update, context: Context, staff: Staff) -> str | None:
    await _begin(update, context, staff, "consult")
    return None


@registered()
async def cmd_cancel(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    message = update.effective_message
    assert message is not None
    draft = await svc.store.drafts.for_staff(staff.id)
    if draft is None:
        await send(message, t("flow.cancel.nothing"), reply_markup=menu_keyboard(staff))
        return None
    await send(message, t("flow.cancel.confirm"), reply_markup=_cancel_markup(draft))
    return None


def _cancel_markup(draft: Draft) -> InlineKeyboardMarkup | None:
    prefix = f"{CANCEL}:{draft.id}:{draft.version}"
    return inline([[(t("flow.cancel.yes"), f"{prefix}:yes"), (t("flow.cancel.no"), f"{prefix}:no")]])


def _parse(data: str, parts: int) -> list[str] | None:
    pieces = data.split(":", parts - 1)
    return pieces if len(pieces) == parts else None


async def _current(svc: Services, staff: Staff, draft_id: str, version: str) -> tuple[Draft, DraftState] | None:
    """The draft a button belongs to, if it is still this person's and still at that version."""
    wanted, at_version = number(draft_id), number(version)
    if wanted is None or at_version is None:
        return None
    draft = await svc.store.drafts.get(wanted)
    if draft is None or draft.staff_id != staff.id or draft.version != at_version:
        return None
    state = _load(draft)
    return (draft, state) if state is not None else None


async def _pressed(update: Update, svc: Services, staff: Staff) -> tuple[Draft, DraftState, str] | None:
    """The draft a `prefix:draft:version:choice` button belongs to, and the choice; None when it is stale."""
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = _parse(query.data, 4)
    found = await _current(svc, staff, parts[1], parts[2]) if parts else None
    if parts is None or found is None:
        return None
    return found[0], found[1], parts[3]


@registered()
async def on_flow_button(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = _parse(query.data, 4)
    found = await _current(svc, staff, parts[1], parts[2]) if parts else None
    if parts is not None and found is None and parts[3] == flow.SAVE:
        return await _already_saved(update, context, svc, staff, parts[1])
    if parts is not None and found is None:
        return await _reshow_undelivered(update, svc, staff, parts[1])
    if parts is None or found is None:
        return EXPIRED
    draft, state = found
    action = parts[3]
    if action == flow.SAVE:
        return await _save(update, context, svc, staff, draft, state)
    if action == flow.DISCARD:
        await edit(query, t("flow.cancel.confirm"), _cancel_markup(draft))
        return None
    outcome = flow.apply(state, _context(svc, staff), action=action)
    if not outcome.changed:
        return outcome.hint
    try:
        # The button carries the draft's version, so a press delivered twice finds a newer version and changes
        # nothing: the update needs no record of its own in this write (it is recorded after the reply).
        draft = await svc.store.drafts.update(
            None, draft, state=outcome.state.model_dump_json(), boot_id=svc.boot_id, now=svc.now()
        )
    except DraftConflict:
        return EXPIRED
    crash_point("answer.committed")
    await _show_edit(update, svc, draft, outcome.state, staff)
    return None


async def _save(
    update: Update, context: Context, svc: Services, staff: Staff, draft: Draft, state: DraftState
) -> str | None:
    query = update.callback_query
    assert query is not None
    ctx = _context(svc, staff)
    missing = flow.missing_step(state, ctx)
    if missing is not None:
        return t("flow.hint.incomplete")
    submission = flow.to_submission(state, ctx, staff.id)
    try:
        async with svc.store.unit(bot_id=svc.bot_id, update_id=update.update_id, now=svc.now()) as tx:
            if not await svc.store.drafts.delete(tx, draft.id, version=draft.version):
                raise DraftConflict(draft.id)
            saved = await svc.store.records.save_submission(tx, submission, state.kind, svc.now(), draft.id)
            crash_point("save.before_commit")
    except (AlreadyProcessed, DraftConflict):
        return EXPIRED
    crash_point("save.committed")
    log.info("staff %s saved submission %s (%s consultations)", staff.id, saved.id, len(saved.consultation_ids))
    summary = flow.render_summary_text(state, ctx)
    markup = inline([[(t("flow.undo.button"), f"{UNDO}:{saved.id}")]])
    await edit(query, t("flow.saved_card", summary=summary), markup)
    return t("flow.saved")


async def _reshow_undelivered(update: Update, svc: Services, staff: Staff, draft_id: str) -> str | None:
    """A press on a question whose answer was saved but whose next question never arrived: show that question
    on the pressed message (its buttons are one version behind, so the press itself changes nothing)."""
    known = number(draft_id)
    draft = await svc.store.drafts.get(known) if known is not None else None
    state = _load(draft) if draft is not None and draft.staff_id == staff.id and draft.message_id is None else None
    if draft is None or state is None:
        return EXPIRED
    await _show_edit(update, svc, draft, state, staff)
    return t("flow.hint.not_delivered")


async def _already_saved(update: Update, context: Context, svc: Services, staff: Staff, draft_id: str) -> str | None:
    """保存 pressed on a card whose draft is gone: saved already (the reply was lost to a crash) or discarded."""
    known = number(draft_id)
    saved = await svc.store.records.saved_from(known, staff.id) if known is not None else None
    if saved is None:
        return EXPIRED
    query = update.callback_query
    assert query is not None
    await edit(query, t("flow.already_saved"), inline([[(t("flow.undo.button"), f"{UNDO}:{saved}")]]))
    return t("flow.already_saved")


@registered()
async def on_undo(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = _parse(query.data, 2)
    submission_id = number(parts[1]) if parts else None
    if submission_id is None:
        return EXPIRED
    saved = await svc.store.records.submission(submission_id)
    if saved is None or saved.staff_id != staff.id or svc.now() - saved.created_at > UNDO_WINDOW:
        await retire_keyboard(context, query.message.chat.id, query.message.message_id) if query.message else None
        return EXPIRED
    try:
        async with svc.store.unit(bot_id=svc.bot_id, update_id=update.update_id, now=svc.now()) as tx:
            removed = await svc.store.records.delete_submission(tx, saved.id, staff.id)
    except AlreadyProcessed:
        return None
    if not removed:
        return EXPIRED
    log.info("staff %s undid submission %s", staff.id, saved.id)
    await edit(query, t("flow.undo.done"))
    return t("flow.undo.done")


@registered()
async def on_resume(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    query = update.callback_query
    assert query is not None
    pressed = await _pressed(update, svc, staff)
    if pressed is None:
        return EXPIRED
    draft, state, op = pressed
    if op == "go":
        try:
            async with svc.store.unit(bot_id=svc.bot_id, update_id=update.update_id, now=svc.now()) as tx:
                draft = await svc.store.drafts.update(tx, draft, state=draft.state, boot_id=svc.boot_id, now=svc.now())
        except (AlreadyProcessed, DraftConflict):
            return None
        await retire_keyboard(context, draft.chat_id, draft.message_id)
        await _show_edit(update, svc, draft, state, staff)
        return None
    if op not in ("drop", "visit", "consult"):
        return EXPIRED
    try:
        async with svc.store.unit(bot_id=svc.bot_id, update_id=update.update_id, now=svc.now()) as tx:
            await svc.store.drafts.delete(tx, draft.id, version=draft.version)
    except AlreadyProcessed:
        return None
    await retire_keyboard(context, draft.chat_id, draft.message_id)
    await edit(query, t("flow.cancel.done"))
    if op in ("visit", "consult"):
        await _begin_fresh(update, context, staff, op)  # type: ignore[arg-type]
    return None


async def _begin_fresh(update: Update, context: Context, staff: Staff, kind: FlowKind) -> None:
    """Start a flow right after the old draft was dropped (inside the same button press)."""
    svc = services(context)
    query = update.callback_query
    assert query is not None and query.message is not None
    state = _new_state(svc, staff, kind)
    async with svc.store.db.transaction() as tx:
        draft = await svc.store.drafts.create(
            tx,
            staff_id=staff.id,
            chat_id=query.message.chat.id,
            kind=kind,
            state=state.model_dump_json(),
            boot_id=svc.boot_id,
            now=svc.now(),
        )
    screen = flow.render(state, _context(svc, staff))
    sent = await context.bot.send_message(
        query.message.chat.id,
        screen.text,
        reply_markup=screen_markup(screen, f"{FLOW}:{draft.id}:{draft.version}"),
    )
    await svc.store.drafts.set_message(draft.id, sent.message_id)


@registered()
async def on_cancel(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    query = update.callback_query
    assert query is not None
    pressed = await _pressed(update, svc, staff)
    if pressed is None:
        return EXPIRED
    draft, state, answer = pressed
    if answer == "yes":
        try:
            async with svc.store.unit(bot_id=svc.bot_id, update_id=update.update_id, now=svc.now()) as tx:
                await svc.store.drafts.delete(tx, draft.id, version=draft.version)
        except AlreadyProcessed:
            return None
        if query.message is not None and draft.message_id != query.message.message_id:
            await retire_keyboard(context, draft.chat_id, draft.message_id)
        await edit(query, t("flow.cancel.done"))
        return None
    if query.message is not None and draft.message_id != query.message.message_id:
        await retire_keyboard(context, draft.chat_id, draft.message_id)
    await _show_edit(update, svc, draft, state, staff)
    return None


@registered()
async def on_text(update: Update, context: Context, staff: Staff) -> str | None:
    """Typed text: an answer to the current question, or a hint (menu buttons have their own handler)."""
    svc = services(context)
    message = update.effective_message
    assert message is not None and message.text is not None
    text = message.text
    if await followups.on_typed_input(update, context, staff):
        return None  # a note or a due date asked for by a follow-up button
    draft = await svc.store.drafts.for_staff(staff.id)
    state = _load(draft) if draft else None
    if draft is None or state is None:
        await send(message, t("common.use_menu"), reply_markup=menu_keyboard(staff))
        return None
    if draft.boot_id != svc.boot_id:
        # The bot restarted since the last answer: ask before treating this text as an answer.
        await _offer_resume(message, svc, draft, staff)
        await retire_keyboard(context, draft.chat_id, draft.message_id)
        return None
    if draft.message_id is None:
        # The last question never arrived (Telegram failed): show it rather than guess what this text answers.
        await _show_new(update, context, svc, draft, state, staff, t("flow.hint.not_delivered"))
        return None
    typed_reason = state.step.startswith("fu_reason")
    outcome = flow.apply(state, _context(svc, staff), text=text)
    if outcome.changed:
        try:
            async with svc.store.unit(bot_id=svc.bot_id, update_id=update.update_id, now=svc.now()) as tx:
                draft = await svc.store.drafts.update(
                    tx, draft, state=outcome.state.model_dump_json(), boot_id=svc.boot_id, now=svc.now()
                )
        except (AlreadyProcessed, DraftConflict):
            return None
        if typed_reason:
            # The reason is personal: it is kept sealed in the draft; the copy in the chat is removed.
            with contextlib.suppress(BadRequest, Forbidden):
                await message.delete()
    crash_point("answer.committed")
    await _show_new(update, context, svc, draft, outcome.state, staff, outcome.hint)
    return None


@registered()
async def on_other_message(update: Update, context: Context, staff: Staff) -> str | None:
    """Stickers, photos, voice, locations…: the bot only understands buttons and text."""
    message = update.effective_message
    if message is not None:
        await send(message, t("common.text_only"))
    return None


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("visit", cmd_visit, filters=private),
        CommandHandler("consult", cmd_consult, filters=private),
        CommandHandler("cancel", cmd_cancel, filters=private),
        CallbackQueryHandler(on_flow_button, pattern=rf"^{FLOW}:"),
        CallbackQueryHandler(on_resume, pattern=rf"^{RESUME}:"),
        CallbackQueryHandler(on_cancel, pattern=rf"^{CANCEL}:"),
        CallbackQueryHandler(on_undo, pattern=rf"^{UNDO}:"),
    ]


def text_handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """Registered after every command: plain text in a private chat, then anything else."""
    private = filters.ChatType.PRIVATE
    return [
        # A forwarded message is someone else's words, not an answer: it gets the text-only hint below.
        MessageHandler(
            private & filters.TEXT & ~filters.COMMAND & ~filters.FORWARDED & filters.UpdateType.MESSAGE, on_text
        ),
        MessageHandler(private & ~filters.COMMAND & filters.UpdateType.MESSAGE, on_other_message),
    ]
