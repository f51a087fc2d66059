"""The outing and consultation flows as a state machine: questions, answers, back, edits, hints."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import flow
from core.flow import DraftState, FlowContext, FlowKind
from core.taxonomy import parse_taxonomy
from tests.conftest import TODAY


def press(state: DraftState, ctx: FlowContext, *actions: str) -> DraftState:
    for action in actions:
        outcome = flow.apply(state, ctx, action=action)
        assert outcome.hint is None, f"{action} at {state.step}: {outcome.hint}"
        state = outcome.state
    return state


def type_text(state: DraftState, ctx: FlowContext, text: str) -> flow.Outcome:
    return flow.apply(state, ctx, text=text)


def buttons(state: DraftState, ctx: FlowContext) -> dict[str, str]:
    return {b.label: b.action for row in flow.render(state, ctx).keyboard for b in row}


PLAIN = ("p:outing", "p:salon-elderly", "x", "p:no")
ONE_CONSULTATION = (
    "p:outing",
    "p:salon-elderly",
    "x",
    "p:yes",
    "p:individual",
    "p:services",
    "t:elderly",
    "k",
    "p:done",
)
# A consultation from an agency: which agency consulted, and its topic (asked of that group only).
FROM_AGENCY = ("p:outing", "p:salon-elderly", "x", "p:yes", "p:agency", "p:children", "p:case", "t:-", "p:done")


def test_a_new_outing_starts_today_in_the_home_area_at_the_activity_question(ctx: FlowContext) -> None:
    state = flow.start("visit", ctx, "kyonan")
    assert (state.date, state.area, state.step) == (TODAY, "kyonan", "activity")
    screen = flow.render(state, ctx)
    assert "11/23(月)・境南町" in screen.text
    assert "e:date" in buttons(state, ctx).values()


def test_a_plain_outing_reaches_the_summary_card_in_four_presses(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *PLAIN)
    assert state.step == "summary"
    assert flow.missing_step(state, ctx) is None
    submission = flow.to_submission(state, ctx, staff_id=7)
    assert submission.outing is not None
    assert (submission.outing.activity, submission.outing.destination, submission.outing.headcount) == (
        "outing",
        "salon-elderly",
        None,
    )
    assert submission.consultations == ()


def test_one_consultation_with_one_agency_reaches_the_summary_in_nine_presses(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *ONE_CONSULTATION)
    assert state.step == "summary" and len(ONE_CONSULTATION) == 9
    (consultation,) = flow.to_submission(state, ctx, 1).consultations
    assert consultation.channel == "outing" and consultation.at_outing
    # The topic is not asked of a group other than the agencies': its sub-category says what it was about.
    assert (consultation.consulter, consultation.consulter_category, consultation.topic) == (
        "individual",
        "services",
        None,
    )
    assert consultation.agencies == ("elderly",) and consultation.from_agency is None
    assert consultation.followup is None


def test_a_consultation_from_an_agency_asks_which_agency_and_its_topic_both_required(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *FROM_AGENCY[:5])
    assert state.step == "from_agency.0"
    assert "スキップ" not in buttons(state, ctx)
    state = press(state, ctx, "p:children")
    assert state.step == "topic.0" and "スキップ" not in buttons(state, ctx)
    assert not flow.apply(state, ctx, action="s").changed  # no skipping the topic
    state = press(state, ctx, *FROM_AGENCY[6:])
    (consultation,) = flow.to_submission(state, ctx, 1).consultations
    assert (consultation.consulter, consultation.from_agency, consultation.topic) == ("agency", "children", "case")
    assert consultation.agencies == ()  # referred nowhere: a separate question
    # Another group forgets the agency and the topic it no longer has.
    state = press(state, ctx, "e:cons.0", "p:consulter", "p:council")
    (consultation,) = flow.to_submission(state, ctx, 1).consultations
    assert (consultation.consulter, consultation.from_agency, consultation.topic) == ("council", None, None)


def test_back_returns_to_the_previous_question_with_the_answer_kept(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing", "p:ibasho")
    assert state.step == "headcount"
    state = press(state, ctx, "b")
    assert state.step == "destination" and state.destination == "ibasho"
    assert "✔ 居場所" in buttons(state, ctx)
    state = press(state, ctx, "p:kodomo-shokudo")
    assert state.step == "headcount" and state.destination == "kodomo-shokudo"


def test_back_on_the_first_question_changes_nothing(ctx: FlowContext) -> None:
    state = flow.start("visit", ctx, "kyonan")
    outcome = flow.apply(state, ctx, action="b")
    assert not outcome.changed and outcome.state.step == "activity"


def test_text_where_a_button_is_expected_gets_a_hint_and_the_same_question(ctx: FlowContext) -> None:
    state = flow.start("visit", ctx, "kyonan")
    outcome = type_text(state, ctx, "サロンに行った")
    assert not outcome.changed
    assert outcome.hint == "ボタンで選んでください。"
    assert outcome.state.step == "activity"
    assert "⚠️ ボタンで選んでください。" in flow.render(outcome.state, ctx, outcome.hint).text


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("11/20", date(2026, 11, 20)), ("2026-11-20", date(2026, 11, 20)), ("１１／２０", date(2026, 11, 20))],
)
def test_the_date_can_be_typed(ctx: FlowContext, typed: str, expected: date) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "e:date")
    assert state.step == "date"
    outcome = type_text(state, ctx, typed)
    assert outcome.hint is None
    assert outcome.state.date == expected and outcome.state.step == "activity"


@pytest.mark.parametrize("typed", ["2026-02-30", "13/45", "あした", "2026-12-01", "2024-01-01"])
def test_impossible_future_or_ancient_dates_are_refused(ctx: FlowContext, typed: str) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "e:date")
    outcome = type_text(state, ctx, typed)
    assert not outcome.changed and outcome.hint and outcome.state.step == "date"


def test_yesterday_is_one_press(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "e:date", "p:yesterday")
    assert state.date == TODAY - timedelta(days=1) and state.step == "activity"


def test_another_zones_area_can_be_chosen(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "e:area")
    assert "p:chuo" not in buttons(state, ctx).values()
    state = press(state, ctx, "z:central", "p:chuo")
    assert state.area == "chuo" and state.step == "activity"


@pytest.mark.parametrize(("typed", "count"), [("12", 12), ("１２人", 12), ("0", 0)])
def test_headcount_can_be_typed(ctx: FlowContext, typed: str, count: int) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing", "p:salon-elderly")
    outcome = type_text(state, ctx, typed)
    assert outcome.state.headcount == count and outcome.state.step == "has_consult"


@pytest.mark.parametrize("typed", ["-3", "100000", "たくさん", "1e9"])
def test_negative_enormous_or_wordy_headcounts_are_refused(ctx: FlowContext, typed: str) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing", "p:salon-elderly")
    outcome = type_text(state, ctx, typed)
    assert not outcome.changed and outcome.hint and outcome.state.step == "headcount"


def test_agencies_toggle_and_none_is_exclusive(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *ONE_CONSULTATION[:6])
    assert state.step == "agencies.0"
    state = press(state, ctx, "t:health", "t:children", "t:health")
    assert state.consultations[0].agencies == ["children"]
    assert "✅ 子ども政策課" in buttons(state, ctx)
    state = press(state, ctx, "t:-")
    assert state.consultations[0].agencies == [] and state.step == "next.0"


def test_confirming_agencies_with_nothing_chosen_asks_for_none(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *ONE_CONSULTATION[:6])
    outcome = flow.apply(state, ctx, action="k")
    assert not outcome.changed and outcome.hint


def test_agencies_are_kept_in_taxonomy_order(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *ONE_CONSULTATION[:6], "t:corporate", "t:children", "k")
    assert state.consultations[0].agencies == ["children", "corporate"]


def test_a_group_without_sub_categories_skips_that_question(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing", "p:agency", "x", "p:yes", "p:agency")
    assert state.step == "from_agency.0"
    state = press(state, ctx, "p:health", "p:case", "t:-", "p:done")
    assert flow.to_submission(state, ctx, 1).consultations[0].consulter_category is None


def test_follow_up_with_suggested_label_and_due_in_two_weeks(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *ONE_CONSULTATION[:8], "p:flag", "p:suggested", "x", "p:2w")
    assert state.step == "after_fu.0"
    state = press(state, ctx, "p:done")
    followup = flow.to_submission(state, ctx, 1).consultations[0].followup
    assert followup is not None
    assert followup.due == TODAY + timedelta(days=14)
    assert followup.label == "境南町 1123-A"


def test_follow_up_label_is_length_limited_and_the_limit_is_said(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *ONE_CONSULTATION[:8], "p:flag")
    outcome = type_text(state, ctx, "あ" * 31)
    assert not outcome.changed and outcome.hint and "30文字" in outcome.hint and "31文字" in outcome.hint
    outcome = type_text(state, ctx, "境南町 80代女性 A")
    assert outcome.state.step == "fu_reason.0"
    outcome = type_text(outcome.state, ctx, "買い物支援が月2回必要")
    assert outcome.state.step == "fu_due.0"
    assert outcome.state.consultations[0].followup.reason == "買い物支援が月2回必要"  # type: ignore[union-attr]


def test_follow_up_due_date_can_be_typed_and_must_not_be_past(ctx: FlowContext) -> None:
    state = press(
        flow.start("visit", ctx, "kyonan"), ctx, *ONE_CONSULTATION[:8], "p:flag", "p:suggested", "x", "p:date"
    )
    assert state.step == "fu_date.0"
    past = type_text(state, ctx, "2026-11-01")
    assert not past.changed and past.hint == "期日には今日以降の日付を指定してください。"
    assert type_text(state, ctx, "11/1").state.consultations[0].followup.due == date(2027, 11, 1)  # type: ignore[union-attr]
    outcome = type_text(state, ctx, "12/7")
    assert outcome.state.step == "after_fu.0"
    assert outcome.state.consultations[0].followup and outcome.state.consultations[0].followup.due == date(2026, 12, 7)


def test_two_consultations_then_done(ctx: FlowContext) -> None:
    state = press(
        flow.start("visit", ctx, "kyonan"),
        ctx,
        *ONE_CONSULTATION[:8],
        "p:more",
        "p:volunteer",
        "p:donate",
        "t:kosha",
        "t:civic",
        "k",
        "p:done",
    )
    assert state.step == "summary"
    first, second = flow.to_submission(state, ctx, 1).consultations
    assert first.agencies == ("elderly",)
    assert second.agencies == ("civic", "kosha")
    assert second.topic is None


def test_editing_a_field_from_the_summary_returns_to_the_summary(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *PLAIN, "e:destination", "p:ibasho")
    assert state.step == "summary" and state.destination == "ibasho"


def test_changing_the_consulter_group_asks_its_sub_category_then_returns(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *ONE_CONSULTATION, "e:cons.0", "p:consulter")
    state = press(state, ctx, "p:volunteer")
    assert state.step == "category.0" and state.consultations[0].category is None
    state = press(state, ctx, "p:donate")
    assert state.step == "summary"


def test_a_consultation_can_be_added_and_deleted_from_the_summary(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *PLAIN, "e:add_consultation")
    assert state.step == "consulter.0" and state.has_consultations
    state = press(state, ctx, "p:council", "t:-", "p:done")
    assert state.step == "summary" and len(state.consultations) == 1
    state = press(state, ctx, "e:cons.0", "p:delete")
    assert state.step == "summary" and state.consultations == [] and state.has_consultations is False


def test_typed_text_on_the_summary_becomes_the_memo(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *PLAIN)
    outcome = type_text(state, ctx, "次回は12月の防災訓練")
    assert outcome.state.memo == "次回は12月の防災訓練" and outcome.state.step == "summary"
    assert flow.to_submission(outcome.state, ctx, 1).memo == "次回は12月の防災訓練"
    too_long = type_text(state, ctx, "x" * 501)
    assert not too_long.changed and too_long.hint and "500文字" in too_long.hint


def test_a_consultation_record_asks_the_channel_first_and_is_not_at_an_outing(ctx: FlowContext) -> None:
    state = flow.start("consult", ctx, "kyonan")
    assert state.step == "channel.0"
    state = press(state, ctx, "p:phone", "p:individual", "p:news", "t:-", "p:more")
    assert state.step == "consulter.1" and state.consultations[1].channel == "phone"
    state = press(state, ctx, "p:council", "t:-", "p:done")
    submission = flow.to_submission(state, ctx, 1)
    assert submission.outing is None
    assert [c.at_outing for c in submission.consultations] == [False, False]


def test_the_last_consultation_of_a_consultation_record_cannot_be_deleted(ctx: FlowContext) -> None:
    state = press(flow.start("consult", ctx, "kyonan"), ctx, "p:phone", "p:council", "t:-", "p:done")
    outcome = flow.apply(press(state, ctx, "e:cons.0"), ctx, action="p:delete")
    assert not outcome.changed and outcome.hint


def test_retired_categories_are_not_offered_and_cannot_be_picked() -> None:
    from importlib import resources

    from core.taxonomy import DEFAULT_TAXONOMY

    text = resources.files("core").joinpath(DEFAULT_TAXONOMY).read_text(encoding="utf-8")
    text = text.replace(
        'code = "ibasho"\nlabel = "居場所"\norder = 4\n',
        'code = "ibasho"\nlabel = "居場所"\norder = 4\nretired = true\n',
    )
    taxonomy = parse_taxonomy(text, "test")
    assert taxonomy.destination.get("ibasho") and taxonomy.destination.label("ibasho") == "居場所"
    ctx = FlowContext(taxonomy, TODAY, "west")
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing")
    assert "p:ibasho" not in buttons(state, ctx).values()
    assert not flow.apply(state, ctx, action="p:ibasho").changed


def test_forged_actions_change_nothing(ctx: FlowContext) -> None:
    state = flow.start("visit", ctx, "kyonan")
    for action in ("p:nonexistent", "t:children", "k", "e:cons.5", "z:nowhere", "p:", "", "s:x", "e:activity"):
        outcome = flow.apply(state, ctx, action=action)
        assert not outcome.changed or outcome.state.step in ("activity",), action


def test_every_callback_action_fits_in_telegrams_64_bytes(ctx: FlowContext) -> None:
    prefix = "f:2147483647:999999:"
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *ONE_CONSULTATION)
    seen = 0
    for step_state in [flow.start("visit", ctx, "kyonan"), state]:
        for action in buttons(step_state, ctx).values():
            assert len((prefix + action).encode()) <= 64
            seen += 1
    assert seen > 10


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_sequence_of_presses_and_texts_keeps_a_renderable_consistent_draft(
    ctx: FlowContext, data: st.DataObject
) -> None:
    kind: FlowKind = data.draw(st.sampled_from(["visit", "consult"]))
    state = flow.start(kind, ctx, "kyonan")
    for _ in range(data.draw(st.integers(1, 40))):
        options = list(buttons(state, ctx).values())
        if data.draw(st.booleans()) or not options:
            outcome = flow.apply(state, ctx, text=data.draw(st.text(max_size=40)))
        else:
            outcome = flow.apply(state, ctx, action=data.draw(st.sampled_from(options)))
        state = DraftState.model_validate_json(outcome.state.model_dump_json())  # survives storage
        assert state.stack
        flow.render(state, ctx)
        if state.step == "summary" and flow.missing_step(state, ctx) is None:
            submission = flow.to_submission(state, ctx, 1)
            assert (submission.outing is None) == (kind == "consult")
            assert all(c.consulter for c in submission.consultations)


def test_a_record_holds_at_most_fifteen_consultations(ctx: FlowContext) -> None:
    state = press(flow.start("consult", ctx, "kyonan"), ctx, "p:phone")
    for _ in range(flow.CONSULTATIONS_MAX - 1):
        state = press(state, ctx, "p:council", "t:-", "p:more")
    state = press(state, ctx, "p:council", "t:-")
    assert len(state.consultations) == flow.CONSULTATIONS_MAX
    assert "p:more" not in buttons(state, ctx).values()
    refused = flow.apply(state, ctx, action="p:more")
    assert not refused.changed and refused.hint and "15件まで" in refused.hint
    state = press(state, ctx, "p:done")
    assert "e:add_consultation" not in buttons(state, ctx).values()
    assert len(flow.render(state, ctx).text) < 4096
