"""End to end: /report, /mine and /export in the chat, and the weekly digest sent once per recipient."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl

from core.clock import JumpWatch, ManualClock
from core.models import NewFollowUp, Role
from tests.harness import ADMIN_ID, running
from tests.seed import consultation, outing

SUPERVISOR, STAFF, OTHER_ZONE = 3001, 3002, 3003
GROUP = -1001234567890
INSTALLED = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # Monday 09:00 in Tokyo, after that week's digest time


async def seed(h) -> None:  # type: ignore[no-untyped-def]
    """A week of records (week 47 of 2026: 16-22 November) and the same week a year earlier."""
    staff = (await h.store.staff.by_telegram_id(STAFF)).id
    other = (await h.store.staff.by_telegram_id(OTHER_ZONE)).id
    await outing(
        h.store,
        staff,
        date(2026, 11, 17),
        consultations=(
            consultation(
                agencies=("elderly", "houkatsu"), followup=NewFollowUp("境南町 80代女性 A", date(2026, 11, 20))
            ),
            consultation("volunteer", "donate"),
        ),
    )
    await outing(h.store, staff, date(2026, 11, 18), activity="meeting", destination="area-council")
    await outing(h.store, other, date(2026, 11, 18), area="chuo")
    await outing(h.store, staff, date(2025, 11, 18))  # 2025-W47


async def test_a_supervisor_gets_their_zones_report_as_text_and_a_chart(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR)
        await h.register(STAFF)
        await h.register(OTHER_ZONE, zone="central", area="chuo")
        await seed(h)
        me = await h.store.staff.by_telegram_id(STAFF)
        assert me is not None
        await outing(h.store, me.id, date(2026, 11, 10))  # the week before (2026-W46)
        await supervisor.send("/report")
        assert "西部圏域" in supervisor.last.text  # type: ignore[union-attr]
        await supervisor.press("先週")
        text = "\n".join(m.text for m in supervisor.messages if m.photo is None)
        assert "【集計】2026年第47週（11/16〜11/22）" in text
        assert "・活動記録 2件 (+1件)" in text  # the central zone's outing is not counted
        assert "・高齢者支援課 1件 (新)" in text
        assert "※ () 内は前週比" in text
        chart = supervisor.last
        assert chart is not None and chart.photo is not None and chart.photo.startswith(b"\x89PNG")


async def test_staff_get_their_own_week_and_cannot_read_the_zones_report(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF)
        await h.register(OTHER_ZONE, zone="central", area="chuo")
        await seed(h)
        h.clock.set(datetime(2026, 11, 19, 3, 0, tzinfo=UTC))
        await staff.send("/mine")
        assert "・活動記録 2件" in staff.last.text  # type: ignore[union-attr]
        await staff.send("/report")
        assert staff.last.text == "この操作を行う権限がありません。"  # type: ignore[union-attr]
        await staff.send("/export")
        assert staff.last.text == "この操作を行う権限がありません。"  # type: ignore[union-attr]


async def test_an_admin_exports_a_fiscal_year_as_xlsx_and_csv_that_open(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        await h.register(STAFF)
        await h.register(OTHER_ZONE, zone="central", area="chuo")
        await seed(h)
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        await admin.send("/export")
        await admin.press("令和8年度")
        xlsx, csv_doc = [m.document for m in admin.messages if m.document is not None]
        assert xlsx is not None and csv_doc is not None
        # Named and captioned for the council, as it names its files; no product name in what it reads.
        assert xlsx.filename == "市民社協_令和8年度_集計.xlsx" and csv_doc.filename == "市民社協_令和8年度_集計.csv"
        captions = [m.text for m in admin.messages if m.document is not None]
        assert captions == ["市民社会福祉協議会 令和8年度 集計表"] * 2
        book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
        assert len(book.sheetnames) >= 6
        cells = [str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c]
        assert "令和8年度" in " ".join(cells) and "高齢者支援課" in cells
        assert "fieldbot" not in " ".join([*cells, *book.sheetnames]).lower()
        assert cells[0].startswith("市民社会福祉協議会　合計　令和8年度")  # the title: the council and the period
        assert "前年同期" in cells and "前年同期比" in cells and "前期" not in cells  # a running year so far
        assert csv_doc.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(csv_doc.content.decode("utf-8-sig"))))
        assert any("高齢者支援課" in row for row in rows)


async def test_the_weekly_digest_is_sent_once_per_recipient_across_a_restart(tmp_path: Path) -> None:
    # The bot was installed the week before, so the 23 November digest is due.
    async with running(tmp_path, start=INSTALLED, digest_chat_id=GROUP) as h:
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR)
        await h.register(STAFF)
        await h.register(OTHER_ZONE, zone="central", area="chuo")
        quiet = await h.register(STAFF + 10)  # west, recorded nothing
        await seed(h)
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        group = h.api.group(GROUP, "市民社協 地域担当")

        h.clock.set(datetime(2026, 11, 22, 23, 29, tzinfo=UTC))  # Monday 08:29 in Tokyo
        assert (await h.tick())["digests"] == 0  # 16 November 08:30 came before the installation
        sent_before = len(supervisor.messages)

        h.clock.set(datetime(2026, 11, 22, 23, 31, tzinfo=UTC))  # Monday 08:31
        await h.tick()
        digest = "\n".join(m.text for m in supervisor.messages[sent_before:])
        assert "週間ダイジェスト｜11/16(月)〜11/22(日)｜西部圏域" in digest and "第47週" not in digest
        # 2 outings against 1 the same week a year earlier: too few to compare, so no change is claimed.
        assert "・活動記録 2件\n" in digest and "前年同週比" not in digest
        assert "・対応中 1件（うち期日超過 1件）" in digest
        assert "・⚠️ 境南町 80代女性 A（境南町）期日 11/20(金)・3日超過／担当 職員3002" in digest
        assert "・職員3002　活動 2件・相談 2件" in digest
        assert "・記録なし：職員3012\n" in digest  # the supervisor reads the digest and is not expected to record
        assert supervisor.last is not None and supervisor.last.photo is not None
        assert supervisor.last.text == "11/16(月)〜11/22(日)"  # the chart's caption
        assert any("全圏域" in m.text for m in admin.messages)
        group_text = "\n".join(m.text for m in group.messages)
        assert "・活動記録 3件" in group_text
        # Counts only: no staff name, no follow-up label, no area named.
        assert "・記録した職員 2人／記録のなかった職員 1人" in group_text and "職員30" not in group_text
        assert "・対応中 1件（うち期日超過 1件）" in group_text and "80代女性" not in group_text
        assert "境南町" not in group_text and "期日 11/20" not in group_text

        counts = (len(supervisor.messages), len(admin.messages), len(group.messages))
        await h.restart()
        await h.tick()
        h.clock.set(datetime(2026, 11, 23, 5, 0, tzinfo=UTC))
        await h.tick()
        assert (len(supervisor.messages), len(admin.messages), len(group.messages)) == counts
        assert quiet is not None


async def test_a_digest_missed_while_the_bot_was_down_is_sent_at_the_next_start(tmp_path: Path) -> None:
    async with running(tmp_path, start=INSTALLED) as h:
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR)
        await h.tick()
        before = len(supervisor.messages)
        await h.stop()
        h.clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # down over Monday 08:30
        await h.start()
        await h.tick()
        texts = [m.text for m in supervisor.messages[before:]]
        assert any("11/16(月)〜11/22(日)" in text for text in texts)
        await h.tick()
        digests = [m for m in supervisor.messages[before:] if m.photo is None and "11/16(月)〜11/22(日)" in m.text]
        assert len(digests) == 1


async def test_a_clock_set_a_week_ahead_sends_no_early_digest_and_the_real_one_comes_on_time(tmp_path: Path) -> None:
    async with running(tmp_path, start=INSTALLED) as h:
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR)
        await h.register(STAFF)
        await h.register(OTHER_ZONE, zone="central", area="chuo")
        await h.tick()
        h.clock.set(datetime(2026, 11, 18, 3, 0, tzinfo=UTC))  # Wednesday of week 47, at noon in Tokyo
        await h.tick()
        before = len(supervisor.messages)

        h.clock.jump(timedelta(days=7))  # set a week ahead by mistake: week 47 looks over
        assert (await h.tick())["digests"] == 0
        h.clock.advance(timedelta(hours=1))
        assert (await h.tick())["digests"] == 0
        h.clock.jump(timedelta(days=-7))  # set right again
        assert (await h.tick())["digests"] == 0
        await seed(h)  # the rest of week 47 happens (the records are dated 17 and 18 November)

        h.clock.set(datetime(2026, 11, 22, 23, 31, tzinfo=UTC))  # Monday 08:31, the real moment
        await h.tick()
        digest = "\n".join(m.text for m in supervisor.messages[before:] if m.photo is None)
        assert digest.count("11/16(月)〜11/22(日)") == 1
        assert "・活動記録 2件" in digest


def test_the_jump_watch_believes_a_moved_clock_only_once_it_has_run_steadily() -> None:
    clock = ManualClock(INSTALLED)
    watch = JumpWatch(clock)
    assert watch.steady() == (True, None)  # the first look trusts the clock
    clock.advance(timedelta(days=3))  # time passing is no jump, however long
    assert watch.steady() == (True, None)
    clock.jump(timedelta(days=7))
    assert watch.steady() == (False, timedelta(days=7))
    clock.advance(JumpWatch.SETTLE - timedelta(seconds=1))
    assert watch.steady() == (False, None)
    clock.advance(timedelta(seconds=1))
    assert watch.steady() == (True, None)
    clock.jump(timedelta(minutes=4))  # within the tolerance (NTP's small steps)
    assert watch.steady() == (True, None)
