"""Typed dates that would land in another year are confirmed, 和暦 is read, and dates in another year show their year
(issue 13, finding B)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core import dates, flow
from core.flow import DraftState, FlowContext
from core.i18n import t
from services.followups import summary_line
from storage.types import FollowUp
from tests.conftest import TODAY
from tests.harness import ADMIN_ID, running

TO_DUE = ("p:outing", "p:salon-elderly", "x", "p:yes", "p:council", "t:-", "p:flag", "p:suggested", "x")
CONFIRM = t("flow.ask.confirm_year")


def press(state: DraftState, ctx: FlowContext, *actions: str) -> DraftState:
    for action in actions:
        outcome = flow.apply(state, ctx, action=action)
        assert outcome.hint is None, f"{action} at {state.step}: {outcome.hint}"
        state = outcome.state
    return state


def buttons(state: DraftState, ctx: FlowContext) -> dict[str, str]:
    return {b.label: b.action for row in flow.render(state, ctx).keyboard for b in row}


def on(ctx: FlowContext, day: date) -> FlowContext:
    return dataclasses.replace(ctx, today=day)


def at_date(ctx: FlowContext) -> DraftState:
    return press(flow.start("visit", ctx, "kyonan"), ctx, "e:date")


# ---------------------------------------------------------------------------------------------------------
# 和暦


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("R8.11.20", date(2026, 11, 20)),
        ("R8/11/20", date(2026, 11, 20)),
        ("r8-11-20", date(2026, 11, 20)),
        ("令和8年11月20日", date(2026, 11, 20)),
        ("令和 8年 11月 20日", date(2026, 11, 20)),
        ("Ｒ８．１１．２０", date(2026, 11, 20)),
        ("令和８年１１月２０日", date(2026, 11, 20)),
        ("㋿8年11月20日", date(2026, 11, 20)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("R1.5.1", date(2019, 5, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("H30.12.25", date(2018, 12, 25)),
    ],
)
def test_japanese_era_dates_are_read_with_their_year(typed: str, expected: date) -> None:
    found = dates.read_date(typed, TODAY, prefer="past")
    assert found == dates.TypedDate(expected, year_given=True)
    assert dates.parse_date(typed, TODAY, prefer="future") == expected


@pytest.mark.parametrize(
    "typed",
    [
        "R1.4.30",
        "令和元年4月30日",
        "H31.5.1",
        "平成31年5月1日",
        "H1.1.7",
        "R8.2.30",
        "R0.1.1",
        "令和8年13月1日",
        "S64.1.7",
    ],
)
def test_a_japanese_era_date_outside_its_era_or_impossible_is_no_date(typed: str) -> None:
    assert dates.read_date(typed, TODAY) is None
    assert dates.parse_date(typed, TODAY) is None


def test_the_year_is_known_only_when_it_was_typed() -> None:
    assert dates.read_date("2026-11-20", TODAY) == dates.TypedDate(date(2026, 11, 20), year_given=True)
    assert dates.read_date("11/20", TODAY) == dates.TypedDate(date(2026, 11, 20), year_given=False)
    assert dates.read_date("11月20日", TODAY) == dates.TypedDate(date(2026, 11, 20), year_given=False)


@pytest.mark.parametrize(
    ("typed", "today", "prefer", "far"),
    [
        ("12/25", date(2026, 12, 1), "past", True),  # last year's 12/25
        ("11/1", TODAY, "future", True),  # next year's 11/1
        ("5/1", TODAY, "past", True),  # this year, but more than 6 months ago
        ("8/1", date(2026, 1, 5), "future", True),  # this year, but more than 6 months ahead
        ("11/20", TODAY, "past", False),
        ("12/7", TODAY, "future", False),
        ("6/1", TODAY, "past", False),  # 175 days ago
        ("2025-12-25", date(2026, 12, 1), "past", False),  # the year was typed
        ("R7.12.25", date(2026, 12, 1), "past", False),
    ],
)
def test_a_year_guessed_into_another_year_or_far_away_asks(typed: str, today: date, prefer: str, far: bool) -> None:
    found = dates.read_date(typed, today, prefer=prefer)
    assert found is not None and dates.year_guessed_far(found, today) is far


# ---------------------------------------------------------------------------------------------------------
# The year shown when it is not this year


def test_a_short_date_shows_its_year_only_outside_this_year() -> None:
    assert dates.short_for(date(2026, 11, 23), TODAY) == "11/23(月)"
    assert dates.short_for(date(2025, 12, 25), TODAY) == "2025/12/25(木)"
    assert dates.short_for(date(2027, 1, 5), TODAY) == "2027/1/5(火)"
    when = datetime(2027, 1, 1, 9, 5)
    assert dates.moment(when) == "1/1(金) 9:05"
    assert dates.moment(when, today=TODAY) == "2027/1/1(金) 9:05"
    assert dates.moment(when, today=date(2027, 1, 1)) == "1/1(金) 9:05"


def test_a_follow_up_list_line_due_next_year_shows_the_year(ctx: FlowContext) -> None:
    created = datetime(2026, 11, 1, tzinfo=UTC)
    followup = FollowUp(1, 2, "職員2", "kyonan", "西部 A", date(2027, 1, 5), "open", None, created, None, False, None)
    line = summary_line(followup, ctx.taxonomy, TODAY, with_owner=False)
    assert "期日 2027/1/5(火)" in line
    this_year = dataclasses.replace(followup, due=date(2026, 12, 7))
    assert "期日 12/7(月)" in summary_line(this_year, ctx.taxonomy, TODAY, with_owner=False)


# ---------------------------------------------------------------------------------------------------------
# The outing's date


def test_a_date_guessed_into_last_year_is_confirmed_with_its_year_before_it_is_taken(ctx: FlowContext) -> None:
    ctx = on(ctx, date(2026, 12, 1))
    state = at_date(ctx)
    outcome = flow.apply(state, ctx, text="12/25")
    assert outcome.hint is None and outcome.changed
    state = outcome.state
    # the flow does not move on: the guess stands in the header while its year is asked
    assert state.step == "date" and state.pending is not None
    screen = flow.render(state, ctx)
    assert CONFIRM in screen.text and "2025/12/25(木)・境南町" in screen.text
    choices = buttons(state, ctx)
    # this year's 12/25 is in the future: never an outing's date, so not offered
    assert list(choices) == ["2025年12月25日(木)", "◀ 戻る"]
    assert choices["◀ 戻る"] != "b"  # back to the date question, not out of it

    taken = press(state, ctx, choices["2025年12月25日(木)"])
    assert taken.date == date(2025, 12, 25) and taken.step == "activity" and taken.pending is None
    assert "2025/12/25(木)・境南町" in flow.render(taken, ctx).text

    retyping = press(state, ctx, choices["◀ 戻る"])
    assert retyping.step == "date" and retyping.pending is None and retyping.date == date(2026, 12, 1)
    assert t("flow.ask.date") in flow.render(retyping, ctx).text


def test_a_date_more_than_six_months_ago_is_confirmed(ctx: FlowContext) -> None:
    state = flow.apply(at_date(ctx), ctx, text="5/1").state
    assert state.step == "date" and list(buttons(state, ctx)) == ["2026年5月1日(金)", "◀ 戻る"]
    assert press(state, ctx, "p:2026-05-01").date == date(2026, 5, 1)


def test_near_new_year_both_years_may_be_offered(ctx: FlowContext) -> None:
    ctx = on(ctx, date(2027, 1, 5))
    state = flow.apply(at_date(ctx), ctx, text="12/28").state
    assert list(buttons(state, ctx)) == ["2026年12月28日(月)", "2025年12月28日(日)", "◀ 戻る"]
    assert press(state, ctx, "p:2025-12-28").date == date(2025, 12, 28)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("11/20", date(2026, 11, 20)), ("2025-12-25", date(2025, 12, 25)), ("R7.12.25", date(2025, 12, 25))],
)
def test_a_near_date_or_one_typed_with_its_year_is_taken_at_once(ctx: FlowContext, typed: str, expected: date) -> None:
    outcome = flow.apply(at_date(ctx), ctx, text=typed)
    assert outcome.hint is None and outcome.state.date == expected and outcome.state.step == "activity"


def test_a_typed_year_still_meets_the_outing_checks(ctx: FlowContext) -> None:
    for typed in ("R8.12.25", "令和6年1月1日", "H31.4.30"):
        outcome = flow.apply(at_date(ctx), ctx, text=typed)
        assert not outcome.changed and outcome.hint in (t("flow.hint.future_date"), t("flow.hint.old_date"))


def test_a_date_button_not_offered_is_refused(ctx: FlowContext) -> None:
    state = flow.apply(at_date(ctx), ctx, text="5/1").state
    for action in ("p:2026-05-02", "p:2026-13-01", "p:", "p:today-ish"):
        assert not flow.apply(state, ctx, action=action).changed
    assert not flow.apply(at_date(ctx), ctx, action="p:2026-05-01").changed  # nothing asked


def test_a_draft_asking_for_the_year_reads_back_the_same(ctx: FlowContext) -> None:
    state = flow.apply(at_date(ctx), ctx, text="5/1").state
    assert state.pending is not None
    assert DraftState.model_validate_json(state.model_dump_json()) == state


def test_the_date_buttons_near_new_year_show_the_year(ctx: FlowContext) -> None:
    ctx = on(ctx, date(2027, 1, 1))
    labels = list(buttons(at_date(ctx), ctx))
    assert labels[:3] == ["✔ 今日 1/1(金)", "昨日 2026/12/31(木)", "一昨日 2026/12/30(水)"]


# ---------------------------------------------------------------------------------------------------------
# A follow-up's due date


def test_a_due_date_guessed_into_next_year_is_confirmed(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *TO_DUE)
    assert state.step == "fu_due.0"
    state = flow.apply(state, ctx, text="11/1").state
    assert state.step == "fu_due.0" and state.pending is not None  # asked, not moved on
    assert CONFIRM in flow.render(state, ctx).text
    choices = buttons(state, ctx)
    assert list(choices) == ["2027年11月1日(月)", "◀ 戻る"]  # this year's 11/1 is past
    back = press(state, ctx, choices["◀ 戻る"])
    assert back.step == "fu_due.0" and back.consultations[0].flagged.due is None  # type: ignore[union-attr]
    assert not flow.apply(state, ctx, action="p:date").changed  # the year is asked: answer that first
    state = press(state, ctx, choices["2027年11月1日(月)"])
    assert state.consultations[0].flagged.due == date(2027, 11, 1)  # type: ignore[union-attr]
    assert state.step == "after_fu.0"
    state = press(state, ctx, "p:done")
    assert "要フォロー：境南町 1123-A（期日 2027/11/1(月)）" in flow.render(state, ctx).text


def test_a_due_date_typed_after_the_date_button_is_confirmed_too(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *TO_DUE, "p:date")
    state = flow.apply(state, ctx, text="6/1").state
    assert state.step == "fu_date.0" and list(buttons(state, ctx)) == ["2027年6月1日(火)", "◀ 戻る"]
    back = press(state, ctx, buttons(state, ctx)["◀ 戻る"])
    assert back.step == "fu_date.0" and back.pending is None
    assert back.consultations[0].flagged.due is None  # type: ignore[union-attr]
    again = flow.apply(state, ctx, text="7/1").state  # another date typed on the question: asked again
    assert list(buttons(again, ctx)) == ["2027年7月1日(木)", "◀ 戻る"]
    assert press(again, ctx, "p:retype").consultations[0].flagged.due is None  # type: ignore[union-attr]
    state = press(state, ctx, "p:2027-06-01")
    assert state.consultations[0].flagged.due == date(2027, 6, 1)  # type: ignore[union-attr]
    assert state.step == "after_fu.0"


def test_a_near_due_date_is_taken_at_once(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *TO_DUE)
    for typed, expected in (("12/25", date(2026, 12, 25)), ("2027-11-01", date(2027, 11, 1)), ("R9.1.5", None)):
        outcome = flow.apply(state, ctx, text=typed)
        assert outcome.hint is None and outcome.state.step == "after_fu.0", typed
        due = outcome.state.consultations[0].flagged.due  # type: ignore[union-attr]
        assert due == (expected or date(2027, 1, 5))


# ---------------------------------------------------------------------------------------------------------
# End to end

DECEMBER_FIRST = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 1 December 00:30 in Tokyo


async def test_an_outing_date_typed_without_its_year_on_1_december_is_confirmed_in_the_chat(tmp_path: Path) -> None:
    async with running(tmp_path, start=DECEMBER_FIRST) as h:
        staff = await h.register(5201)
        await staff.send("/visit")
        await staff.press("📅 日付変更")
        await staff.send("12/25")
        text = staff.last.text  # type: ignore[union-attr]
        assert "年を確認してください" in text and "2025年12月25日(木)" in str(staff.last.buttons)  # type: ignore[union-attr]
        await staff.press("2025年12月25日(木)")
        assert "📝 出向き記録｜2025/12/25(木)・境南町" in staff.last.text  # type: ignore[union-attr]
        for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった"):
            await staff.press(label)
        assert "日付：2025年12月25日(木)" in staff.last.text  # type: ignore[union-attr]
        await staff.press("💾 保存")
        row = await h.store.db.fetchone("SELECT date FROM outings")
        assert row is not None and row[0] == "2025-12-25"


async def test_a_follow_up_due_date_typed_for_next_year_is_confirmed_and_listed_with_its_year(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(5202)
        await staff.send("/visit")
        for label in (
            "活動先への出向き・参加",
            "高齢者サロン",
            "スキップ",
            "あった",
            "ニーズを抱えている個人の相談",
            "福祉サービス、相談機関の紹介",
            "なし（つないでいない）",
            "🚩 要フォローあり",
            "「境南町 1123-A」にする",
            "スキップ",
            "1週間",
            "✅ 相談入力を終える",
            "💾 保存",
        ):
            await staff.press(label)
        await staff.send("/followups")
        await staff.press("境南町 1123-A")
        await staff.press("📅 期日変更")
        await staff.press("日付入力")
        await staff.send("11/1")
        assert "年を確認してください" in staff.last.text  # type: ignore[union-attr]
        row = await h.store.db.fetchone("SELECT due_date FROM followups")
        assert row is not None and row[0] == "2026-11-30"  # not changed silently
        await staff.press("2027年11月1日(月)")
        row = await h.store.db.fetchone("SELECT due_date FROM followups")
        assert row is not None and row[0] == "2027-11-01"
        await staff.send("/followups")
        assert "期日 2027/11/1(月)" in staff.last.text  # type: ignore[union-attr]
        # a due date typed with its year is taken at once
        await staff.press("境南町 1123-A")
        await staff.press("📅 期日変更")
        await staff.press("日付入力")
        await staff.send("2026/12/24")
        assert "2026年12月24日" in staff.last.text  # type: ignore[union-attr]
        row = await h.store.db.fetchone("SELECT due_date FROM followups")
        assert row is not None and row[0] == "2026-12-24"


async def test_an_invite_made_before_new_year_shows_the_year_of_its_expiry(tmp_path: Path) -> None:
    async with running(tmp_path, start=datetime(2026, 12, 30, 1, 0, tzinfo=UTC)) as h:  # 30 December 10:00
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        await admin.send("/invite")
        await admin.press("職員")
        await admin.press("西部圏域")
        assert "1回限り・2027/1/2(土) 10:00まで有効" in admin.last.text  # type: ignore[union-attr]
