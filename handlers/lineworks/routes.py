"""What each LINE WORKS input asks of the services: a pressed button (core.buttons data) or a typed command, for a
registered staff member, as the Telegram handlers route them (handlers/*.py), with the same roles required."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core import buttons as b
from core.i18n import t
from core.models import Role, Staff
from handlers.common import Services
from services.access import ADMINS, SUPERVISORS
from services.followups import BUTTON_KINDS
from services.screens import Press, Reply, View, expired
from storage.types import IdempotencyKey

ALL: tuple[Role, ...] = ()  # any active staff member


@dataclass(frozen=True, slots=True)
class Input:
    """One LINE WORKS input of a registered person: who, their account number, the event's idempotency key."""

    staff: Staff
    account: int
    key: IdempotencyKey


ButtonRoute = Callable[[Services, Input, b.Button], Awaitable[Reply]]
CommandRoute = Callable[[Services, Input], Awaitable[Reply]]


async def _flow(s: Services, i: Input, button: b.Button) -> Reply:
    flows = s.flows
    if isinstance(button, b.FlowPress):
        return await flows.press(i.staff, button, i.key)
    if isinstance(button, b.ResumeDraft):
        return await flows.resume(i.staff, button, i.account, i.key)
    if isinstance(button, b.CancelDraft):
        return await flows.cancel(i.staff, button, None, i.key)
    if isinstance(button, b.UndoSubmission):
        return await flows.undo(i.staff, button, None, i.key)
    return expired()


async def _followup(s: Services, i: Input, button: b.Button) -> Reply:
    return await s.followups.press(i.staff, button, Press(i.key, None))


async def _report(s: Services, i: Input, button: b.Button) -> Reply:
    if isinstance(button, b.ReportPeriod):
        return await s.reports.report(i.staff, button)
    if isinstance(button, b.ReportTable):
        return await s.reports.table(i.staff, button)
    return expired()


async def _admin_report(s: Services, i: Input, button: b.Button) -> Reply:
    if isinstance(button, b.ReportCity):
        return await s.city.report(i.staff, button)
    if isinstance(button, b.ExportYear):
        return await s.reports.export(i.staff, button)
    return expired()


async def _home(s: Services, i: Input, button: b.Button) -> Reply:
    if isinstance(button, b.HomeZone):
        return s.staff.home_zone(i.staff, button)
    if isinstance(button, b.HomeArea):
        return await s.staff.home_area(i.staff, button, i.key)
    return expired()


def invite_text(code: str) -> str:
    """What a LINE WORKS newcomer sends the bot to register (LINE WORKS has no link that starts a bot with a code)."""
    return f"/start {code}"


async def _invite(s: Services, i: Input, button: b.Button) -> Reply:
    staff = s.staff
    if isinstance(button, b.InviteRole):
        return await staff.invite_role(i.staff, button, i.key, invite_text)
    if isinstance(button, b.InviteZone):
        return await staff.invite_zone(i.staff, button, i.key, invite_text)
    if isinstance(button, b.InviteList):
        return await staff.invite_list()
    if isinstance(button, b.InviteRevoke):
        return await staff.invite_revoke(i.staff, button, i.key)
    return expired()


async def _staff(s: Services, i: Input, button: b.Button) -> Reply:
    service = s.staff
    if isinstance(button, b.StaffPage):
        return await service.staff_page(button)
    if isinstance(button, b.StaffAsk):
        return await service.staff_ask(i.staff, button)
    if isinstance(button, b.StaffDeactivate):
        return await service.deactivate(i.staff, button, i.key)
    if isinstance(button, b.StaffReactivateAsk):
        return await service.reactivate_ask(button)
    if isinstance(button, b.StaffReactivate):
        return await service.reactivate(i.staff, button, i.key)
    return expired()


async def _place(s: Services, i: Input, button: b.Button) -> Reply:
    places, staff, key = s.places, i.staff, i.key
    if isinstance(button, b.PlacePage):
        return await places.page(staff, button)
    if isinstance(button, b.PlaceCard):
        return await places.card(staff, button)
    if isinstance(button, b.PlaceStatusSet):
        return await places.set_status(staff, button, key)
    if isinstance(button, b.PlaceConfirm):
        return await places.confirm(staff, button, key)
    return await _place_typed(s, i, button)


async def _place_typed(s: Services, i: Input, button: b.Button) -> Reply:
    """The buttons of adding or renaming a place (the names themselves are typed)."""
    places, staff, key = s.places, i.staff, i.key
    if isinstance(button, b.PlaceRename):
        return await places.ask_rename(staff, button, key)
    if isinstance(button, b.PlaceAdd):
        return await places.ask_add(staff, key)
    if isinstance(button, b.PlaceAddKind):
        return await places.add_kind(staff, button, key)
    if isinstance(button, b.PlaceAddArea):
        return await places.add_area(staff, button, key)
    return expired()


PLACE_KINDS: tuple[type[b.Button], ...] = (
    b.PlacePage,
    b.PlaceCard,
    b.PlaceStatusSet,
    b.PlaceConfirm,
    b.PlaceRename,
    b.PlaceAdd,
    b.PlaceAddKind,
    b.PlaceAddArea,
)
_GROUPS: tuple[tuple[tuple[type[b.Button], ...], tuple[Role, ...], ButtonRoute], ...] = (
    ((b.FlowPress, b.ResumeDraft, b.CancelDraft, b.UndoSubmission), ALL, _flow),
    (BUTTON_KINDS, ALL, _followup),
    ((b.ReportPeriod, b.ReportTable), SUPERVISORS, _report),
    ((b.ReportCity, b.ExportYear), ADMINS, _admin_report),
    ((b.HomeZone, b.HomeArea), ALL, _home),
    ((b.InviteRole, b.InviteZone, b.InviteList, b.InviteRevoke), ADMINS, _invite),
    ((b.StaffPage, b.StaffAsk, b.StaffDeactivate, b.StaffReactivateAsk, b.StaffReactivate), ADMINS, _staff),
    (PLACE_KINDS, SUPERVISORS, _place),
)
BUTTONS: dict[type[b.Button], tuple[tuple[Role, ...], ButtonRoute]] = {
    kind: (roles, route) for kinds, roles, route in _GROUPS for kind in kinds
}


async def _visit(s: Services, i: Input) -> Reply:
    return await s.flows.begin(i.staff, "visit", i.account, i.key)


async def _consult(s: Services, i: Input) -> Reply:
    return await s.flows.begin(i.staff, "consult", i.account, i.key)


async def _cancel(s: Services, i: Input) -> Reply:
    return await s.flows.cancel_command(i.staff)


async def _followups(s: Services, i: Input) -> Reply:
    return await s.followups.list_command(i.staff)


async def _mine(s: Services, i: Input) -> Reply:
    return await s.reports.mine(i.staff)


async def _report_menu(s: Services, i: Input) -> Reply:
    return s.reports.menu(i.staff)


async def _tally(s: Services, i: Input) -> Reply:
    """The menu's tallies button: the tables for a supervisor or admin, one's own week for staff."""
    return s.reports.menu(i.staff) if i.staff.role in SUPERVISORS else await s.reports.mine(i.staff)


async def _places(s: Services, i: Input) -> Reply:
    return await s.places.command(i.staff)


async def _export(s: Services, i: Input) -> Reply:
    return s.reports.export_menu()


async def _area(s: Services, i: Input) -> Reply:
    return s.staff.home_command(i.staff)


async def _help(s: Services, i: Input) -> Reply:
    """The help, led by what LINE WORKS's menu holds (its buttons differ from Telegram's keyboard)."""
    reply = s.staff.help(i.staff)
    if reply.send:
        first = reply.send[0]
        reply.send[0] = View(f"{t('lineworks.help_menu')}\n\n{first.text}", first.rows, first.personal_text)
    return reply


async def _invite_menu(s: Services, i: Input) -> Reply:
    return await s.staff.invite_command()


async def _staff_list(s: Services, i: Input) -> Reply:
    return await s.staff.staff_command()


# Typed commands (as Telegram's), and the persistent menu's `tally`; the roles each needs.
COMMANDS: dict[str, tuple[tuple[Role, ...], CommandRoute]] = {
    "visit": (ALL, _visit),
    "consult": (ALL, _consult),
    "cancel": (ALL, _cancel),
    "followups": (ALL, _followups),
    "mine": (ALL, _mine),
    "report": (SUPERVISORS, _report_menu),
    "tally": (ALL, _tally),
    "places": (SUPERVISORS, _places),
    "export": (ADMINS, _export),
    "area": (ALL, _area),
    "help": (ALL, _help),
    "invite": (ADMINS, _invite_menu),
    "staff": (ADMINS, _staff_list),
}
