"""Registration, invites and deactivation as use cases, without a bot."""

from __future__ import annotations

from core.buttons import HomeArea, InviteRole, InviteZone, StaffAsk, StaffDeactivate
from core.i18n import t
from core.models import Role
from services.access import Scope, can_see, refusal, scope_of
from services.staff import Newcomer, StaffService
from tests.services.conftest import World


def link(code: str) -> str:
    return f"https://example.invalid/?start={code}"


async def test_an_invite_registers_once_and_asks_for_the_home_area(world: World) -> None:
    admin = await world.person(1001, Role.ADMIN, None)
    await world.staff.invite_role(admin, InviteRole("staff"), world.key(), link)
    made = await world.staff.invite_zone(admin, InviteZone("staff", "west"), world.key(), link)
    assert made.edit is not None
    code = made.edit.text.rsplit("start=", 1)[1].strip()
    joined = await world.staff.start(Newcomer(2001, "山田 花子"), code, world.key())
    assert joined.menu and "山田 花子さん" in joined.send[0].text
    assert any(isinstance(c.button, HomeArea) for row in joined.send[1].rows for c in row)
    again = await world.staff.start(Newcomer(2002, "佐藤"), code, world.key())
    assert again.send[0].text == t("access.invite_used")


async def test_a_deactivated_person_is_refused_at_once(world: World) -> None:
    admin = await world.person(1001, Role.ADMIN, None)
    staff = await world.person(2001)
    asked = await world.staff.staff_ask(admin, StaffAsk(staff.id))
    assert asked.edit is not None
    await world.staff.deactivate(admin, StaffDeactivate(staff.id), world.key())
    now = await world.staff.identify(2001)
    assert refusal(now) == t("access.deactivated")
    assert (await world.staff.staff_ask(admin, StaffAsk(admin.id))).toast is not None


async def test_configured_admins_cannot_be_deactivated_from_the_chat(world: World) -> None:
    admin = await world.person(1001, Role.ADMIN, None)
    other = await world.person(1002, Role.ADMIN, None)
    guarded = StaffService(world.deps, frozenset({1002}))
    reply = await guarded.deactivate(admin, StaffDeactivate(other.id), world.key())
    assert reply.toast == t("access.cannot_deactivate_configured")


async def test_one_scope_rule_for_everyone(world: World) -> None:
    admin = await world.person(1001, Role.ADMIN, None)
    supervisor = await world.person(3001, Role.SUPERVISOR, "west")
    loose = await world.person(3002, Role.SUPERVISOR, None)
    staff = await world.person(2001)
    assert scope_of(admin) == Scope()
    assert scope_of(supervisor) == Scope(zone="west")
    assert scope_of(loose) == Scope(staff_id=loose.id)
    assert scope_of(staff) == Scope(staff_id=staff.id)
    taxonomy = world.deps.taxonomy
    assert can_see(supervisor, taxonomy, "kyonan", staff.id)
    assert not can_see(staff, taxonomy, "kyonan", supervisor.id)
    assert can_see(staff, taxonomy, "chuo", staff.id)  # an owner always sees their own
