"""End to end: /report's 担当者別, 地域別 and 月別 buttons, answered as text in the person's scope."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from core.models import Role
from tests.harness import ADMIN_ID, running
from tests.seed import consultation, outing

SUPERVISOR, STAFF, OTHER_ZONE, QUIET = 4001, 4002, 4003, 4004


async def seed(h) -> None:  # type: ignore[no-untyped-def]
    """This fiscal year (FY2026): two outings in 境南町 (west), one in 中央町 (central), one in 境野 last year."""
    staff = (await h.store.staff.by_telegram_id(STAFF)).id
    other = (await h.store.staff.by_telegram_id(OTHER_ZONE)).id
    await outing(h.store, staff, date(2026, 11, 17), consultations=(consultation(agencies=("elderly",)),))
    await outing(h.store, staff, date(2026, 10, 5), activity="meeting", destination="area-council")
    await outing(h.store, other, date(2026, 11, 18), area="chuo")
    await outing(h.store, staff, date(2025, 11, 18), area="sakaino")


async def test_a_supervisor_reads_the_staff_area_and_month_tables_of_their_zone(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR)
        await h.register(STAFF)
        await h.register(QUIET, area="sakaino")  # west, recorded nothing
        await h.register(OTHER_ZONE, zone="central", area="chuo")
        await seed(h)

        await supervisor.send("/report")
        menu = supervisor.last
        assert menu is not None and ["担当者別", "地域別", "月別", "活動先別"] in menu.buttons
        await supervisor.press("担当者別")
        text = supervisor.last.text  # type: ignore[union-attr]
        assert text.startswith("【担当者別件数】令和8年度（11/23まで）")
        assert "・職員4002　活動記録 2件／相談 1件／関係機関へのつなぎ 1件" in text
        assert "・職員4004　活動記録 0件／相談 0件／関係機関へのつなぎ 0件" in text
        assert "職員4003" not in text  # another zone's staff
        assert "・合計　活動記録 2件／相談 1件／関係機関へのつなぎ 1件" in text
        assert ["今週", "先週", "今月"] in supervisor.last.buttons  # type: ignore[union-attr]

        await supervisor.press("前年度")
        text = supervisor.last.text  # type: ignore[union-attr]
        assert text.startswith("【担当者別件数】令和7年度") and "・職員4002　活動記録 1件" in text

        await supervisor.send("/report")
        await supervisor.press("地域別")
        text = supervisor.last.text  # type: ignore[union-attr]
        assert "・境南町　活動記録 2件／相談 1件／最終出向き日 2026/11/17" in text
        # An area without an outing this year is a row too, with the date of its last one before.
        assert "・境野　活動記録 0件／相談 0件／最終出向き日 2025/11/18" in text
        assert "・御殿台　活動記録 0件／相談 0件／最終出向き日 －" in text
        assert "中央町" not in text

        await supervisor.send("/report")
        await supervisor.press("月別")
        text = supervisor.last.text  # type: ignore[union-attr]
        assert "【月別件数】令和8年度（11/23まで）" in text and "■ 活動記録 計2件" in text
        assert "10月 1／11月 1／12月 0／1月 0／2月 0／3月 0" in text
        assert supervisor.last.buttons == [["前年度"]]  # type: ignore[union-attr]


async def test_an_admin_s_tables_cover_the_council(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        await h.register(STAFF)
        await h.register(OTHER_ZONE, zone="central", area="chuo")
        await seed(h)
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        await admin.send("/report")
        await admin.press("担当者別")
        text = admin.last.text  # type: ignore[union-attr]
        assert "・職員4003　活動記録 1件" in text and "・合計　活動記録 3件／相談 1件" in text
        await admin.send("/report")
        await admin.press("地域別")
        text = admin.last.text  # type: ignore[union-attr]
        assert "・中央町　活動記録 1件" in text and "・合計　活動記録 3件／相談 1件" in text
