"""The flow's questions as steps: the registry, explicit answers (and drafts saved before them), personal text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core import flow
from core.flow import SKIPPED, DraftState, FlowContext, FollowUpAnswer, Skipped, Ticking
from core.flow.navigation import CONSULTATION_QUESTIONS, OUTING_QUESTIONS
from core.flow.step import STEPS, Step, lookup, register

# Drafts as the version with `*_done` flags stored them (its `model_dump_json()`, copied verbatim).
# An outing at the follow-up due date: headcount and topic skipped, agencies confirmed, the reason skipped.
OLD_VISIT = (
    '{"kind":"visit","date":"2026-11-23","area":"kyonan","browse_zone":null,"activity":"outing",'
    '"destination":"salon-elderly","headcount":null,"headcount_done":true,"has_consultations":true,'
    '"consultations":[{"channel":null,"consulter":"individual","category":"services","topic":null,'
    '"topic_done":true,"agencies":["elderly"],"agencies_done":true,"followup":{"label":"境南町 1123-A",'
    '"reason":null,"reason_done":true,"due":null},"followup_done":true,"more":null}],"memo":null,'
    '"stack":["activity","destination","headcount","has_consult","consulter.0","category.0","topic.0",'
    '"agencies.0","next.0","fu_label.0","fu_reason.0","fu_due.0"]}'
)
OLD_VISIT_PRESSES = (
    "p:outing",
    "p:salon-elderly",
    "x",
    "p:yes",
    "p:individual",
    "p:services",
    "t:elderly",
    "k",
    "p:flag",
    "p:suggested",
    "x",
)
# A consultation record: the first consultation ended without agencies or follow-up, the second is at its
# agencies with two ticked and not yet confirmed.
OLD_CONSULT = (
    '{"kind":"consult","date":"2026-11-23","area":"kyonan","browse_zone":null,"activity":null,'
    '"destination":null,"headcount":null,"headcount_done":false,"has_consultations":true,'
    '"consultations":[{"channel":"phone","consulter":"council","category":null,"topic":null,"topic_done":true,'
    '"agencies":[],"agencies_done":true,"followup":null,"followup_done":true,"more":true},{"channel":"phone",'
    '"consulter":"individual","category":"services","topic":"case","topic_done":true,'
    '"agencies":["children","health"],"agencies_done":false,"followup":null,"followup_done":false,"more":null}],'
    '"memo":null,"stack":["channel.0","consulter.0","topic.0","agencies.0","next.0","consulter.1","category.1",'
    '"topic.1","agencies.1"]}'
)
OLD_CONSULT_PRESSES = (
    "p:phone",
    "p:council",
    "t:-",
    "p:more",
    "p:individual",
    "p:services",
    "t:health",
    "t:children",
)


PLAIN_TO_CONSULT = ("p:outing", "p:salon-elderly", "x", "p:yes")
TO_FOLLOW_UP = (*PLAIN_TO_CONSULT, "p:council", "t:-", "p:flag")


def press(state: DraftState, ctx: FlowContext, *actions: str) -> DraftState:
    for action in actions:
        outcome = flow.apply(state, ctx, action=action)
        assert outcome.hint is None, f"{action} at {state.step}: {outcome.hint}"
        state = outcome.state
    return state


def same_answers(old: DraftState, new: DraftState) -> bool:
    """An old draft and one answered today alike: the same answers and the same step on screen. The topic was
    then asked (optionally) of every group, so the old one has a topic, and its step in the stack, where a
    draft of today has neither (see ../shared/DOMAIN.md: only consultations from an agency have a topic)."""
    without: Any = {"stack": True, "consultations": {"__all__": {"topic"}}}
    return old.step == new.step and old.model_dump(exclude=without) == new.model_dump(exclude=without)


def actions(screen: flow.Screen) -> list[list[str]]:
    return [[b.action for b in row] for row in screen.keyboard]


# ---------------------------------------------------------------------------------------------------------
# Drafts saved before the answer types


def test_an_old_outing_draft_resumes_at_the_same_step_with_the_same_answers(ctx: FlowContext) -> None:
    state = DraftState.model_validate_json(OLD_VISIT)
    assert state.step == "fu_due.0" and flow.missing_step(state, ctx) == "fu_due.0"
    assert state.headcount == SKIPPED
    c = state.consultations[0]
    assert (c.topic, c.agencies, c.agency_answer) == (SKIPPED, ["elderly"], ["elderly"])
    assert c.followup == FollowUpAnswer(label="境南町 1123-A", reason=SKIPPED)
    assert same_answers(state, press(flow.start("visit", ctx, "kyonan"), ctx, *OLD_VISIT_PRESSES))
    screen = flow.render(state, ctx)
    assert screen.text.endswith("【相談 1件目】\n次に対応する期日は？（日付を送信しても選べます：例 12/7）")
    assert actions(screen) == [["p:1w", "p:2w", "p:1m", "p:date"], ["b"]]
    assert "参加人数：（未記入）" in flow.render_summary_text(state, ctx)

    state = press(state, ctx, "p:2w", "p:done")
    assert state.step == "summary" and flow.missing_step(state, ctx) is None
    submission = flow.to_submission(state, ctx, 1)
    assert submission.outing is not None and submission.outing.headcount is None
    (consultation,) = submission.consultations
    assert (consultation.topic, consultation.agencies) == (None, ("elderly",))
    assert consultation.followup is not None
    assert (consultation.followup.label, consultation.followup.reason) == ("境南町 1123-A", None)


def test_an_old_consultation_draft_keeps_its_unconfirmed_ticks(ctx: FlowContext) -> None:
    state = DraftState.model_validate_json(OLD_CONSULT)
    assert state.step == "agencies.1" and flow.missing_step(state, ctx) == "agencies.1"
    first, second = state.consultations
    assert (first.agency_answer, first.followup, first.more) == ([], SKIPPED, True)
    assert second.agency_answer == Ticking(ticked=["children", "health"]) and second.followup is None
    assert same_answers(state, press(flow.start("consult", ctx, "kyonan"), ctx, *OLD_CONSULT_PRESSES))
    labels = [b.label for row in flow.render(state, ctx).keyboard for b in row]
    assert "✅ 子ども政策課" in labels and "決定（2件）" in labels

    state = press(state, ctx, "k")
    assert state.step == "next.1" and state.consultations[1].agency_answer == ["children", "health"]


def test_a_draft_is_stored_without_done_flags_and_reads_back_the_same(ctx: FlowContext) -> None:
    state = DraftState.model_validate_json(OLD_VISIT)
    stored = state.model_dump_json()
    assert "_done" not in stored
    assert json.loads(stored)["headcount"] == {"skipped": True}
    assert DraftState.model_validate_json(stored) == state
    again = DraftState.model_validate_json(OLD_CONSULT)
    assert DraftState.model_validate_json(again.model_dump_json()) == again


# ---------------------------------------------------------------------------------------------------------
# Answers: "not yet" and "nothing" are two values of one field


def test_not_answered_and_skipped_are_different_answers(ctx: FlowContext) -> None:
    at_headcount = press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing", "p:salon-elderly")
    assert at_headcount.headcount is None and flow.missing_step(at_headcount, ctx) == "headcount"
    skipped = press(at_headcount, ctx, "x")
    assert isinstance(skipped.headcount, Skipped) and not skipped.headcount
    assert skipped.step == "has_consult" and flow.missing_step(skipped, ctx) == "has_consult"
    zero = flow.apply(at_headcount, ctx, text="0").state
    assert zero.headcount == 0 and zero.step == "has_consult"


def test_skipped_reads_back_only_from_its_own_json() -> None:
    assert FollowUpAnswer.model_validate({"reason": {"skipped": True}}).reason == SKIPPED
    assert FollowUpAnswer.model_validate({"reason": "skipped"}).reason == "skipped"  # typed text stays text
    follow = DraftState.model_validate(
        {"kind": "visit", "date": "2026-11-23", "area": "kyonan", "consultations": [{"followup": {}}]}
    )
    assert follow.consultations[0].followup == FollowUpAnswer()  # an empty follow-up is no skip
    with pytest.raises(ValueError):
        Skipped.model_validate({"skipped": True, "label": "x"})


def test_no_follow_up_is_an_answer_and_flagging_one_opens_its_questions(ctx: FlowContext) -> None:
    at_next = press(flow.start("visit", ctx, "kyonan"), ctx, *TO_FOLLOW_UP[:-1])
    assert at_next.consultations[0].followup is None and at_next.step == "next.0"
    none = press(at_next, ctx, "p:done")
    assert none.consultations[0].followup == SKIPPED and none.step == "summary"
    flagged = press(at_next, ctx, "p:flag")
    assert flagged.consultations[0].flagged == FollowUpAnswer() and flagged.step == "fu_label.0"


# ---------------------------------------------------------------------------------------------------------
# Personal free text


@pytest.mark.parametrize(
    ("presses", "step", "personal"),
    [
        ((), "activity", False),
        (("p:outing", "p:salon-elderly"), "headcount", False),
        (("e:date",), "date", False),
        (TO_FOLLOW_UP, "fu_label.0", True),
        ((*TO_FOLLOW_UP, "p:suggested"), "fu_reason.0", True),
        ((*TO_FOLLOW_UP, "p:suggested", "x"), "fu_due.0", False),
        ((*TO_FOLLOW_UP, "p:suggested", "x", "p:date"), "fu_date.0", False),
        (("p:outing", "p:salon-elderly", "x", "p:no"), "summary", True),
    ],
)
def test_the_screens_where_typed_text_is_personal_say_so(
    ctx: FlowContext, presses: tuple[str, ...], step: str, personal: bool
) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *presses)
    assert state.step == step
    screen = flow.render(state, ctx, hint="x")
    assert screen.personal_text is personal
    assert screen.accepts_text or not personal  # personal text is text typed on the screen


# ---------------------------------------------------------------------------------------------------------
# The registry


def test_every_question_in_the_sequence_is_a_registered_step() -> None:
    names = [*OUTING_QUESTIONS, *CONSULTATION_QUESTIONS]
    assert len(set(names)) == len(names)
    assert set(names) <= set(STEPS)
    side = set(STEPS) - set(names)
    assert side == {"summary", "date", "area", "fu_date", "fu_edit", "cons_menu", "place_search"}
    assert all(STEPS[name].name == name for name in STEPS)


def test_a_step_id_names_its_step_and_consultation() -> None:
    step, i = lookup("consulter.3")
    assert (step.name, i) == ("consulter", 3)
    assert lookup("summary")[1] == -1
    with pytest.raises(ValueError):
        lookup("nonexistent.0")


def test_a_step_name_is_registered_once() -> None:
    with pytest.raises(ValueError):

        @register
        class Again(Step):
            name = "activity"


def test_a_step_that_takes_no_text_hints_at_the_buttons(ctx: FlowContext) -> None:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, "p:outing")
    outcome = flow.apply(state, ctx, text="サロン")
    assert not outcome.changed and outcome.hint == "ボタンで選んでください。"


# ---------------------------------------------------------------------------------------------------------
# Screens left on the stack by a change from the summary card


def test_back_after_deleting_a_consultation_reaches_no_screen_of_it(ctx: FlowContext) -> None:
    one = ("p:council", "t:-")
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *PLAIN_TO_CONSULT, *one, "p:more", *one, "p:done")
    assert len(state.consultations) == 2
    state = press(state, ctx, "e:cons.1", "p:delete")
    assert state.step == "summary" and len(state.consultations) == 1
    assert all(not s.endswith(".1") for s in state.stack)
    state = press(state, ctx, "b")
    assert state.step == "next.0"
    flow.render(state, ctx)
    assert press(state, ctx, "p:done").step == "summary"


def test_deleting_the_first_of_two_consultations_leaves_the_summary_on_top(ctx: FlowContext) -> None:
    one = ("p:council", "t:-")
    state = press(flow.start("consult", ctx, "kyonan"), ctx, "p:phone", *one, "p:more", *one, "p:done")
    state = press(state, ctx, "e:cons.0", "p:delete")
    assert state.stack == ["summary"] and len(state.consultations) == 1
    assert not flow.apply(state, ctx, action="b").changed


def test_a_follow_up_question_left_on_the_stack_after_the_follow_up_is_removed_takes_no_text(
    ctx: FlowContext,
) -> None:
    flagged = ("p:council", "t:-", "p:flag", "p:suggested", "x", "p:1w", "p:done")
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *PLAIN_TO_CONSULT, *flagged)
    state = press(state, ctx, "e:cons.0", "p:fu_edit", "p:remove", "b")
    assert state.step == "summary" and state.consultations[0].followup == SKIPPED
    state = press(state, ctx, "b", "b", "b")
    assert state.step == "fu_reason.0"
    for text in ("買い物支援", "12/7"):
        outcome = flow.apply(state, ctx, text=text)
        assert not outcome.changed and outcome.hint == "ボタンで選んでください。"


def test_none_after_choosing_agencies_says_which_it_dropped(ctx: FlowContext) -> None:
    state = flow.start("visit", ctx, "kyonan")
    for action in ("p:outing", "p:salon-elderly", "x", "p:yes", "p:individual", "p:services", "t:children"):
        state = flow.apply(state, ctx, action=action).state
    outcome = flow.apply(state, ctx, action="t:-")
    assert outcome.state.consultations[0].agencies == [] and outcome.state.step == "next.0"
    assert outcome.notes and "子ども政策課" in outcome.notes[0]
    assert not flow.apply(outcome.state, ctx, action="b").notes  # nothing was dropped this time
