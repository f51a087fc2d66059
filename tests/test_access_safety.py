"""Access that cannot come back by the back door: invites never undo a deactivation or change a role, are
listed and withdrawn, and every registration, deactivation, reactivation and invite is in the audit log."""

from __future__ import annotations

from pathlib import Path

from core.i18n import t
from core.models import Role
from simulator.botapi import SimUser
from tests.harness import ADMIN_ID, Harness, running

SECOND_ADMIN = 1002
STAFF_ID = 2001


async def invite_code(admin: SimUser, role_label: str, zone_label: str | None = None) -> str:
    await admin.send("/invite")
    await admin.press(role_label)
    if zone_label is not None:
        await admin.press(zone_label)
    assert admin.last is not None
    return admin.last.text.rsplit("start=", 1)[1].split()[0]


async def audit_actions(h: Harness) -> list[str]:
    rows = await h.store.db.fetchall("SELECT action FROM audit ORDER BY id")
    return [str(r[0]) for r in rows]


async def test_a_deactivated_admin_cannot_come_back_with_a_spare_invite(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        second = h.api.user(SECOND_ADMIN, first_name="副管理者")
        await second.send(f"/start {await invite_code(admin, '管理者')}")
        spare = await invite_code(second, "管理者")  # kept for later
        person = await h.store.staff.by_telegram_id(SECOND_ADMIN)
        assert person is not None and person.active
        await admin.send("/staff")
        await admin.press(t("access.staff_deactivate", name=person.name))
        await admin.press(t("access.staff_confirm_yes"))
        await second.send(f"/start {spare}")
        assert second.last is not None and second.last.text == t("access.deactivated")
        after = await h.store.staff.by_telegram_id(SECOND_ADMIN)
        assert after is not None and not after.active
        actions = await audit_actions(h)
        assert actions.count("invite.create") == 2 and "staff.register" in actions and "staff.deactivate" in actions
        # Only an admin's explicit action brings them back, and it is audited too.
        await admin.send("/staff")
        await admin.press(t("access.staff_reactivate", name=person.name))
        await admin.press(t("access.staff_reactivate_yes"))
        back = await h.store.staff.by_telegram_id(SECOND_ADMIN)
        assert back is not None and back.active and "staff.reactivate" in await audit_actions(h)


async def test_an_admin_opening_an_invite_link_keeps_their_role(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        code = await invite_code(admin, "職員", "西部圏域")
        await admin.send(f"/start {code}")
        assert admin.last is not None and "登録済みです" in admin.last.text and "管理者" in admin.last.text
        me = await h.store.staff.by_telegram_id(ADMIN_ID)
        assert me is not None and me.role is Role.ADMIN and me.active
        await admin.send("/staff")
        assert admin.last is not None and admin.last.text.startswith("職員一覧")
        newcomer = h.api.user(STAFF_ID, first_name="花子")
        await newcomer.send(f"/start {code}")  # the link was not used up by the admin opening it
        registered = await h.store.staff.by_telegram_id(STAFF_ID)
        assert registered is not None and registered.role is Role.STAFF


async def test_unused_invites_are_listed_and_a_withdrawn_one_registers_no_one(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        code = await invite_code(admin, "職員", "西部圏域")
        await admin.send("/invite")
        await admin.press(t("access.invite_open_button", count=1))
        assert admin.last is not None and "未使用の招待（1件）" in admin.last.text and code not in admin.last.text
        revoke = next(label for row in admin.last.buttons for label in row if label.startswith("取消："))
        assert await admin.press(revoke) == t("access.invite_revoked")
        newcomer = h.api.user(STAFF_ID, first_name="花子")
        await newcomer.send(f"/start {code}")
        assert newcomer.last is not None and newcomer.last.text == t("access.invite_unknown")
        assert await h.store.staff.by_telegram_id(STAFF_ID) is None
        assert "invite.revoke" in await audit_actions(h)
