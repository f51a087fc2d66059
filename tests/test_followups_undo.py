"""Issue 13, item 1: 完了 can be undone (元に戻す) within a window; both changes are audited, and a second or late
press changes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.harness import Harness, running
from tests.test_e2e_followups import STAFF, flag_in_an_outing

LABEL = "境南町 80代女性 A"


async def close_it(h: Harness) -> tuple[int, str]:
    """Close the follow-up from its card; the closed message's id and the data of its 元に戻す button."""
    staff = h.api.user(STAFF)
    await staff.send("/followups")
    await staff.press(LABEL)
    await staff.press("✅ 完了")
    assert await staff.press("見守り継続") == "完了にしました"
    closed = staff.last
    assert closed is not None and "完了にしました" in closed.text
    undo = [d for row in closed.callback_data for d in row if d and d.startswith("fz:")]
    assert len(undo) == 1 and "元に戻す" in closed.buttons[0][0], closed.buttons
    return closed.message_id, undo[0]


async def state(h: Harness) -> tuple[object, ...]:
    row = await h.store.db.fetchone("SELECT status, outcome, closed_at IS NULL FROM followups")
    assert row is not None
    return tuple(row)


async def test_undo_reopens_once_and_both_changes_are_audited(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)
        message_id, data = await close_it(h)
        assert await state(h) == ("closed", "watching", 0)

        h.clock.advance(timedelta(minutes=9))
        assert await staff.press("元に戻す") == "対応中に戻しました"
        assert await state(h) == ("open", None, 1)
        assert staff.last is not None and LABEL in staff.last.text and "📅 期日変更" in str(staff.last.buttons)

        # the same button again (LINE WORKS keeps old buttons pressable; here the data is forged): nothing changes
        audit_before = len(await h.store.audit.since())
        assert await staff.press_data(message_id, data) == "この要フォローはすでに対応中に戻っています"
        assert await state(h) == ("open", None, 1)
        assert len(await h.store.audit.since()) == audit_before

        await staff.send("/followups")
        assert "対応中 1件" in staff.last.text
        actions = [(e.action, e.actor_name, e.detail) for e in await h.store.audit.since()]
        assert ("followup.close", "職員4001", "watching") in actions
        assert ("followup.reopen", "職員4001", "watching") in actions


async def test_undo_after_the_window_changes_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)
        await close_it(h)
        h.clock.advance(timedelta(minutes=10, seconds=1))
        assert await staff.press("元に戻す") == "元に戻せるのは完了から10分以内です"
        assert await state(h) == ("closed", "watching", 0)
        assert not any("元に戻す" in b for row in staff.last.buttons for b in row)  # type: ignore[union-attr]
        assert "followup.reopen" not in [e.action for e in await h.store.audit.since()]


async def test_the_undo_of_an_earlier_closing_does_not_reopen_a_later_one(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)
        first_id, first = await close_it(h)
        assert await staff.press_data(first_id, first) == "対応中に戻しました"
        h.clock.advance(timedelta(minutes=1))
        second_id, second = await close_it(h)
        assert second != first
        assert await staff.press_data(first_id, first) == "この操作は期限切れです"  # within its 10 minutes
        assert await state(h) == ("closed", "watching", 0)
        assert await staff.press_data(second_id, second) == "対応中に戻しました"
        assert await state(h) == ("open", None, 1)
        assert [e.action for e in await h.store.audit.since()].count("followup.reopen") == 2
