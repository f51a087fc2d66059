"""Issue 13, item 4: the dates of follow-up notes and of the offer to resume a draft are written with the shared
short formatter, so a date of another year shows its year (as everywhere else in the bot)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.harness import running
from tests.test_e2e_followups import STAFF, flag_in_an_outing


async def test_a_note_of_last_year_shows_its_year(tmp_path: Path) -> None:
    async with running(tmp_path, start=datetime(2026, 12, 28, 0, 30, tzinfo=UTC)) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)
        await staff.send("/followups")
        await staff.press("境南町 80代女性 A")
        await staff.press("📝 メモ追加")
        await staff.send("電話で状況確認")
        await staff.press("🔒 理由とメモを見る")
        assert "・12/28(月) 職員4001：" in staff.last.text  # type: ignore[union-attr]

        h.clock.set(datetime(2027, 1, 5, 0, 30, tzinfo=UTC))
        await staff.send("/followups")
        await staff.press("境南町 80代女性 A")
        await staff.press("🔒 理由とメモを見る")
        assert "・2026/12/28(月) 職員4001：" in staff.last.text  # type: ignore[union-attr]


async def test_the_offer_to_resume_a_draft_of_last_year_shows_its_year(tmp_path: Path) -> None:
    async with running(tmp_path, start=datetime(2026, 12, 31, 0, 30, tzinfo=UTC)) as h:
        staff = await h.register(STAFF)
        await staff.send("/visit")
        await staff.press("活動先への出向き・参加")
        h.clock.set(datetime(2027, 1, 4, 0, 30, tzinfo=UTC))
        await staff.send("/visit")
        offer = staff.last
        assert offer is not None and "入力途中の" in offer.text
        assert "（2026/12/31(木)・境南町）" in offer.text, offer.text
