"""/followups and the follow-up buttons: list, details (audited), notes, due dates, closing, reassigning."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from telegram import Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from core import dates
from core.flow import DUE_MAX_DAYS, DUE_PRESETS, check_free_text
from core.i18n import t
from core.models import Role, Staff
from handlers.common import EXPIRED, Context, Services, edit, inline, number, pager, registered, send, services
from services.followups import (
    FOLLOWUP,
    can_reassign,
    can_see,
    card_buttons,
    card_text,
    reassign_candidates,
    scope_for,
    summary_line,
)
from storage.types import FollowUp, PendingInput

log = logging.getLogger(__name__)

PAGE = 8
NOTE_MAX = 500
INPUT_WAIT = timedelta(minutes=30)  # a typed answer to a follow-up button is expected this long


def _list(
    svc: Services, staff: Staff, followups: list[FollowUp], total: int, page: int
) -> tuple[str, list[list[tuple[str, str]]]]:
    today = svc.today()
    pages = max(1, -(-total // PAGE))
    if staff.role is Role.ADMIN:
        whose = t("common.all_zones")
    elif staff.role is Role.SUPERVISOR and staff.zone:
        whose = svc.taxonomy.zone_label(staff.zone)
    else:
        whose = t("followup.mine")
    lines = [t("followup.list_title", whose=whose, count=total, page=page + 1, pages=pages)]
    with_owner = staff.role is not Role.STAFF
    lines += [summary_line(f, svc.taxonomy, today, with_owner=with_owner) for f in followups]
    if not followups:
        lines.append(t("followup.none"))
    rows = [[(t("followup.open_button", label=f.label), f"{FOLLOWUP}:{f.id}:v")] for f in followups]
    rows.append(pager(page, pages, lambda n: f"{FOLLOWUP}:0:l:{n}"))
    return "\n".join(lines), rows


async def _page(svc: Services, staff: Staff, page: int) -> tuple[str, list[list[tuple[str, str]]]]:
    scope = scope_for(staff, svc.taxonomy)
    total = await svc.store.followups.open_count(scope)
    page = max(0, min(page, max(0, -(-total // PAGE) - 1)))
    followups = await svc.store.followups.open_list(scope, svc.today(), offset=page * PAGE, limit=PAGE)
    return _list(svc, staff, followups, total, page)


@registered()
async def cmd_followups(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    message = update.effective_message
    assert message is not None
    text, rows = await _page(svc, staff, 0)
    await send(message, text, reply_markup=inline(rows))
    return None


def _card(svc: Services, staff: Staff, followup: FollowUp, note: str = "") -> tuple[str, list[list[tuple[str, str]]]]:
    text = card_text(followup, svc.taxonomy, svc.today())
    if note:
        text = f"{note}\n\n{text}"
    rows = card_buttons(followup, reassign=can_reassign(staff, followup, svc.taxonomy))
    rows.append([(t("followup.button.list"), f"{FOLLOWUP}:0:l:0")])
    return text, rows


@registered()
async def on_followup(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    followup_id = number(parts[1]) if len(parts) >= 3 else None
    if followup_id is None:
        return EXPIRED
    op, arg = parts[2], parts[3] if len(parts) > 3 else ""
    if op == "l":
        text, rows = await _page(svc, staff, number(arg) or 0)
        await edit(query, text, inline(rows))
        return None
    followup = await svc.store.followups.get(followup_id)
    if followup is None or not can_see(staff, followup, svc.taxonomy):
        return EXPIRED
    if followup.status != "open" and op != "x":
        return t("followup.already_closed")
    now = svc.now()
    match op:
        case "v":
            text, rows = _card(svc, staff, followup)
        case "x":
            detail = await svc.store.followups.detail(followup.id, staff.id, now)
            assert detail is not None
            body = [t("followup.reason", reason=detail.reason or t("flow.none"))]
            body += [
                t(
                    "followup.note_line",
                    when=dates.short(n.created_at.astimezone(svc.tz).date()),
                    author=n.author,
                    body=n.body,
                )
                for n in detail.notes
            ] or [t("followup.no_notes")]
            text, rows = _card(svc, staff, followup)
            text = f"{text}\n\n" + "\n".join(body)
            log.info("staff %s viewed follow-up %s", staff.id, followup.id)
        case "n" | "di":
            kind = "note" if op == "n" else "due"
            assert query.message is not None
            await svc.store.pending.expect(staff.id, kind, followup.id, query.message.message_id, now)
            prompt = t("followup.ask_note", limit=NOTE_MAX) if kind == "note" else t("followup.ask_due")
            await edit(
                query,
                f"{prompt}\n\n{card_text(followup, svc.taxonomy, svc.today())}",
                inline([[(t("followup.button.back"), f"{FOLLOWUP}:{followup.id}:v")]]),
            )
            return None
        case "d":
            prefix = f"{FOLLOWUP}:{followup.id}"
            rows = [[(t(f"flow.due.{code}"), f"{prefix}:dd:{code}") for code in DUE_PRESETS]]
            rows.append([(t("flow.due.date"), f"{prefix}:di"), (t("followup.button.back"), f"{prefix}:v")])
            text = f"{t('followup.ask_due_menu')}\n\n{card_text(followup, svc.taxonomy, svc.today())}"
        case "dd":
            days = DUE_PRESETS.get(arg)
            if days is None:
                return EXPIRED
            await svc.store.followups.set_due(followup.id, svc.today() + timedelta(days=days), staff.id, now)
            return await _show_after(update, svc, staff, followup.id, t("followup.due_changed"))
        case "c":
            prefix = f"{FOLLOWUP}:{followup.id}"
            rows = [[(o.label, f"{prefix}:co:{o.code}")] for o in svc.taxonomy.outcome.active()]
            rows.append([(t("followup.button.back"), f"{prefix}:v")])
            text = f"{t('followup.ask_outcome')}\n\n{card_text(followup, svc.taxonomy, svc.today())}"
        case "co":
            outcome = svc.taxonomy.outcome.get(arg)
            if outcome is None or outcome.retired:
                return EXPIRED
            await svc.store.followups.close(followup.id, outcome.code, staff.id, now)
            log.info("staff %s closed follow-up %s (%s)", staff.id, followup.id, outcome.code)
            await edit(
                query,
                t("followup.closed", label=followup.label, outcome=outcome.label),
                inline([[(t("followup.button.list"), f"{FOLLOWUP}:0:l:0")]]),
            )
            return t("followup.closed_toast")
        case "r" | "ro":
            if not can_reassign(staff, followup, svc.taxonomy):
                return t("access.not_allowed")
            people = reassign_candidates(await svc.store.staff.all(), followup, svc.taxonomy)
            if op == "ro":
                target = next((p for p in people if str(p.id) == arg), None)
                if target is None:
                    return EXPIRED
                await svc.store.followups.reassign(followup.id, target.id, staff.id, now)
                return await _show_after(update, svc, staff, followup.id, t("followup.reassigned", name=target.name))
            prefix = f"{FOLLOWUP}:{followup.id}"
            rows = [[(p.name, f"{prefix}:ro:{p.id}")] for p in people]
            rows.append([(t("followup.button.back"), f"{prefix}:v")])
            text = f"{t('followup.ask_owner')}\n\n{card_text(followup, svc.taxonomy, svc.today())}"
        case _:
            return EXPIRED
    await edit(query, text, inline(rows))
    return None


async def _show_after(update: Update, svc: Services, staff: Staff, followup_id: int, note: str) -> str | None:
    query = update.callback_query
    assert query is not None
    changed = await svc.store.followups.get(followup_id)
    assert changed is not None
    text, rows = _card(svc, staff, changed, note)
    await edit(query, text, inline(rows))
    return note


async def on_typed_input(update: Update, context: Context, staff: Staff) -> bool:
    """A note or a due date typed after its button; False when no such answer was awaited."""
    svc = services(context)
    message = update.effective_message
    assert message is not None and message.text is not None
    pending = await svc.store.pending.get(staff.id, svc.now() - INPUT_WAIT)
    if pending is None:
        return False
    followup = await svc.store.followups.get(pending.followup_id)
    if followup is None or followup.status != "open" or not can_see(staff, followup, svc.taxonomy):
        await svc.store.pending.clear(staff.id)
        return False
    if pending.kind == "note":
        await _save_note(update, context, svc, staff, pending, followup, message.text.strip())
    else:
        await _save_due(update, svc, staff, pending, followup, message.text)
    return True


async def _save_note(
    update: Update, context: Context, svc: Services, staff: Staff, pending: PendingInput, followup: FollowUp, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    problem = check_free_text(text, NOTE_MAX)
    if problem:
        await send(message, t("flow.hint_prefix", hint=problem))
        return
    await svc.store.followups.add_note(followup.id, staff.id, text, svc.now())
    # The note is kept sealed in the database; the copy in this chat is removed so it does not linger on the phone.
    with contextlib.suppress(BadRequest, Forbidden):
        await message.delete()
    text_card, rows = _card(svc, staff, followup, t("followup.note_saved"))
    await send(message, text_card, reply_markup=inline(rows))


async def _save_due(
    update: Update, svc: Services, staff: Staff, pending: PendingInput, followup: FollowUp, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    today = svc.today()
    day = dates.parse_date(text, today, prefer="future")
    hint = None
    if day is None:
        hint = t("flow.hint.bad_date")
    elif day < today:
        hint = t("flow.hint.past_due")
    elif (day - today).days > DUE_MAX_DAYS:
        hint = t("flow.hint.far_due")
    if hint is not None or day is None:
        await send(message, t("flow.hint_prefix", hint=hint or ""))
        return
    await svc.store.followups.set_due(followup.id, day, staff.id, svc.now())
    changed = await svc.store.followups.get(followup.id)
    assert changed is not None
    text_card, rows = _card(svc, staff, changed, t("followup.due_changed"))
    await send(message, text_card, reply_markup=inline(rows))


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("followups", cmd_followups, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(on_followup, pattern=rf"^{FOLLOWUP}:"),
    ]
