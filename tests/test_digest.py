"""The digest schedule, and each digest part sent exactly once even when Telegram fails."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from core.clock import ManualClock
from core.counts import Counts
from core.models import NewFollowUp, Role
from core.periods import Period, same_period_last_year
from core.schedule import DigestSchedule
from core.taxonomy import Category, Dimension, Taxonomy, parse_taxonomy
from handlers.delivery import classify
from reports.digest import (
    AREAS_SHOWN,
    IDLE_SHOWN,
    MIN_COMPARED,
    OVERDUE_SHOWN,
    STAFF_SHOWN,
    DigestContent,
    Figures,
    OverdueFollowUp,
    QuietArea,
    StaffCounts,
    YearToDate,
    render_digest,
    top_lines,
)
from reports.render_text import text_length
from reports.tally import Report, build_report, rank_rows
from services.digest import DigestService, due_week
from services.screens import Rows
from storage.sqlite.store import Store
from tests.harness import running
from tests.seed import consult_only, consultation, outing

TOKYO = ZoneInfo("Asia/Tokyo")
INSTALLED = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
MONDAY_0831 = datetime(2026, 11, 22, 23, 31, tzinfo=UTC)


def test_the_schedule_reads_a_weekday_and_a_time() -> None:
    assert DigestSchedule.parse("mon 08:30") == DigestSchedule(0, time(8, 30))
    assert DigestSchedule.parse(" Fri 17:05 ") == DigestSchedule(4, time(17, 5))
    for wrong in ("monday 8:30", "mon 24:00", "mon", "08:30"):
        with pytest.raises(ValueError, match="is not like 'mon 08:30'"):
            DigestSchedule.parse(wrong)


@pytest.mark.parametrize(
    ("now", "week", "moment"),
    [
        (datetime(2026, 11, 22, 23, 29, tzinfo=UTC), "2026-W46", datetime(2026, 11, 16, 8, 30, tzinfo=TOKYO)),
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "2026-W47", datetime(2026, 11, 23, 8, 30, tzinfo=TOKYO)),
        (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), "2026-W47", datetime(2026, 11, 23, 8, 30, tzinfo=TOKYO)),
        (datetime(2027, 1, 4, 0, 0, tzinfo=UTC), "2026-W53", datetime(2027, 1, 4, 8, 30, tzinfo=TOKYO)),
    ],
)
def test_the_due_week_is_the_last_full_week_before_the_latest_scheduled_moment(
    now: datetime, week: str, moment: datetime
) -> None:
    period, at = due_week(now, TOKYO, DigestSchedule.parse("mon 08:30"))
    assert (period.key, at) == (week, moment)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), "failed"),
        (BadRequest("Chat not found"), "failed"),
        (RetryAfter(timedelta(seconds=5)), "retry"),
        (NetworkError("Internal Server Error"), "retry"),
        (NetworkError("Bad Gateway (502). Parsing the server response failed"), "retry"),
        (TimedOut(), "unknown"),
        (NetworkError("httpx.RemoteProtocolError: Server disconnected without sending a response."), "unknown"),
    ],
)
def test_delivery_failures_are_classified_for_the_outbox(error: Exception, outcome: str) -> None:
    assert classify(error).outcome == outcome  # type: ignore[arg-type]


async def test_a_digest_refused_with_a_server_error_is_sent_at_the_next_tick_once(tmp_path: Path) -> None:
    async with running(tmp_path, start=INSTALLED) as h:
        supervisor = await h.register(3001, Role.SUPERVISOR)
        await supervisor.send("/help")
        h.clock.set(MONDAY_0831)
        h.api.inject("sendMessage", status=500, times=2)  # the admin's digest (first) and the supervisor's
        await h.tick()
        assert not [m for m in supervisor.messages if m.text.startswith("📊 週間ダイジェスト")]
        await h.tick()
        await h.tick()
        assert len([m for m in supervisor.messages if m.text.startswith("📊 週間ダイジェスト")]) == 1
        assert supervisor.last is not None and supervisor.last.photo is not None


async def test_a_digest_whose_answer_was_lost_is_not_sent_again(tmp_path: Path) -> None:
    async with running(tmp_path, start=INSTALLED) as h:
        supervisor = await h.register(3001, Role.SUPERVISOR)
        await supervisor.send("/help")
        h.clock.set(MONDAY_0831)
        await h.api.user(1001).send("/help")  # the admin's chat exists too, and is served first
        h.api.inject("sendMessage", drop=True, after_effect=True, times=2)
        await h.tick()
        await h.tick()
        assert len([m for m in supervisor.messages if m.text.startswith("📊 週間ダイジェスト")]) == 1
        statuses = {key: status for key, status, _ in await h.store.outbox.history("digest")}
        assert statuses["digest:2026-W47:3001:text:0"] == "unknown"
        assert statuses["digest:2026-W47:3001:chart"] == "sent"  # the chart went out normally


async def test_the_outbox_marks_a_send_and_claims_the_next_in_one_statement(store: Store) -> None:
    now = MONDAY_0831
    first, second, other = "digest:2026-W47:1:text:0", "digest:2026-W47:1:chart", "digest:2026-W47:2:text:0"
    assert await store.outbox.claim(first, "digest", 1, now)
    assert await store.outbox.sent_and_claim((first, 1), second, "digest", 1, now)
    assert await store.outbox.statuses("digest:2026-W47:") == {first: "sent", second: "sending"}
    # The next send was claimed by an earlier run: not ours, and the one that went out is marked all the same.
    assert await store.outbox.claim(other, "digest", 2, now)
    assert not await store.outbox.sent_and_claim((second, 1), other, "digest", 2, now)
    assert await store.outbox.statuses("digest:2026-W47:") == {first: "sent", second: "sent", other: "sending"}
    await store.outbox.claim("digest:2026-W48:1:chart", "digest", 1, now)
    await store.outbox.claim("reminder:7:2026-11-23", "reminder", 1, now)
    assert set(await store.outbox.statuses("digest:2026-W47:")) == {first, second, other}
    assert set(await store.outbox.statuses("digest:2026-W47:1:")) == {first, second}


class Recorded:
    """A sender that keeps what it was asked to send: (chat, "text" or "photo")."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def text(self, chat_id: int, text: str, buttons: Rows = ()) -> None:
        self.sent.append((chat_id, "text"))

    async def photo(self, chat_id: int, png: bytes, caption: str) -> None:
        self.sent.append((chat_id, "photo"))


async def test_a_digest_composes_each_content_once_and_a_run_after_it_reads_only_staff_and_outbox(
    store: Store, taxonomy: Taxonomy
) -> None:
    admin = await store.staff.ensure_admin(1001, INSTALLED)
    async with store.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO staff (telegram_id, name, role, zone, created_at) VALUES (?, ?, 'supervisor', ?, ?)",
            [(3001, "西一", "west", "x"), (3002, "西二", "west", "x"), (3003, "中央", "central", "x")],
        )
    await outing(store, admin.id, date(2026, 11, 17))
    await store.meta.put("installed_at", "2000-01-01T00:00:00.000000Z")
    sender = Recorded()
    digests = DigestService(
        store, taxonomy, sender, ManualClock(MONDAY_0831), TOKYO, DigestSchedule.parse("mon 08:30"), draw=no_chart
    )
    reads = counted_reads(store)
    assert await digests.run() == 8
    chats = [chat for chat, _ in sender.sent[::2]]  # each recipient's text, then its chart
    assert sorted(chats) == [1001, 3001, 3002, 3003]
    assert sender.sent == [(chat, kind) for chat in chats for kind in ("text", "photo")]
    # The week and the same week a year earlier of every scope, one scan; the years to date of every scope, one
    # statement of headline figures; each staff member's week in every scope, one statement; the last outing of
    # every area, one statement of index probes.
    assert len([sql for sql in reads if "UNION ALL" in sql]) == 3
    assert len([sql for sql in reads if "FROM outings o WHERE o.area = wanted.area" in sql]) == 1
    statuses = await store.outbox.statuses("digest:2026-W47:")
    assert len(statuses) == 8 and set(statuses.values()) == {"sent"}
    reads.clear()
    assert await digests.run() == 0
    assert len(reads) == 2 and sender.sent[8:] == []  # the staff and the week's outbox statuses


def no_chart(report: Report, dimension: str) -> bytes:
    return b""


def counted_reads(store: Store) -> list[str]:
    seen: list[str] = []
    read = store.db.fetchall

    async def fetchall(sql: str, params: Any = ()) -> Any:
        seen.append(sql)
        return await read(sql, params)

    store.db.fetchall = fetchall  # type: ignore[method-assign]
    return seen


# ---------------------------------------------------------------------------------------------------------------
# What a digest says: the week of 16-22 November 2026, sent on Monday 23 November.

WEEK, _ = due_week(MONDAY_0831, TOKYO, DigestSchedule.parse("mon 08:30"))
TODAY = date(2026, 11, 23)
GROUP = -1001234567890
REASON = "息子さんと連絡がとれない"  # a follow-up's reason: sealed, never in a digest


class Kept:
    """A sender that keeps the texts and the chart captions it was asked to send, by chat."""

    def __init__(self) -> None:
        self.texts: dict[int, list[str]] = {}
        self.captions: dict[int, str] = {}

    async def text(self, chat_id: int, text: str, buttons: Rows = ()) -> None:
        self.texts.setdefault(chat_id, []).append(text)

    async def photo(self, chat_id: int, png: bytes, caption: str) -> None:
        self.captions[chat_id] = caption


async def person(store: Store, telegram_id: int, name: str, role: str = "staff", zone: str | None = "west") -> int:
    async with store.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO staff (telegram_id, name, role, zone, created_at) VALUES (?, ?, ?, ?, 'x')",
            (telegram_id, name, role, zone),
        )
    store.staff.cache.clear()  # written behind the repository's back
    found = await store.staff.by_telegram_id(telegram_id)
    assert found is not None
    return found.id


async def sent_digests(store: Store, taxonomy: Taxonomy, group: int | None = GROUP) -> Kept:
    await store.meta.put("installed_at", "2000-01-01T00:00:00.000000Z")
    sender = Kept()
    schedule = DigestSchedule.parse("mon 08:30")
    groups = () if group is None else (group,)
    service = DigestService(store, taxonomy, sender, ManualClock(MONDAY_0831), TOKYO, schedule, groups, draw=no_chart)
    await service.run()
    return sender


def text_of(sender: Kept, chat: int) -> str:
    return "\n".join(sender.texts[chat])


async def monday(store: Store) -> None:
    """A zone's week: two staff members out in two of its four areas, one idle; a year earlier, ten outings."""
    await person(store, 3001, "西田", "supervisor")
    yamada, sato = await person(store, 3002, "山田"), await person(store, 3003, "佐藤")
    await person(store, 3004, "鈴木")  # recorded nothing
    nakamura = await person(store, 3005, "中村", zone="central")
    overdue = NewFollowUp("見守りA", date(2026, 11, 20), REASON)
    await outing(
        store,
        yamada,
        date(2026, 11, 16),
        consultations=(consultation(agencies=("elderly",), followup=overdue), consultation()),
    )
    for day, activity, destination in (
        (17, "outing", "salon-elderly"),
        (17, "outing", "ibasho"),
        (18, "meeting", "area-council"),
        (19, "outing", "kodomo-shokudo"),
        (20, "info", "salon-parent"),
        (21, "outing", "salon-elderly"),
        (22, "liaison", "agency"),
    ):
        await outing(store, yamada, date(2026, 11, day), activity=activity, destination=destination)
    await outing(store, sato, date(2026, 11, 17), "sakurazutsumi", destination="ibasho")
    await outing(store, sato, date(2026, 11, 18), "sakurazutsumi", consultations=(consultation("volunteer", "donate"),))
    await outing(store, sato, date(2026, 11, 19), "sakurazutsumi", "meeting", "community-group")
    await outing(store, sato, date(2026, 11, 20), "sakurazutsumi", "consult", "individual")
    later = NewFollowUp("見守りB", date(2026, 12, 4))
    phoned = consultation(agencies=("houkatsu",), channel="phone", followup=later)
    await consult_only(store, sato, date(2026, 11, 21), "sakurazutsumi", phoned)
    await outing(store, sato, date(2026, 10, 20), "sakaino")  # 境野: last visited five weeks ago; 御殿台 never
    await outing(store, nakamura, date(2026, 11, 18), "chuo")
    await outing(store, yamada, date(2026, 11, 23))  # today: after the week, in no figure
    for _ in range(15):
        await outing(store, yamada, date(2026, 5, 12))
    # A year earlier: the same ISO week (17-23 November 2025) and earlier in that fiscal year.
    for _ in range(10):
        await outing(store, yamada, date(2025, 11, 18))
    await consult_only(store, yamada, date(2025, 11, 19), "kyonan", consultation(channel="phone"))
    for _ in range(12):
        await outing(store, yamada, date(2025, 5, 13))
    await outing(store, yamada, date(2025, 11, 25))  # after the same day a year earlier: not in 前年同期


SUPERVISOR_DIGEST = """\
📊 週間ダイジェスト｜11/16(月)〜11/22(日)｜西部圏域

<この週の件数>
・活動記録 12件（前年同週比 +2件）
・相談 4件
・うち出向き先で受けた相談 3件
・関係機関へのつなぎ 2件
・出向き先で受けた相談の割合 75.0%

<令和8年度の累計（4/1(水)〜11/22(日)）>
・活動記録 28件（前年同期比 +6件）
・相談 4件
・うち出向き先で受けた相談 3件

<担当者別（この週）>
・山田　活動 8件・相談 2件
・佐藤　活動 4件・相談 2件
・記録なし：鈴木

<要フォロー>
・対応中 2件（うち期日超過 1件）
・⚠️ 見守りA（境南町）期日 11/20(金)・3日超過／担当 山田

<4週間出向きのない地域（10/26(月)〜11/22(日)）>
・御殿台　出向きの記録なし
・境野　最後の出向き 10/20(火)

<活動内容 上位3>
1位：活動先への出向き・参加 7件
2位：話し合い（会議・打合せ）への参加 2件
3位：相談対応 1件（ほか同数2項目）

<支援先 上位3>
1位：高齢者サロン 4件
2位：居場所 2件
3位：地域社協 1件（ほか同数5項目）

<つなぎ先 上位3>
1位：高齢者支援課 1件
1位：在宅介護・地域包括支援センター 1件

<相談者種別>
・ニーズを抱えている個人の相談 3件
・ボランティア希望（活動）者からの相談 1件

※ 件数は記録日（出向き・相談の日）で集計しています。
※ 前年比は、比べる両方の件数が10件以上のときだけ示します。"""

GROUP_DIGEST = """\
📊 週間ダイジェスト｜11/16(月)〜11/22(日)｜全圏域

<この週の件数>
・活動記録 13件（前年同週比 +3件）
・相談 4件
・うち出向き先で受けた相談 3件
・関係機関へのつなぎ 2件
・出向き先で受けた相談の割合 75.0%

<令和8年度の累計（4/1(水)〜11/22(日)）>
・活動記録 29件（前年同期比 +7件）
・相談 4件
・うち出向き先で受けた相談 3件

<担当者別（この週）>
・記録した職員 3人／記録のなかった職員 1人

<要フォロー>
・対応中 2件（うち期日超過 1件）

<4週間出向きのない地域（10/26(月)〜11/22(日)）>
・10地域

<活動内容 上位3>
1位：活動先への出向き・参加 8件
2位：話し合い（会議・打合せ）への参加 2件
3位：相談対応 1件（ほか同数2項目）

<支援先 上位3>
1位：高齢者サロン 5件
2位：居場所 2件
3位：地域社協 1件（ほか同数5項目）

<つなぎ先 上位3>
1位：高齢者支援課 1件
1位：在宅介護・地域包括支援センター 1件

<相談者種別>
・ニーズを抱えている個人の相談 3件
・ボランティア希望（活動）者からの相談 1件

※ 件数は記録日（出向き・相談の日）で集計しています。
※ 前年比は、比べる両方の件数が10件以上のときだけ示します。"""


async def test_the_monday_digest_of_a_supervisor_and_of_the_group_chat(store: Store, taxonomy: Taxonomy) -> None:
    """The whole digest, as sent (the closing note of issue 11 shows these two)."""
    await monday(store)
    sender = await sent_digests(store, taxonomy)
    assert sender.texts[3001] == [SUPERVISOR_DIGEST]
    assert sender.texts[GROUP] == [GROUP_DIGEST]
    assert sender.captions[3001] == sender.captions[GROUP] == "11/16(月)〜11/22(日)"  # no ISO week number
    for text in (SUPERVISOR_DIGEST, GROUP_DIGEST):
        assert "第47週" not in text and "W47" not in text
        assert REASON not in text and "前週比" not in text


def content(taxonomy: Taxonomy, now: Counts, before: Counts, **changes: Any) -> DigestContent:
    """A zone's digest of WEEK from counts, for the rules of the text alone."""
    year_ago = same_period_last_year(WEEK)
    base = DigestContent(
        scope_label="西部圏域",
        week=build_report(taxonomy, WEEK, now, year_ago, before),
        year_to_date=YearToDate(Period("range", date(2026, 4, 1), WEEK.end), Figures(), Figures()),
        staff=[],
        idle=[],
        quiet_areas=[],
        followups=(0, 0),
        overdue=[],
        today=TODAY,
        private=True,
    )
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("now", "before", "shown"),
    [
        (10, 10, "・活動記録 10件（前年同週比 ±0件）"),
        (25, 12, "・活動記録 25件（前年同週比 +13件）"),
        (9, 30, "・活動記録 9件\n"),  # this week too few
        (30, 9, "・活動記録 30件\n"),  # a year earlier too few
        (3, 1, "・活動記録 3件\n"),
    ],
)
def test_a_change_from_a_year_earlier_is_shown_only_when_both_counts_reach_the_threshold(
    taxonomy: Taxonomy, now: int, before: int, shown: str
) -> None:
    assert MIN_COMPARED == 10
    text = "\n".join(render_digest(content(taxonomy, Counts(outings=now), Counts(outings=before))))
    assert shown in text
    assert "※ 前年比は、比べる両方の件数が10件以上のときだけ示します。" in text  # the rule, in one line


def test_each_figure_is_judged_on_its_own_counts(taxonomy: Taxonomy) -> None:
    now = Counts(outings=14, consultations=12, at_outing=4, activity={"outing": 14}, referral={"elderly": 2})
    before = Counts(outings=11, consultations=15, at_outing=6, activity={"outing": 11}, referral={"elderly": 1})
    ytd = YearToDate(Period("range", date(2026, 4, 1), WEEK.end), Figures(300, 200, 8), Figures(280, 9, 7))
    text = "\n".join(render_digest(content(taxonomy, now, before, year_to_date=ytd)))
    assert "・活動記録 14件（前年同週比 +3件）" in text
    assert "・相談 12件（前年同週比 -3件）" in text
    assert "・うち出向き先で受けた相談 4件\n" in text  # 4 and 6: too few to compare
    assert "・出向き先で受けた相談の割合 33.3%（前年同週 40.0%）" in text  # consultations compared: so is the share
    assert "1位：活動先への出向き・参加 14件（前年同週比 +3件）" in text
    assert "1位：高齢者支援課 2件\n" in text
    assert "・活動記録 300件（前年同期比 +20件）" in text
    assert "・相談 200件\n" in text and "・うち出向き先で受けた相談 8件\n" in text


def test_without_data_a_year_earlier_the_digest_says_so_and_claims_no_change(taxonomy: Taxonomy) -> None:
    ytd = YearToDate(Period("range", date(2026, 4, 1), WEEK.end), Figures(300, 200, 80), Figures())
    text = "\n".join(render_digest(content(taxonomy, Counts(outings=40), Counts(), year_to_date=ytd)))
    assert "・前年同週のデータなし" in text and "・前年同期のデータなし" in text
    assert "・活動記録 40件\n" in text and "・活動記録 300件\n" in text
    assert "比 " not in text and "新" not in text


def test_staff_counts_name_each_person_in_private_and_are_two_numbers_in_a_group_chat(taxonomy: Taxonomy) -> None:
    staff = [StaffCounts(f"職員{i:02d}", 20 - i, i % 3) for i in range(STAFF_SHOWN + 4)]
    idle = [f"休み{i:02d}" for i in range(IDLE_SHOWN + 2)]
    private = "\n".join(render_digest(content(taxonomy, Counts(), Counts(), staff=staff, idle=idle)))
    assert "・職員00　活動 20件・相談 0件" in private
    assert f"・職員{STAFF_SHOWN - 1:02d}" in private and f"・職員{STAFF_SHOWN:02d}" not in private
    assert "・ほか4人（記録あり）" in private
    assert "・記録なし：休み00、休み01、" in private and f"休み{IDLE_SHOWN - 1:02d}（ほか2人）" in private
    group = "\n".join(render_digest(content(taxonomy, Counts(), Counts(), staff=staff, idle=idle, private=False)))
    assert f"・記録した職員 {STAFF_SHOWN + 4}人／記録のなかった職員 {IDLE_SHOWN + 2}人" in group
    assert "職員00" not in group and "休み" not in group
    nobody = "\n".join(render_digest(content(taxonomy, Counts(), Counts(), idle=["鈴木"])))
    assert "・この週の記録はありません\n・記録なし：鈴木" in nobody


async def test_staff_counts_are_of_the_scopes_records_and_name_who_recorded(store: Store, taxonomy: Taxonomy) -> None:
    await person(store, 3001, "西田", "supervisor")
    yamada, tanaka = await person(store, 3002, "山田"), await person(store, 3005, "田中", zone="central")
    await person(store, 3006, "木村", zone="central")
    await outing(store, yamada, date(2026, 11, 17), consultations=(consultation(), consultation()))
    await outing(store, tanaka, date(2026, 11, 18), "sakaino")  # helping in the west zone
    await outing(store, tanaka, date(2026, 11, 19), "chuo")
    west = text_of(await sent_digests(store, taxonomy), 3001)
    assert "・山田　活動 1件・相談 2件\n・田中　活動 1件・相談 0件\n" in west
    assert "・記録なし：" not in west and "木村" not in west  # another zone's idle staff member


async def test_areas_without_an_outing_for_four_weeks_with_their_last_outing(store: Store, taxonomy: Taxonomy) -> None:
    await person(store, 3001, "西田", "supervisor")
    yamada = await person(store, 3002, "山田")
    await outing(store, yamada, date(2026, 10, 26), "sakurazutsumi")  # the first of the 28 days: visited
    await outing(store, yamada, date(2025, 12, 1), "sakaino")  # last year's: its year is shown
    await outing(store, yamada, date(2026, 10, 25), "kyonan")  # the day before
    await outing(store, yamada, date(2026, 11, 23), "gotenyama")  # after the week: not yet
    west = text_of(await sent_digests(store, taxonomy), 3001)
    quiet = west.split("<4週間出向きのない地域（10/26(月)〜11/22(日)）>\n")[1].split("\n\n")[0]
    assert quiet == "・御殿台　出向きの記録なし\n・境野　最後の出向き 2025/12/1(月)\n・境南町　最後の出向き 10/25(日)"


def with_gotenyama_retired() -> Taxonomy:
    text = (Path(__file__).resolve().parent.parent / "core" / "default_taxonomy.toml").read_text(encoding="utf-8")
    return parse_taxonomy(text.replace('label = "御殿台"\n', 'label = "御殿台"\n  retired = true\n'), "test")


async def test_a_retired_area_is_not_expected_to_be_visited(store: Store) -> None:
    await person(store, 3001, "西田", "supervisor")
    west = text_of(await sent_digests(store, with_gotenyama_retired()), 3001)
    assert "・境野　出向きの記録なし" in west and "御殿台" not in west


def test_a_long_list_of_quiet_areas_is_cut_and_says_how_many_more(taxonomy: Taxonomy) -> None:
    quiet = [QuietArea(f"地域{i:02d}", None) for i in range(AREAS_SHOWN + 5)]
    text = "\n".join(render_digest(content(taxonomy, Counts(), Counts(), quiet_areas=quiet)))
    assert f"・地域{AREAS_SHOWN - 1:02d}" in text and f"地域{AREAS_SHOWN:02d}" not in text and "・ほか5地域" in text
    group = "\n".join(render_digest(content(taxonomy, Counts(), Counts(), quiet_areas=quiet, private=False)))
    assert f"・{AREAS_SHOWN + 5}地域" in group and "地域00" not in group


async def test_overdue_follow_ups_are_listed_by_label_and_owner_in_private_chats_only(
    store: Store, taxonomy: Taxonomy
) -> None:
    await store.staff.ensure_admin(1001, INSTALLED)
    await person(store, 3001, "西田", "supervisor")
    yamada, tanaka = await person(store, 3002, "山田"), await person(store, 3005, "田中", zone="central")
    items = [
        consultation(followup=NewFollowUp("見守りA", date(2026, 11, 9), REASON)),
        consultation(followup=NewFollowUp("見守りB", date(2026, 11, 22))),
        consultation(followup=NewFollowUp("見守りC", date(2026, 11, 23))),  # due today: not overdue yet
    ]
    await outing(store, yamada, date(2026, 11, 2), consultations=tuple(items))
    await outing(
        store,
        tanaka,
        date(2026, 11, 2),
        "chuo",
        consultations=(consultation(followup=NewFollowUp("中央D", date(2026, 11, 1))),),
    )
    sender = await sent_digests(store, taxonomy)
    west, council, group = text_of(sender, 3001), text_of(sender, 1001), text_of(sender, GROUP)
    assert (
        "・対応中 3件（うち期日超過 2件）\n"
        "・⚠️ 見守りA（境南町）期日 11/9(月)・14日超過／担当 山田\n"
        "・⚠️ 見守りB（境南町）期日 11/22(日)・1日超過／担当 山田\n\n"
    ) in west
    assert "見守りC" not in west and "中央D" not in west
    assert "・⚠️ 中央D（中央町）期日 11/1(日)・22日超過／担当 田中" in council and "見守りA" in council
    assert "・対応中 4件（うち期日超過 3件）\n\n" in group
    for label in ("見守り", "中央D", "山田", "田中"):
        assert label not in group
    for text in (west, council, group):
        assert REASON not in text


def test_an_overdue_list_is_cut_and_says_how_many_more(taxonomy: Taxonomy) -> None:
    overdue = [OverdueFollowUp(f"見守り{i:02d}", "境南町", date(2026, 11, 1), "山田") for i in range(OVERDUE_SHOWN)]
    text = "\n".join(render_digest(content(taxonomy, Counts(), Counts(), overdue=overdue, followups=(20, 14))))
    assert f"見守り{OVERDUE_SHOWN - 1:02d}" in text and "・ほか4件" in text


async def test_the_year_to_date_runs_from_1_april_to_the_weeks_end_against_the_same_span(
    store: Store, taxonomy: Taxonomy
) -> None:
    await person(store, 3001, "西田", "supervisor")
    yamada = await person(store, 3002, "山田")
    for day, n in ((date(2026, 4, 1), 11), (date(2026, 3, 31), 5), (date(2026, 11, 23), 5)):
        for _ in range(n):
            await outing(store, yamada, day)
    for day, n in ((date(2025, 4, 1), 10), (date(2025, 11, 22), 2), (date(2025, 11, 23), 5)):
        for _ in range(n):
            await outing(store, yamada, day)
    west = text_of(await sent_digests(store, taxonomy), 3001)
    assert "<令和8年度の累計（4/1(水)〜11/22(日)）>\n・活動記録 11件（前年同期比 -1件）\n・相談 0件\n" in west


@pytest.mark.parametrize(
    ("counts", "lines"),
    [
        ([1, 1, 1, 1, 1, 1, 1], ["1位：a 1件", "1位：b 1件", "1位：c 1件（ほか同数4項目）"]),
        ([5, 3, 2, 2, 2, 1], ["1位：a 5件", "2位：b 3件", "3位：c 2件（ほか同数2項目）"]),
        ([5, 3, 3, 3, 1], ["1位：a 5件", "2位：b 3件", "2位：c 3件（ほか同数1項目）"]),
        ([5, 3, 2, 1, 1], ["1位：a 5件", "2位：b 3件", "3位：c 2件"]),
        ([2, 2], ["1位：a 2件", "1位：b 2件"]),
        ([4, 0], ["1位：a 4件"]),
    ],
)
def test_a_top_list_never_runs_longer_than_its_title(counts: list[int], lines: list[str]) -> None:
    codes = "abcdefg"[: len(counts)]
    dimension = Dimension("activity", [Category(c, c, i) for i, c in enumerate(codes)])
    rows = rank_rows(dimension, dict(zip(codes, counts, strict=True)), None)
    assert top_lines(rows, 3) == lines


def test_consulter_groups_print_in_their_order_without_rank(taxonomy: Taxonomy) -> None:
    now = Counts(consultations=9, consulter={"agency": 5, "individual": 2, "council": 2})
    text = "\n".join(render_digest(content(taxonomy, now, Counts())))
    groups = text.split("<相談者種別>\n")[1].split("\n\n")[0]
    assert groups == "・市民社協の事業に関連する相談 2件\n・ニーズを抱えている個人の相談 2件\n・関係機関からの相談 5件"


def test_a_long_digest_is_split_within_the_limit_and_each_message_reads_on_its_own(taxonomy: Taxonomy) -> None:
    staff = [StaffCounts(f"とても長い名前の職員{i:02d}", 3, 1) for i in range(STAFF_SHOWN)]
    quiet = [QuietArea(f"とても長い名前の地域{i:02d}", date(2026, 9, 1)) for i in range(AREAS_SHOWN)]
    overdue = [OverdueFollowUp(f"見守り{i:02d}", "境南町", date(2026, 11, 1), "山田") for i in range(OVERDUE_SHOWN)]
    digest = content(taxonomy, Counts(), Counts(), staff=staff, quiet_areas=quiet, overdue=overdue)
    messages = render_digest(digest, limit=700)
    assert len(messages) > 2
    assert messages[0].startswith("📊 週間ダイジェスト｜11/16(月)〜11/22(日)｜西部圏域")
    for message in messages:
        assert text_length(message) <= 700
        assert message.endswith("※ 前年比は、比べる両方の件数が10件以上のときだけ示します。")
    assert all(m.startswith("📊 週間ダイジェスト｜11/16(月)〜11/22(日)（続き）") for m in messages[1:])
    assert "".join(messages).count("見守り") == OVERDUE_SHOWN
    assert len(render_digest(digest)) == 1  # within Telegram's 4,096 it is one message
