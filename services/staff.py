"""Who uses the bot: registration with an invite code, invites, the staff list and deactivation, the home area
and the help text."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import dates
from core.buttons import (
    HomeArea,
    HomeZone,
    InviteList,
    InviteRevoke,
    InviteRole,
    InviteZone,
    RoleName,
    StaffAsk,
    StaffDeactivate,
    StaffPage,
    StaffReactivate,
    StaffReactivateAsk,
)
from core.clock import utc_iso
from core.i18n import t
from core.models import Role, Staff
from core.taxonomy import Taxonomy
from core.text import clean_name
from services.deps import Deps
from services.screens import Choice, Reply, View, expired, pager, rows
from storage.interface import Tx
from storage.types import AlreadyProcessed, FollowUpScope, HandoverNote, IdempotencyKey

log = logging.getLogger(__name__)

INVITE_VALID = timedelta(hours=72)
GUESS_LIMIT = 10  # wrong invite codes per person per window; codes are 128 random bits, this is defence in depth
GUESS_WINDOW = timedelta(hours=1)
STAFF_PAGE = 8


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def new_code() -> str:
    """128 random bits, URL-safe: fits Telegram's start parameter (64 chars of A-Z a-z 0-9 _ -)."""
    return secrets.token_urlsafe(16)


def role_label(role: Role) -> str:
    return t(f"role.{role.value}")


def zone_label(taxonomy: Taxonomy, zone: str | None) -> str:
    return taxonomy.zone_label(zone) if zone else t("common.all_zones")


@dataclass(frozen=True, slots=True)
class Newcomer:
    """Who opened an invite link: their messenger id and the name their messenger shows."""

    user_id: int
    name: str


class StaffService:
    def __init__(self, deps: Deps, configured_admins: frozenset[int] = frozenset()) -> None:
        self.deps = deps
        self.store = deps.store
        self.taxonomy = deps.taxonomy
        self.configured_admins = configured_admins  # admins named in the settings: not deactivated from the chat

    async def identify(self, user_id: int) -> Staff | None:
        return await self.store.staff.by_telegram_id(user_id)

    # --- registration ---------------------------------------------------------------------------------------

    async def start(self, person: Newcomer, code: str | None, key: IdempotencyKey) -> Reply:
        """/start <code> registers the sender; /start alone greets a registered person and refuses others."""
        staff = await self.identify(person.user_id)
        if code is not None:
            return await self._register(person, code, staff, key)
        if staff is None:
            return Reply(send=[View(t("access.refused"))])
        if not staff.active:
            return Reply(send=[View(t("access.deactivated"))])
        return self.welcome(staff)

    async def _register(self, person: Newcomer, code: str, staff: Staff | None, key: IdempotencyKey) -> Reply:
        window = self.deps.now() - GUESS_WINDOW
        if await self.store.invites.failures(person.user_id, window) >= GUESS_LIMIT:
            # Not even looked up: a guesser learns nothing, however lucky the next guess.
            log.warning("user %s is throttled after %d wrong invite codes", person.user_id, GUESS_LIMIT)
            return Reply(send=[View(t("access.invite_throttled"))])
        try:
            result = await self._redeem(person, code, key)
        except AlreadyProcessed:
            return Reply()
        if isinstance(result, Staff):
            log.info("user %s registered as staff %s (%s)", person.user_id, result.id, result.role.value)
            text = t(
                "access.registered",
                name=result.name,
                role=role_label(result.role),
                zone=zone_label(self.taxonomy, result.zone),
            )
            return Reply(send=[View(text), self._home_question(result.zone)], menu=True)
        if result == "registered" and staff is not None:
            # Opening an invite changes nothing for someone registered (a role change is an admin's action).
            text = t(
                "access.already_registered",
                name=staff.name,
                role=role_label(staff.role),
                zone=zone_label(self.taxonomy, staff.zone),
            )
            return Reply(send=[View(text)], menu=True)
        if result == "deactivated":
            log.warning("deactivated staff (user %s) opened an invite; refused", person.user_id)
            return Reply(send=[View(t("access.deactivated"))])
        log.info("user %s tried an invite code: %s", person.user_id, result)
        if staff is not None and staff.active:
            return self.welcome(staff)  # e.g. their own link again: a greeting, nothing else
        return Reply(send=[View(t(f"access.invite_{result}"))])

    async def _redeem(self, person: Newcomer, code: str, key: IdempotencyKey) -> Staff | str:
        now = self.deps.now()
        # Cleaned here too, whatever the front end: the stored name is shown in lists and printed in the audit.
        name = clean_name(person.name) or str(person.user_id)
        async with self.store.unit(key, now) as tx:
            result = await self.store.invites.redeem(hash_code(code), person.user_id, name, now, tx=tx)
            if isinstance(result, Staff):
                await self.store.invites.succeeded(person.user_id, tx=tx)
            elif result not in ("registered", "deactivated"):  # a wrong code: counted against guessing
                await self.store.invites.failed(person.user_id, now, now - GUESS_WINDOW, tx=tx)
        return result

    def welcome(self, staff: Staff) -> Reply:
        reply = Reply(send=[View(t("access.welcome", name=staff.name))], menu=True)
        if staff.area is None:
            reply.send.append(self._home_question(staff.zone))
        return reply

    def help(self, staff: Staff) -> Reply:
        lines = [t("help.staff")]
        if staff.role in (Role.SUPERVISOR, Role.ADMIN):
            lines.append(t("help.supervisor"))
        if staff.role is Role.ADMIN:
            lines.append(t("help.admin"))
            # Without a public address the note form is not offered: the admin is told how to turn it on.
            lines.append(t("help.form_on" if self.deps.forms is not None else "help.form_off"))
        return Reply(send=[View("\n".join(lines))], menu=True)

    # --- the home area --------------------------------------------------------------------------------------

    def home_command(self, staff: Staff) -> Reply:
        """/area: change the home area pre-filled in every flow."""
        return Reply(send=[self._home_question(staff.zone)])

    def _home_question(self, zone: str | None) -> View:
        if zone is None:
            zones = [[Choice(z.label, HomeZone(z.code))] for z in self.taxonomy.zones if not z.retired]
            return View(t("access.ask_zone"), rows(*zones))
        areas = [Choice(a.label, HomeArea(a.code)) for a in self.taxonomy.areas_of(zone) if not a.retired]
        lines = [areas[k : k + 2] for k in range(0, len(areas), 2)]
        return View(t("access.ask_area", zone=self.taxonomy.zone_label(zone)), rows(*lines))

    def home_zone(self, staff: Staff, button: HomeZone) -> Reply:
        if staff.zone is not None or self.taxonomy.zone(button.zone) is None:
            return expired()
        return Reply(edit=self._home_question(button.zone))

    async def home_area(self, staff: Staff, button: HomeArea, key: IdempotencyKey) -> Reply:
        area = self.taxonomy.area(button.area)
        if area is None or area.retired or (staff.zone is not None and area.zone != staff.zone):
            return expired()
        try:
            async with self.store.unit(key, self.deps.now()) as tx:
                await self.store.staff.set_area(staff.id, area.code, tx=tx)
        except AlreadyProcessed:
            return Reply()
        return Reply(edit=View(t("access.area_set", area=area.label)))

    # --- invites (admins) -----------------------------------------------------------------------------------

    async def invite_command(self) -> Reply:
        choices = [[Choice(role_label(role), InviteRole(_role_name(role)))] for role in Role]
        waiting = await self.store.invites.open_invites(self.deps.now())
        if waiting:
            choices.append([Choice(t("access.invite_open_button", count=len(waiting)), InviteList())])
        return Reply(send=[View(t("access.invite_role"), rows(*choices))])

    async def invite_list(self, note: str = "") -> Reply:
        """The unused invites (who made them, for whom, until when), each with a button to withdraw it."""
        waiting = await self.store.invites.open_invites(self.deps.now())
        if not waiting:
            return Reply(edit=View("\n\n".join(x for x in (note, t("access.invite_none")) if x)))
        lines = [t("access.invite_list_title", count=len(waiting))]
        buttons = []
        for invite, creator in waiting:
            fields = {
                "role": role_label(invite.role),
                "zone": zone_label(self.taxonomy, invite.zone),
                "expires": dates.moment(invite.expires_at.astimezone(self.deps.tz), self.deps.today()),
            }
            lines.append(t("access.invite_line", creator=creator, **fields))
            buttons.append([Choice(t("access.invite_revoke", **fields), InviteRevoke(invite.id))])
        text = "\n".join(lines)
        return Reply(edit=View(f"{note}\n\n{text}" if note else text, rows(*buttons)))

    async def invite_revoke(self, staff: Staff, button: InviteRevoke, key: IdempotencyKey) -> Reply:
        try:
            async with self.store.unit(key, self.deps.now()) as tx:
                revoked = await self.store.invites.revoke(button.invite, staff.id, self.deps.now(), tx=tx)
        except AlreadyProcessed:
            return Reply()
        if not revoked:
            return expired()
        log.info("staff %s revoked invite %s", staff.id, button.invite)
        reply = await self.invite_list(t("access.invite_revoked"))
        reply.toast = t("access.invite_revoked")
        return reply

    async def invite_role(
        self, staff: Staff, button: InviteRole, key: IdempotencyKey, link: Callable[[str], str]
    ) -> Reply:
        role = Role(button.role)
        if role is Role.ADMIN:
            return await self._issue(staff, role, None, key, link)
        zones = [[Choice(z.label, InviteZone(button.role, z.code))] for z in self.taxonomy.zones if not z.retired]
        return Reply(edit=View(t("access.invite_zone", role=role_label(role)), rows(*zones)))

    async def invite_zone(
        self, staff: Staff, button: InviteZone, key: IdempotencyKey, link: Callable[[str], str]
    ) -> Reply:
        if self.taxonomy.zone(button.zone) is None:
            return expired()
        return await self._issue(staff, Role(button.role), button.zone, key, link)

    async def _issue(
        self, staff: Staff, role: Role, zone: str | None, key: IdempotencyKey, link: Callable[[str], str]
    ) -> Reply:
        """A single-use code for a role and a zone, stored hashed; the link carrying it is shown once."""
        code = new_code()
        now = self.deps.now()
        expires = now + INVITE_VALID
        try:
            async with self.store.unit(key, now) as tx:
                await self.store.invites.create(hash_code(code), role, zone, staff.id, now, expires, tx=tx)
        except AlreadyProcessed:
            return Reply()
        log.info("staff %s created an invite for %s in zone %s", staff.id, role.value, zone)
        text = t(
            "access.invite_created",
            link=link(code),
            role=role_label(role),
            zone=zone_label(self.taxonomy, zone),
            expires=dates.moment(expires.astimezone(self.deps.tz), self.deps.today()),
        )
        return Reply(edit=View(text))

    # --- the staff list (admins) ----------------------------------------------------------------------------

    async def staff_command(self) -> Reply:
        return Reply(send=[await self._staff_list(0)])

    async def staff_page(self, button: StaffPage) -> Reply:
        return Reply(edit=await self._staff_list(button.page))

    async def _staff_list(self, page: int, note: str = "") -> View:
        people = await self.store.staff.all()
        pages = max(1, (len(people) + STAFF_PAGE - 1) // STAFF_PAGE)
        page = min(max(page, 0), pages - 1)
        chunk = people[page * STAFF_PAGE : (page + 1) * STAFF_PAGE]
        lines = [t("access.staff_title", count=len(people), page=page + 1, pages=pages)]
        buttons: list[list[Choice]] = []
        for person in chunk:
            status = t("access.staff_active") if person.active else t("access.staff_inactive")
            name = clean_name(person.name)  # a name stored before names were cleaned at registration
            lines.append(t("access.staff_line", name=name, role=role_label(person.role), status=status))
            if person.active:
                buttons.append([Choice(t("access.staff_deactivate", name=name), StaffAsk(person.id))])
            elif person.telegram_id is not None:
                buttons.append([Choice(t("access.staff_reactivate", name=name), StaffReactivateAsk(person.id))])
        text = "\n".join(lines)
        return View(f"{note}\n\n{text}" if note else text, rows(*buttons, pager(page, pages, StaffPage)))

    async def _target(self, staff: Staff, staff_id: int) -> Staff | Reply:
        target = await self.store.staff.get(staff_id)
        if target is None or not target.active:
            return expired()
        if target.id == staff.id:
            return Reply(toast=t("access.cannot_deactivate_self"))
        if target.telegram_id in self.configured_admins:
            return Reply(toast=t("access.cannot_deactivate_configured"))
        return target

    async def staff_ask(self, staff: Staff, button: StaffAsk) -> Reply:
        target = await self._target(staff, button.staff)
        if isinstance(target, Reply):
            return target
        yes = Choice(t("access.staff_confirm_yes"), StaffDeactivate(target.id))
        back = Choice(t("common.back"), StaffPage(0))
        return Reply(edit=View(t("access.staff_confirm", name=target.name), rows([yes], [back])))

    async def deactivate(self, staff: Staff, button: StaffDeactivate, key: IdempotencyKey) -> Reply:
        """Effective at once: the person's very next tap is refused. The supervisors of the person's zone are
        told, in the same transaction (through the outbox, once), how many open follow-ups await a new owner."""
        target = await self._target(staff, button.staff)
        if isinstance(target, Reply):
            return target
        now = self.deps.now()
        supervisors = self._zone_supervisors(await self.store.staff.all(), target)
        try:
            async with self.store.unit(key, now) as tx:
                if await self.store.staff.deactivate(target.id, now, actor_id=staff.id, tx=tx):
                    await self._queue_handover(target, supervisors, now, tx)
        except AlreadyProcessed:
            return Reply()
        log.info("staff %s deactivated staff %s", staff.id, target.id)
        return Reply(edit=await self._staff_list(0, t("access.staff_deactivated", name=target.name)))

    @staticmethod
    def _zone_supervisors(people: list[Staff], target: Staff) -> list[Staff]:
        """Who reassigns the follow-ups of `target`: the active supervisors of the same zone (not the person)."""
        return [
            p
            for p in people
            if p.active
            and p.role is Role.SUPERVISOR
            and p.telegram_id is not None
            and p.zone is not None
            and p.zone == target.zone
            and p.id != target.id
        ]

    async def _queue_handover(self, target: Staff, supervisors: list[Staff], now: datetime, tx: Tx) -> None:
        """One note per supervisor, counts only (no label, reason or note); none if nothing is open. The key
        holds the deactivation's time, so a later deactivation (after a reactivation) is told again."""
        count = await self.store.followups.open_count(FollowUpScope(owner_id=target.id), tx=tx)
        if count == 0 or not supervisors:
            return
        text = t("followup.owner.handover", name=target.name, count=count)
        notes = [
            HandoverNote(f"handover:{target.id}:{utc_iso(now)}:{p.id}", p.telegram_id, target.id, text)
            for p in supervisors
            if p.telegram_id is not None
        ]
        await self.store.staff.queue_handover(tx, notes)
        log.info("staff %s: %d open follow-up(s), %d supervisor(s) to tell", target.id, count, len(notes))

    async def _inactive(self, staff_id: int) -> Staff | Reply:
        target = await self.store.staff.get(staff_id)
        if target is None or target.active or target.telegram_id is None:
            return expired()
        return target

    async def reactivate_ask(self, button: StaffReactivateAsk) -> Reply:
        target = await self._inactive(button.staff)
        if isinstance(target, Reply):
            return target
        yes = Choice(t("access.staff_reactivate_yes"), StaffReactivate(target.id))
        back = Choice(t("common.back"), StaffPage(0))
        return Reply(edit=View(t("access.staff_reactivate_confirm", name=target.name), rows([yes], [back])))

    async def reactivate(self, staff: Staff, button: StaffReactivate, key: IdempotencyKey) -> Reply:
        """Only this brings a deactivated person back: an admin's explicit, audited action."""
        target = await self._inactive(button.staff)
        if isinstance(target, Reply):
            return target
        try:
            async with self.store.unit(key, self.deps.now()) as tx:
                await self.store.staff.reactivate(target.id, self.deps.now(), actor_id=staff.id, tx=tx)
        except AlreadyProcessed:
            return Reply()
        log.info("staff %s reactivated staff %s", staff.id, target.id)
        return Reply(edit=await self._staff_list(0, t("access.staff_reactivated", name=target.name)))


def _role_name(role: Role) -> RoleName:
    names: dict[Role, RoleName] = {Role.STAFF: "staff", Role.SUPERVISOR: "supervisor", Role.ADMIN: "admin"}
    return names[role]
