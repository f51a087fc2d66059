"""Issue 13, item 2: the due-date presets show the date they set, and set exactly that date (also when pressed a
day later, or when it moves the date earlier); old preset buttons still decode and count from today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.buttons import LIMIT, FollowUpDuePreset, decode, encode
from tests.harness import Harness, running
from tests.test_e2e_followups import STAFF, flag_in_an_outing

LABEL = "境南町 80代女性 A"


async def due(h: Harness) -> str:
    row = await h.store.db.fetchone("SELECT due_date FROM followups")
    assert row is not None
    return str(row[0])


async def test_presets_show_their_date_and_set_what_they_showed(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)  # due 11/30 (a week from Monday 23 November)
        await staff.send("/followups")
        await staff.press(LABEL)
        await staff.press("📅 期日変更")
        menu = staff.last
        assert menu is not None
        assert menu.buttons[:3] == [["1週間後（11/30(月)）"], ["2週間後（12/7(月)）"], ["1か月後（12/23(水)）"]]
        assert all(len(d.encode()) <= LIMIT for row in menu.callback_data for d in row if d)

        h.clock.advance(timedelta(days=1))  # pressed the next day: the date shown, not a week from the press
        assert await staff.press("2週間後（12/7(月)）", message_id=menu.message_id) == "期日を変更しました。"
        assert await due(h) == "2026-12-07"


async def test_a_preset_in_another_year_shows_the_year(tmp_path: Path) -> None:
    async with running(tmp_path, start=datetime(2026, 12, 14, 0, 30, tzinfo=UTC)) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)
        await staff.send("/followups")
        await staff.press(LABEL)
        await staff.press("📅 期日変更")
        assert staff.last is not None
        shown = staff.last.buttons[:3]
        assert shown == [["1週間後（12/21(月)）"], ["2週間後（12/28(月)）"], ["1か月後（2027/1/13(水)）"]]


async def test_an_old_preset_button_still_counts_from_today(tmp_path: Path) -> None:
    assert decode("fp:12:1w") == FollowUpDuePreset(12, "1w")
    assert encode(FollowUpDuePreset(12, "1w")) == "fp:12:1w"
    async with running(tmp_path) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)
        await staff.send("/followups")
        h.clock.advance(timedelta(days=2))
        assert staff.last is not None
        assert await staff.press_data(staff.last.message_id, "fp:1:2w") == "期日を変更しました。"
        assert await due(h) == "2026-12-09"
