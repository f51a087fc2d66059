"""Who may use the bot: /start with an invite code, /invite, /staff, the home area, and refusals."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from core.i18n import t
from core.models import Role, Staff
from handlers.common import (
    EXPIRED,
    Context,
    answer,
    edit,
    inline,
    menu_keyboard,
    number,
    pager,
    registered,
    role_label,
    send,
    services,
    zone_label,
)

log = logging.getLogger(__name__)

INVITE_VALID = timedelta(hours=72)
GUESS_LIMIT = 10  # wrong invite codes per person per window; codes are 128 random bits, this is defence in depth
GUESS_WINDOW = timedelta(hours=1)
STAFF_PAGE = 8

INVITE = "i"  # i:r:<role>  then  i:c:<role>:<zone or ->
HOME = "h"  # h:z:<zone>  /  h:a:<area>
STAFF = "st"  # st:p:<page>  /  st:x:<id> (ask)  /  st:y:<id> (deactivate)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def new_code() -> str:
    """128 random bits, URL-safe: fits Telegram's start parameter (64 chars of A-Z a-z 0-9 _ -)."""
    return secrets.token_urlsafe(16)


def _display_name(update: Update) -> str:
    user = update.effective_user
    if user is None:
        return "?"
    return " ".join(p for p in (user.last_name, user.first_name) if p) or (user.username or str(user.id))


async def cmd_start(update: Update, context: Context) -> None:
    """/start <code> registers the sender; /start alone greets a registered person and refuses others."""
    svc = services(context)
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    code = context.args[0] if context.args else None
    staff = await svc.store.staff.by_telegram_id(user.id)
    if code is None:
        if staff is None:
            await send(message, t("access.refused"))
        elif not staff.active:
            await send(message, t("access.deactivated"))
        else:
            await _welcome(update, context, staff)
        return
    window = svc.now() - GUESS_WINDOW
    if await svc.store.invites.failures(user.id, window) >= GUESS_LIMIT:
        # Not even looked up: a guesser learns nothing, however lucky the next guess.
        log.warning("user %s is throttled after %d wrong invite codes", user.id, GUESS_LIMIT)
        await send(message, t("access.invite_throttled"))
        return
    result = await svc.store.invites.redeem(hash_code(code), user.id, _display_name(update), svc.now())
    if isinstance(result, str):
        log.info("user %s tried an invite code: %s", user.id, result)
        await svc.store.invites.failed(user.id, svc.now(), window)
        if staff is not None and staff.active:
            await _welcome(update, context, staff)
        else:
            await send(message, t(f"access.invite_{result}"))
        return
    await svc.store.invites.succeeded(user.id)
    log.info("user %s registered as staff %s (%s)", user.id, result.id, result.role.value)
    await send(
        message,
        t(
            "access.registered",
            name=result.name,
            role=role_label(result.role),
            zone=zone_label(svc.taxonomy, result.zone),
        ),
        reply_markup=menu_keyboard(result),
    )
    await _ask_home_area(update, context, result)


async def _welcome(update: Update, context: Context, staff: Staff) -> None:
    message = update.effective_message
    assert message is not None
    await send(message, t("access.welcome", name=staff.name), reply_markup=menu_keyboard(staff))
    if staff.area is None:
        await _ask_home_area(update, context, staff)


async def _ask_home_area(update: Update, context: Context, staff: Staff, zone: str | None = None) -> None:
    svc = services(context)
    message = update.effective_message
    assert message is not None
    zone = zone or staff.zone
    if zone is None:
        rows = [[(z.label, f"{HOME}:z:{z.code}")] for z in svc.taxonomy.zones if not z.retired]
        await send(message, t("access.ask_zone"), reply_markup=inline(rows))
        return
    areas = [a for a in svc.taxonomy.areas_of(zone) if not a.retired]
    rows = [[(a.label, f"{HOME}:a:{a.code}") for a in areas[k : k + 2]] for k in range(0, len(areas), 2)]
    await send(message, t("access.ask_area", zone=svc.taxonomy.zone_label(zone)), reply_markup=inline(rows))


@registered()
async def cmd_area(update: Update, context: Context, staff: Staff) -> str | None:
    """Change the home area pre-filled in every flow."""
    await _ask_home_area(update, context, staff)
    return None


@registered()
async def on_home(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    query = update.callback_query
    assert query is not None and query.data is not None
    _, kind, code = [*query.data.split(":", 2), "", ""][:3]
    if kind == "z" and svc.taxonomy.zone(code) and staff.zone is None:
        areas = [a for a in svc.taxonomy.areas_of(code) if not a.retired]
        rows = [[(a.label, f"{HOME}:a:{a.code}") for a in areas[k : k + 2]] for k in range(0, len(areas), 2)]
        await edit(query, t("access.ask_area", zone=svc.taxonomy.zone_label(code)), inline(rows))
        return None
    area = svc.taxonomy.area(code) if kind == "a" else None
    if area is None or area.retired or (staff.zone is not None and area.zone != staff.zone):
        return EXPIRED
    await svc.store.staff.set_area(staff.id, area.code)
    await edit(query, t("access.area_set", area=area.label))
    return None


@registered(Role.ADMIN)
async def cmd_invite(update: Update, context: Context, staff: Staff) -> str | None:
    message = update.effective_message
    assert message is not None
    rows = [[(role_label(role), f"{INVITE}:r:{role.value}")] for role in Role]
    await send(message, t("access.invite_role"), reply_markup=inline(rows))
    return None


@registered(Role.ADMIN)
async def on_invite(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    try:
        role = Role(parts[2])
    except (IndexError, ValueError):
        return EXPIRED
    if parts[1] == "r":
        if role is Role.ADMIN:
            return await _issue_invite(update, context, staff, role, None)
        rows = [[(z.label, f"{INVITE}:c:{role.value}:{z.code}")] for z in svc.taxonomy.zones if not z.retired]
        await edit(query, t("access.invite_zone", role=role_label(role)), inline(rows))
        return None
    if parts[1] == "c" and len(parts) == 4 and svc.taxonomy.zone(parts[3]):
        return await _issue_invite(update, context, staff, role, parts[3])
    return EXPIRED


async def _issue_invite(update: Update, context: Context, staff: Staff, role: Role, zone: str | None) -> str | None:
    svc = services(context)
    query = update.callback_query
    assert query is not None
    code = new_code()
    now = svc.now()
    expires = now + INVITE_VALID
    await svc.store.invites.create(hash_code(code), role, zone, staff.id, now, expires)
    link = f"https://t.me/{context.bot.username}?start={code}"
    log.info("staff %s created an invite for %s in zone %s", staff.id, role.value, zone)
    await edit(
        query,
        t(
            "access.invite_created",
            link=link,
            role=role_label(role),
            zone=zone_label(svc.taxonomy, zone),
            expires=expires.astimezone(svc.tz).strftime("%m/%d %H:%M"),
        ),
    )
    return None


def _staff_list(svc_staff: list[Staff], page: int) -> tuple[str, list[list[tuple[str, str]]]]:
    pages = max(1, (len(svc_staff) + STAFF_PAGE - 1) // STAFF_PAGE)
    page = min(max(page, 0), pages - 1)
    chunk = svc_staff[page * STAFF_PAGE : (page + 1) * STAFF_PAGE]
    lines = [t("access.staff_title", count=len(svc_staff), page=page + 1, pages=pages)]
    rows: list[list[tuple[str, str]]] = []
    for person in chunk:
        status = t("access.staff_active") if person.active else t("access.staff_inactive")
        lines.append(t("access.staff_line", name=person.name, role=role_label(person.role), status=status))
        if person.active:
            rows.append([(t("access.staff_deactivate", name=person.name), f"{STAFF}:x:{person.id}")])
    rows.append(pager(page, pages, lambda n: f"{STAFF}:p:{n}"))
    return "\n".join(lines), rows


@registered(Role.ADMIN)
async def cmd_staff(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    message = update.effective_message
    assert message is not None
    text, rows = _staff_list(await svc.store.staff.all(), 0)
    await send(message, text, reply_markup=inline(rows))
    return None


@registered(Role.ADMIN)
async def on_staff(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    value = number(parts[2], signed=True) if len(parts) == 3 else None
    if value is None:
        return EXPIRED
    op = parts[1]
    if op == "p":
        text, rows = _staff_list(await svc.store.staff.all(), value)
        await edit(query, text, inline(rows))
        return None
    target = await svc.store.staff.get(value)
    if target is None or not target.active:
        return EXPIRED
    if target.id == staff.id:
        return t("access.cannot_deactivate_self")
    if target.telegram_id in svc.admin_ids:
        return t("access.cannot_deactivate_configured")
    if op == "x":
        rows = [
            [(t("access.staff_confirm_yes"), f"{STAFF}:y:{target.id}")],
            [(t("common.previous"), f"{STAFF}:p:0")],
        ]
        await edit(query, t("access.staff_confirm", name=target.name), inline(rows))
        return None
    if op == "y":
        await svc.store.staff.deactivate(target.id, svc.now())
        log.info("staff %s deactivated staff %s", staff.id, target.id)
        text, rows = _staff_list(await svc.store.staff.all(), 0)
        await edit(query, t("access.staff_deactivated", name=target.name) + "\n\n" + text, inline(rows))
        return None
    return EXPIRED


@registered()
async def cmd_help(update: Update, context: Context, staff: Staff) -> str | None:
    message = update.effective_message
    assert message is not None
    lines = [t("help.staff")]
    if staff.role in (Role.SUPERVISOR, Role.ADMIN):
        lines.append(t("help.supervisor"))
    if staff.role is Role.ADMIN:
        lines.append(t("help.admin"))
    await send(message, "\n".join(lines), reply_markup=menu_keyboard(staff))
    return None


async def on_unknown_callback(update: Update, context: Context) -> None:
    """A button this version of the bot does not know (an old message, or forged data)."""
    if update.callback_query is not None:
        await answer(update.callback_query, EXPIRED)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("start", cmd_start, filters=private),
        CommandHandler("help", cmd_help, filters=private),
        CommandHandler("area", cmd_area, filters=private),
        CommandHandler("invite", cmd_invite, filters=private),
        CommandHandler("staff", cmd_staff, filters=private),
        CallbackQueryHandler(on_home, pattern=rf"^{HOME}:"),
        CallbackQueryHandler(on_invite, pattern=rf"^{INVITE}:"),
        CallbackQueryHandler(on_staff, pattern=rf"^{STAFF}:"),
    ]


def fallback_handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """Last in line: unknown buttons and unknown commands."""
    private = filters.ChatType.PRIVATE
    return [
        CallbackQueryHandler(on_unknown_callback),
        MessageHandler(private & filters.COMMAND, cmd_help),
    ]
