"""A council's published report rebuilt from records: the lists of 関係機関からの相談 add up to the group, the groups
keep their order, a split category gets the published note, and a year without earlier data compares with nothing."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import openpyxl
import pytest

from core.models import NewConsultation
from core.periods import fiscal_year
from core.taxonomy import DEFAULT_TAXONOMY, Taxonomy, parse_taxonomy
from reports.render_text import render_text
from services.reporting import Reporter
from storage.sqlite.store import Store
from tests.harness import ADMIN_ID, running
from tests.seed import consult_only, consultation, outing
from tests.terminal import cli_fixture

NOW = datetime(2021, 4, 5, tzinfo=UTC)
# 近況報告など was split out of その他 in 令和2年度 (FY2020), as in the real report.
SPLIT = (
    '  code = "news"\n  label = "近況報告など"\n  order = 3\n',
    '  code = "news"\n  label = "近況報告など"\n  order = 3\n  split_from = "other"\n  counted_since = 2020\n',
)


def split_taxonomy() -> Taxonomy:
    text = resources.files("core").joinpath(DEFAULT_TAXONOMY).read_text(encoding="utf-8")
    assert SPLIT[0] in text
    return parse_taxonomy(text.replace(SPLIT[0], SPLIT[1], 1), "split")


def individual(category: str, n: int) -> list[NewConsultation]:
    return [consultation("individual", category, channel="phone")] * n


def from_agency(agency: str, topic: str, n: int, referrals: tuple[str, ...] = ()) -> list[NewConsultation]:
    return [consultation("agency", None, referrals, channel="phone", topic=topic, from_agency=agency)] * n


async def seed(store: Store) -> None:
    me = (await store.staff.ensure_admin(1, NOW)).id
    fy2020 = [
        *individual("services", 10),
        *individual("specific", 8),
        *individual("news", 6),
        *individual("join-place", 2),
        *individual("other", 1),
        *from_agency("children", "case", 3, ("elderly",)),
        *from_agency("elderly", "case", 1),
        *from_agency("elderly", "ibasho", 1),
        consultation("volunteer", "donate", ("children", "health"), channel="phone"),  # referred, not consulting
    ]
    fy2019 = [
        *individual("services", 9),
        *individual("specific", 8),
        *individual("join-place", 3),
        *individual("other", 13),
        *from_agency("children", "case", 2),
        *from_agency("health", "case", 2),
    ]
    await consult_only(store, me, date(2020, 6, 1), "kyonan", *fy2020)
    await consult_only(store, me, date(2019, 6, 1), "kyonan", *fy2019)


async def test_the_published_fiscal_year_report_is_rebuilt_from_records(store: Store) -> None:
    await seed(store)
    taxonomy = split_taxonomy()
    report = await Reporter(store, taxonomy).report(fiscal_year(2020))
    groups = report.dimensions.consulter
    # Groups in the published order, not by count; only what is inside a group is ranked.
    assert [g.code for g in groups] == ["individual", "volunteer", "agency"]
    assert all(g.rank is None for g in groups)
    agency_group = groups[2]
    assert (agency_group.count, agency_group.previous, agency_group.delta) == (5, 4, 1)
    # ‹関係機関別› and ‹相談内容別›: who consulted and about what, each adding up to the group's total.
    agency = [(r.label, r.count, r.delta, r.new) for r in report.dimensions.agency]
    assert agency == [("子ども政策課", 3, 1, False), ("高齢者支援課", 2, 2, True), ("健康課", 0, -2, False)]
    topic = [(r.label, r.count, r.delta) for r in report.dimensions.topic]
    assert topic == [("特定の個人のケースに関する事", 4, 0), ("居場所づくりに関する事", 1, 1)]
    assert sum(r.count for r in report.dimensions.agency) == sum(r.count for r in report.dimensions.topic) == 5
    # ‹つなぎ先別›: referrals of any group, apart.
    assert {r.code: r.count for r in report.dimensions.referral} == {"elderly": 3, "children": 1, "health": 1}
    assert report.totals.agency_links.count == 5

    # The split pair prints without deltas; the note gives their combined change in the published wording.
    news, other = (next(c for c in groups[0].categories if c.code == code) for code in ("news", "other"))
    assert (news.rank, news.count, news.delta, news.new) == (3, 6, None, False)
    assert (other.rank, other.count, other.delta, other.new) == (5, 1, None, False)
    assert groups[0].notes == ["※「3位：近況報告など」と「5位：その他」の合計7件は前年度比－6件"]
    text = "\n".join(render_text(report))
    lines = text.splitlines()
    for line in (
        "■ ニーズを抱えている個人の相談 27件（-6件）",
        "1位：福祉サービス、相談機関の紹介 10件（+1件）",
        "3位：近況報告など 6件",
        "5位：その他 1件",
        "※「3位：近況報告など」と「5位：その他」の合計7件は前年度比－6件",
        "・子ども政策課 3件 (+1件)",
        "・高齢者支援課 2件 (新)",
        "※ () 内は前年度比",
    ):
        assert line in lines, line
    assert lines.index("■ ニーズを抱えている個人の相談 27件（-6件）") < lines.index("■ 関係機関からの相談 5件（+1件）")
    # The JSON carries the same: groups without rank, the notes inside the group, null deltas for the pair.
    data = json.loads(report.model_dump_json())
    assert data["comparable"] is True and data["dimensions"]["consulter"][0]["rank"] is None
    assert data["dimensions"]["consulter"][0]["notes"] == groups[0].notes


async def test_a_comparison_inside_the_split_year_or_after_it_keeps_its_deltas(store: Store) -> None:
    await seed(store)
    report = await Reporter(store, split_taxonomy()).report(fiscal_year(2021))  # FY2021 against FY2020
    individual_group = report.dimensions.consulter[0]
    assert individual_group.notes == []
    news = next(c for c in individual_group.categories if c.code == "news")
    assert (news.count, news.previous, news.delta) == (0, 6, -6)


async def test_a_year_without_earlier_data_says_so_once_and_prints_no_change(store: Store) -> None:
    await seed(store)
    report = await Reporter(store, split_taxonomy()).report(fiscal_year(2019))  # FY2018 has nothing
    assert report.comparable is False
    assert all(r.delta is None and not r.new for r in report.dimensions.agency)
    assert report.totals.consultations.delta is None
    text = "\n".join(render_text(report))
    assert text.count("※比較できる前年度のデータがありません") == 1
    assert "新" not in text and "(+" not in text and "（+" not in text
    assert "■ ニーズを抱えている個人の相談 33件" in text.splitlines()


@pytest.mark.sqlite_only  # the terminal reads DATABASE_PATH (the CLI on DATABASE_URL: tests/test_postgres.py)
async def test_the_bot_the_terminal_and_the_workbook_show_the_same_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(tmp_path) as h:  # Monday 23 November 2026: 令和8年度 is running
        staff = await h.register(2301)
        me = await h.store.staff.by_telegram_id(2301)
        assert me is not None
        for day in (date(2026, 5, 11), date(2026, 9, 1), date(2026, 11, 20)):
            await outing(h.store, me.id, day, consultations=(consultation(agencies=("elderly",)),))
        for day in (date(2025, 6, 2), date(2025, 12, 1)):  # the second is after the same day last year
            await outing(h.store, me.id, day)
        del staff
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        await admin.send("/report")
        await admin.press("今年度")
        text = "\n".join(m.text for m in admin.messages if m.photo is None)
        assert "【集計】令和8年度（11/23まで）" in text and "比較：令和7年度（11/23まで）" in text
        assert "・活動記録 3件 (+2件)" in text.splitlines()  # against the same span of last year: 1, not 2

        terminal = cli_fixture(tmp_path, monkeypatch)
        cli = next(terminal)
        argv = ("report", "--fy", "2026", "--format", "json")
        # The command runs its own event loop: in a thread of its own, beside the bot's.
        result = await asyncio.to_thread(cli, *argv, now=h.clock.now(), DATABASE_PATH=str(h.database))
        assert result.code == 0, result.err
        shape = json.loads(result.out)
        assert shape["period"]["label"] == "令和8年度（11/23まで）"
        assert (shape["totals"]["outings"]["count"], shape["totals"]["outings"]["delta"]) == (3, 2)

        await admin.send("/export")
        await admin.press("令和8年度")
        xlsx = next(m.document for m in admin.messages if m.document is not None)
        assert xlsx is not None
        book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
        rows = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
        outings = next(row for row in rows if "活動記録" in row)
        assert [v for v in outings if isinstance(v, int)][:3] == [3, 1, 2]  # count, the same span last year, change
