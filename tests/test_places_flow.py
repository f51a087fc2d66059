"""Outings to registered places: recent places first, another found by typing, 活動先なし for the kind only, and a
repeat of the last outing in three presses."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from core import flow
from core.flow import FlowContext, PlaceChoice, Repeat
from core.models import NewOuting, NewPlace, PlaceStatus, Role, Submission
from core.periods import fiscal_year
from core.taxonomy import load_taxonomy
from services.report_tables import ReportTables
from services.reporting import Reporter
from tests.harness import running
from tests.seed import consultation
from tests.test_e2e_visit import Taps

SALON = PlaceChoice(1, "境南ふれあいサロン", "salon-elderly", "kyonan")
IBASHO = PlaceChoice(2, "みんなの居場所", "ibasho", "kyonan")
CHUO = PlaceChoice(3, "中央こども食堂", "kodomo-shokudo", "chuo")
STAFF_ID = 2101
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def with_places(ctx: FlowContext, repeats: tuple[Repeat, ...] = ()) -> FlowContext:
    return replace(ctx, recent_places=(SALON,), other_places=(IBASHO, CHUO), repeats=repeats)


def press(state: flow.DraftState, ctx: FlowContext, *actions: str) -> flow.DraftState:
    for action in actions:
        outcome = flow.apply(state, ctx, action=action)
        assert outcome.hint is None, f"{action} at {state.step}: {outcome.hint}"
        state = outcome.state
    return state


def labels(state: flow.DraftState, ctx: FlowContext) -> list[str]:
    return [b.label for row in flow.render(state, ctx).keyboard for b in row]


def test_a_recent_place_sets_the_kind_and_area_and_skips_the_kind_question(ctx: FlowContext) -> None:
    ctx = with_places(ctx)
    state = press(flow.start("visit", ctx, "sakaino"), ctx, "p:outing")
    assert state.step == "place"
    assert labels(state, ctx)[:3] == [
        "境南ふれあいサロン（高齢者サロン）",
        "🔎 ほかの活動先",
        "活動先なし（種類だけ選ぶ）",
    ]
    state = press(state, ctx, "p:1")
    assert state.step == "headcount"  # the kind came from the place
    assert (state.destination, state.area, state.place_name) == ("salon-elderly", "kyonan", "境南ふれあいサロン")
    state = press(state, ctx, "x", "p:no")
    assert "活動先：境南ふれあいサロン" in flow.render_summary_text(state, ctx)
    submission = flow.to_submission(state, ctx, 7)
    assert submission.outing is not None and submission.outing.place_id == 1 and submission.area == "kyonan"


def test_another_place_is_found_by_typing_part_of_its_name(ctx: FlowContext) -> None:
    ctx = with_places(ctx)
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing", "p:more")
    assert state.step == "place_search" and "みんなの居場所（居場所）" in labels(state, ctx)
    outcome = flow.apply(state, ctx, text="こども")
    assert next(b.action for row in flow.render(outcome.state, ctx).keyboard for b in row) == "p:3"
    state = press(outcome.state, ctx, "p:3")
    assert state.step == "headcount" and (state.place, state.destination, state.area) == (3, "kodomo-shokudo", "chuo")
    # Typed at the place question itself, the text searches too.
    typed = flow.apply(press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing"), ctx, text="居場所")
    assert typed.state.step == "place_search" and typed.state.place_query == "居場所"


def test_no_place_asks_the_kind_and_a_forged_place_is_refused(ctx: FlowContext) -> None:
    ctx = with_places(ctx)
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing")
    assert not flow.apply(state, ctx, action="p:99").changed
    state = press(state, ctx, "x")
    assert state.step == "destination" and state.place == flow.SKIPPED
    state = press(state, ctx, "p:ibasho", "x", "p:no")
    outing = flow.to_submission(state, ctx, 7).outing
    assert outing is not None and outing.place_id is None and outing.destination == "ibasho"


def test_without_a_register_the_outing_asks_no_place(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing")
    assert state.step == "destination"


def test_the_last_outing_is_repeated_from_the_first_screen(ctx: FlowContext) -> None:
    repeats = (Repeat("outing", "salon-elderly", "kyonan", 12, SALON), Repeat("meeting", "area-council", "chuo", None))
    ctx = with_places(ctx, repeats=repeats)
    state = flow.start("visit", ctx, "sakaino")
    assert labels(state, ctx)[:2] == ["🔁 前回と同じ：高齢者サロン・境南ふれあいサロン", "🔁 地域社協"]
    state = press(state, ctx, "p:r0")
    assert state.step == "has_consult"
    assert (state.activity, state.place, state.destination, state.area, state.headcount) == (
        "outing",
        1,
        "salon-elderly",
        "kyonan",
        12,
    )
    assert not flow.apply(flow.start("visit", ctx, "kyonan"), ctx, action="p:r7").changed


async def test_a_repeat_outing_to_the_same_place_takes_three_presses_over_the_bot(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        async with h.store.db.transaction() as tx:
            await h.store.places.add(
                tx, NewPlace("境南ふれあいサロン", "salon-elderly", "kyonan"), datetime(2026, 11, 1, tzinfo=UTC)
            )
        first = Taps(staff)
        await staff.send("/visit")
        for label in (
            "活動先への出向き・参加",
            "🔎 ほかの活動先",
            "境南ふれあいサロン（高齢者サロン）",
            "10人",
            "なかった",
            "💾 保存",
        ):
            await first(label)
        assert first.count == 6  # the first time: found in the register
        plain = Taps(staff)
        await staff.send("/visit")  # a plain outing to a recent place: five presses
        for label in (
            "活動先への出向き・参加",
            "境南ふれあいサロン（高齢者サロン）",
            "スキップ",
            "なかった",
            "💾 保存",
        ):
            await plain(label)
        assert plain.count <= 5
        repeat = Taps(staff)
        await staff.send("/visit")
        for label in ("🔁 前回と同じ：高齢者サロン・境南ふれあいサロン", "なかった", "💾 保存"):
            await repeat(label)
        assert repeat.count <= 3
        rows = await h.store.db.fetchall("SELECT place_id, destination, headcount FROM outings ORDER BY id")
        place_ids = {r[0] for r in rows}
        assert len(rows) == 3 and len(place_ids) == 1 and None not in place_ids
        assert [tuple(r[1:]) for r in rows] == [("salon-elderly", 10), ("salon-elderly", None), ("salon-elderly", None)]
        # The place report: one distinct place, three outings.
        tables = ReportTables(Reporter(h.store, load_taxonomy()), ZoneInfo("Asia/Tokyo"))
        named = await tables.table("places", fiscal_year(2026), today=h.clock.now().date())
        assert [(r.label, r.values[3]) for r in named.table.rows] == [("境南ふれあいサロン", 3)]  # type: ignore[union-attr]
        assert "※支援した活動先：1か所（高齢者サロン1）" in named.table.notes


async def test_the_place_table_counts_distinct_places_outings_consultations_outreach_and_quiet_ones(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as h:
        await h.register(STAFF_ID)
        staff = await h.store.staff.by_telegram_id(STAFF_ID)
        assert staff is not None
        now = datetime(2026, 4, 1, tzinfo=UTC)
        async with h.store.db.transaction() as tx:
            salon = await h.store.places.add(tx, NewPlace("境南ふれあいサロン", "salon-elderly", "kyonan"), now)
            quiet = await h.store.places.add(tx, NewPlace("静かな居場所", "ibasho", "kyonan"), now)
            new = NewPlace("新しいサロン", "salon-elderly", "kyonan", status=PlaceStatus.PREPARING)
            await h.store.places.add(tx, replace(new, started_on=datetime(2026, 6, 1).date()), now)
            for day, activity, talks in ((10, "outing", 1), (20, "outreach", 0)):
                outing = NewOuting(activity, "salon-elderly", None, salon.id)
                cons = (consultation(),) * talks
                await h.store.records.save_submission(
                    tx, Submission(staff.id, datetime(2026, 11, day).date(), "kyonan", outing, cons), "visit", now
                )
            old = NewOuting("outing", "ibasho", None, quiet.id)
            await h.store.records.save_submission(
                tx, Submission(staff.id, datetime(2026, 5, 1).date(), "kyonan", old), "visit", now
            )
        tables = ReportTables(Reporter(h.store, load_taxonomy()), ZoneInfo("Asia/Tokyo"))
        named = await tables.table("places", fiscal_year(2026), today=datetime(2026, 11, 30).date())
        rows = {row.label: row.values for row in named.table.rows}  # type: ignore[union-attr]
        assert rows["境南ふれあいサロン"][3:6] == [2, 1, 1]  # outings, consultations there, 働きかけ
        assert rows["静かな居場所"][3] == 1 and rows["新しいサロン"][3] == 0
        notes = named.table.notes
        assert "※支援した活動先：2か所（高齢者サロン1、居場所1）" in notes
        assert "※立ち上げ：1か所　休止・終了：0か所" in notes
        assert any(n.startswith("※8週間出向きのない活動先：2か所（新しいサロン、静かな居場所") for n in notes), notes


async def test_a_place_named_during_an_outing_is_registered_for_a_supervisor_to_confirm(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        supervisor = await h.register(STAFF_ID + 1, Role.SUPERVISOR)
        async with h.store.db.transaction() as tx:
            await h.store.places.add(tx, NewPlace("境南ふれあいサロン", "salon-elderly", "kyonan"), NOW)
        await staff.send("/visit")
        await staff.press("活動先への出向き・参加")
        await staff.press("🔎 ほかの活動先")
        await staff.send("ひだまりカフェ")
        await staff.press("＋「ひだまりカフェ」を新しい活動先にする")
        assert "支援先" in staff.last.text  # type: ignore[union-attr]  # its kind is asked
        for label in ("居場所", "スキップ", "なかった"):
            await staff.press(label)
        assert "活動先：ひだまりカフェ（新しく登録・係長が確認します）" in staff.last.text  # type: ignore[union-attr]
        await staff.press("💾 保存")
        place = await h.store.places.named("kyonan", "ひだまりカフェ")
        assert place is not None and not place.confirmed and place.kind == "ibasho"
        row = await h.store.db.fetchone("SELECT place_id FROM outings")
        assert row is not None and row[0] == place.id

        await supervisor.send("/places")
        assert "要確認1" in supervisor.last.text  # type: ignore[union-attr]
        await supervisor.press("⏳ ひだまりカフェ（活動中）")
        await supervisor.press("✔ 確認済みにする")
        assert "確認済みにしました" in supervisor.last.text  # type: ignore[union-attr]
        await supervisor.press("→ 休止")
        changed = await h.store.places.get(place.id)
        assert changed is not None and changed.confirmed and changed.status is PlaceStatus.PAUSED
        assert changed.ended_on is not None  # the day it paused
        # Staff cannot open the register.
        await staff.send("/places")
        assert "活動先" not in (staff.last.text or "")  # type: ignore[union-attr]


async def test_the_monday_digest_lists_the_zone_s_places_not_visited_for_eight_weeks_privately(tmp_path: Path) -> None:
    installed = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    group_id = -1001234567890
    async with running(tmp_path, start=installed, digest_chat_id=group_id) as h:
        supervisor = await h.register(STAFF_ID + 2, Role.SUPERVISOR)  # west
        await h.register(STAFF_ID)
        me = await h.store.staff.by_telegram_id(STAFF_ID)
        assert me is not None
        async with h.store.db.transaction() as tx:
            visited = await h.store.places.add(tx, NewPlace("境南ふれあいサロン", "salon-elderly", "kyonan"), NOW)
            await h.store.places.add(tx, NewPlace("静かな居場所", "ibasho", "kyonan"), NOW)
            await h.store.places.add(tx, NewPlace("中央こども食堂", "kodomo-shokudo", "chuo"), NOW)  # central
            outing = NewOuting("outing", "salon-elderly", None, visited.id)
            day = datetime(2026, 11, 17).date()
            await h.store.records.save_submission(tx, Submission(me.id, day, "kyonan", outing), "visit", NOW)
        group = h.api.group(group_id, "市民社協 地域担当")
        h.clock.set(datetime(2026, 11, 22, 23, 31, tzinfo=UTC))  # Monday 08:31 in Tokyo
        await h.tick()
        digest = "\n".join(m.text for m in supervisor.messages if m.photo is None)
        assert "<8週間出向きのない活動先>\n・静かな居場所　出向きの記録なし" in digest
        assert "境南ふれあいサロン" not in digest and "中央こども食堂" not in digest  # visited; another zone
        assert "静かな居場所" not in "\n".join(m.text for m in group.messages)  # names stay out of the group


async def test_a_supervisor_adds_and_renames_a_place_in_the_bot(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        supervisor = await h.register(STAFF_ID + 3, Role.SUPERVISOR)  # west: 境野, 境南町…
        await supervisor.send("/places")
        await supervisor.press("＋ 活動先を追加")
        await supervisor.send("ひだまりカフェ")
        await supervisor.press("居場所")
        assert "「ひだまりカフェ」（居場所）の地域" in supervisor.last.text  # type: ignore[union-attr]
        labels = [b for row in supervisor.last.buttons for b in row]  # type: ignore[union-attr]
        assert "境南町" in labels and "中央町" not in labels  # the supervisor's zone only
        await supervisor.press("境南町")
        assert "活動先を追加しました" in supervisor.last.text  # type: ignore[union-attr]
        place = await h.store.places.named("kyonan", "ひだまりカフェ")
        assert place is not None and place.confirmed and place.kind == "ibasho"

        await supervisor.press("✏ 名前を変更")
        await supervisor.send("ひだまりカフェ境南")
        assert "名前を変更しました" in supervisor.last.text  # type: ignore[union-attr]
        renamed = await h.store.places.get(place.id)
        assert renamed is not None and renamed.name == "ひだまりカフェ境南"
        await supervisor.send("次のメッセージ")  # nothing awaited any more: not taken as a name
        unchanged = await h.store.places.get(place.id)
        assert unchanged is not None and unchanged.name == "ひだまりカフェ境南"


async def test_text_typed_into_a_record_begun_after_the_add_button_stays_the_record_s(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        supervisor = await h.register(STAFF_ID + 4, Role.SUPERVISOR)
        await supervisor.send("/places")
        await supervisor.press("＋ 活動先を追加")  # then changes their mind and records an outing
        h.clock.advance(timedelta(seconds=5))
        await supervisor.send("/visit")
        for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった"):
            await supervisor.press(label)
        await supervisor.send("見守りの様子を記録")  # the card's memo, not a place's name
        assert "メモ：あり" in supervisor.last.text  # type: ignore[union-attr]
        assert await h.store.places.all() == []
