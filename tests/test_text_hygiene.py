"""Free text without invisible or control characters, clean display names, and labels that look like full names
(issue 13, finding A)."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest

from core import flow
from core.flow import DraftState, FlowContext
from core.i18n import t
from core.text import clean_name, looks_like_full_name
from tests.harness import ADMIN_ID, running

TO_FOLLOW_UP_LABEL = ("p:outing", "p:salon-elderly", "x", "p:yes", "p:council", "t:-", "p:flag")
SUGGESTED = "境南町 1123-A"  # the flow's pseudonymous suggestion for the first consultation on 11/23

# One of each kind the review named, and their neighbours: C1 controls, DEL, the BOM, the word joiner, the
# Arabic letter mark, line and paragraph separators, tag characters, and other format characters.
HIDDEN = {
    "C1 NEL": "\x85",
    "C1 CSI": "\x9b",
    "DEL": "\x7f",
    "ESC": "\x1b",
    "carriage return": "\r",
    "BOM": "\ufeff",
    "word joiner": "\u2060",
    "Arabic letter mark": "\u061c",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "tag A": "\U000e0041",
    "language tag": "\U000e0001",
    "cancel tag": "\U000e007f",
    "soft hyphen": "\u00ad",
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "lone zero-width joiner": "\u200d",
    "right-to-left override": "\u202e",
    "first strong isolate": "\u2068",
    "interlinear annotation": "\ufff9",
    "Mongolian vowel separator": "\u180e",
}
# Emoji sequences joined with U+200D (a family, a person bowing, a woman health worker, a rainbow flag).
EMOJI = ["👨\u200d👩\u200d👧", "🙇\u200d♀️", "👩🏻\u200d⚕️", "🏳️\u200d🌈"]


def press(state: DraftState, ctx: FlowContext, *actions: str) -> DraftState:
    for action in actions:
        outcome = flow.apply(state, ctx, action=action)
        assert outcome.hint is None, f"{action} at {state.step}: {outcome.hint}"
        state = outcome.state
    return state


def buttons(state: DraftState, ctx: FlowContext) -> dict[str, str]:
    return {b.label: b.action for row in flow.render(state, ctx).keyboard for b in row}


def at_label(ctx: FlowContext) -> DraftState:
    state = press(flow.start("visit", ctx, "kyonan"), ctx, *TO_FOLLOW_UP_LABEL)
    assert state.step == "fu_label.0"
    return state


# ---------------------------------------------------------------------------------------------------------
# Free text: every control and format character refused


@pytest.mark.parametrize("name", list(HIDDEN))
def test_free_text_with_a_control_or_format_character_is_refused(name: str) -> None:
    text = f"買い物{HIDDEN[name]}支援"
    assert flow.check_free_text(text, 300) == t("flow.hint.control_characters"), name
    assert flow.check_free_text(text, 300, multiline=False) == t("flow.hint.control_characters"), name


def test_every_cc_and_cf_character_but_newline_and_tab_is_refused() -> None:
    refused = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp")]
    assert len(refused) > 200
    kept = [ch for ch in refused if flow.check_free_text(f"a{ch}b", 300) is None]
    assert kept == ["\t", "\n"]


def test_multi_line_text_keeps_its_line_breaks_and_a_label_does_not() -> None:
    assert flow.check_free_text("1行目\n2行目\t続き", 300) is None
    assert flow.check_free_text("1行目\n2行目", 30, multiline=False) == t("flow.hint.control_characters")
    assert flow.check_free_text("西部\tA", 30, multiline=False) == t("flow.hint.control_characters")


@pytest.mark.parametrize("emoji", EMOJI)
def test_emoji_joined_with_a_zero_width_joiner_are_text_not_control(emoji: str) -> None:
    assert flow.check_free_text(f"元気でした{emoji}", 300) is None
    assert clean_name(f"花子{emoji}") == f"花子{emoji}"


def test_private_use_and_unassigned_characters_are_let_through() -> None:
    # Neither steers how text is shown: a private-use glyph (a phone's own symbol) and a character newer than
    # this Python's Unicode tables (a new emoji) only show as a box where they are unknown.
    unassigned = next(chr(c) for c in range(0x1FAF9, 0x1FFFF) if unicodedata.category(chr(c)) == "Cn")
    assert flow.check_free_text("マーク\ue000", 300) is None
    assert flow.check_free_text(f"新しい絵文字{unassigned}", 300) is None


def test_a_label_reason_and_memo_with_invisible_characters_get_the_hint(ctx: FlowContext) -> None:
    state = at_label(ctx)
    for text in ("西部\u2060A", "西部 A\ufeff", "西部\x9bA", "西部\U000e0041A", "西部\u200dA"):
        outcome = flow.apply(state, ctx, text=text)
        assert not outcome.changed and outcome.hint == t("flow.hint.control_characters"), repr(text)
    # A label is one line, its blanks collapsed: a C1 or Unicode line break in it becomes a blank like "\n".
    for text in ("西部\x85A", "西部\u2028A", "西部\nA"):
        assert flow.apply(state, ctx, text=text).state.consultations[0].flagged.label == "西部 A"  # type: ignore[union-attr]
    state = flow.apply(state, ctx, text="西部 A").state
    assert state.step == "fu_reason.0"
    for text in ("買い物\u2028支援", "買い物\u061c支援", "\x9b31m支援"):
        outcome = flow.apply(state, ctx, text=text)
        assert not outcome.changed and outcome.hint == t("flow.hint.control_characters"), repr(text)
    state = flow.apply(state, ctx, text="買い物支援\n月2回").state
    assert state.consultations[0].flagged is not None
    assert state.consultations[0].flagged.reason == "買い物支援\n月2回"
    state = press(state, ctx, "p:1w", "p:done")
    assert state.step == "summary"
    for text in ("次回も参加\u2029以上", "次回\x7f"):
        outcome = flow.apply(state, ctx, text=text)
        assert not outcome.changed and outcome.hint == t("flow.hint.control_characters"), repr(text)
    assert flow.apply(state, ctx, text="次回も参加\n以上").state.memo == "次回も参加\n以上"


# ---------------------------------------------------------------------------------------------------------
# Display names: cleaned, not refused


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("山田 花子", "山田 花子"),
        ("\u202e山田\u200b 花子\x85", "山田 花子"),
        ("山田\n花子", "山田 花子"),
        ("  山田\u3000\u3000花子  ", "山田 花子"),
        ("Suzuki\u2028Ichiro\U000e0041", "Suzuki Ichiro"),
        ("\x1b[31m赤\x9b0m", "[31m赤0m"),
        ("\ufeff\u2060\u061c", ""),
        ("", ""),
    ],
)
def test_a_display_name_loses_invisible_characters_and_extra_blanks(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


# ---------------------------------------------------------------------------------------------------------
# Labels that look like a full name


@pytest.mark.parametrize(
    "label",
    [
        "山田花子",
        "山田 花子",
        "佐々木よしこ",
        "田中ハナ",
        "斎藤一",
        "渡辺 美由紀",
        "林太郎",
        "田中さん",
        "鈴木様",
        "高橋くん",
        "伊藤君",
        "中村ちゃん",
        "加藤氏",
        "境南町の山口さん",
    ],
)
def test_a_label_that_looks_like_a_full_name_is_noticed(label: str) -> None:
    assert looks_like_full_name(label)


@pytest.mark.parametrize(
    "label",
    [SUGGESTED, "境南町 80代女性 A", "西部 A", "山田", "80代女性", "ひとり暮らしの方", "A", "", "山田花子の妹の友人"],
)
def test_a_pseudonymous_label_is_not_taken_for_a_name(label: str) -> None:
    assert not looks_like_full_name(label)


def test_a_name_like_label_gets_a_warning_and_the_suggestion_never_a_silent_save(ctx: FlowContext) -> None:
    state = at_label(ctx)
    outcome = flow.apply(state, ctx, text="山田花子")
    assert outcome.hint is None and outcome.changed
    state = outcome.state
    followup = state.consultations[0].flagged
    assert followup is not None and followup.label is None and state.step == "fu_label.0"
    screen = flow.render(state, ctx)
    assert t("flow.followup.name_warning", suggestion=SUGGESTED) in screen.text
    assert "山田花子" not in screen.text  # the name typed is not echoed back into the chat
    assert screen.accepts_text and screen.personal_text
    choices = buttons(state, ctx)
    assert choices[f"「{SUGGESTED}」にする"] == "p:suggested"
    assert choices["このまま使う"] == "p:keep"
    assert "◀ 戻る" in choices

    suggested = press(state, ctx, "p:suggested")
    assert suggested.consultations[0].flagged.label == SUGGESTED  # type: ignore[union-attr]
    assert suggested.step == "fu_reason.0" and suggested.pending is None

    kept = press(state, ctx, "p:keep")
    assert kept.consultations[0].flagged.label == "山田花子"  # type: ignore[union-attr]
    assert kept.step == "fu_reason.0" and kept.pending is None

    retyped = flow.apply(state, ctx, text="境南町 80代女性 B").state
    assert retyped.consultations[0].flagged.label == "境南町 80代女性 B"  # type: ignore[union-attr]
    assert retyped.step == "fu_reason.0"

    back = press(state, ctx, buttons(state, ctx)["◀ 戻る"])
    assert back.step == "fu_label.0" and back.pending is None
    assert t("flow.ask.followup_label", limit=flow.LABEL_MAX) in flow.render(back, ctx).text
    assert not flow.apply(back, ctx, action="p:keep").changed  # nothing typed to keep


def test_a_name_like_label_changed_from_the_follow_up_menu_also_asks(ctx: FlowContext) -> None:
    state = press(at_label(ctx), ctx, "p:suggested", "x", "p:1w", "p:done")
    state = press(state, ctx, "e:cons.0", "p:fu_edit", "p:label")
    state = flow.apply(state, ctx, text="鈴木 一郎さん").state
    assert state.step == "fu_label.0" and "このまま使う" in buttons(state, ctx)
    state = press(state, ctx, "p:keep")
    assert state.step == "fu_edit.0"
    assert state.consultations[0].flagged.label == "鈴木 一郎さん"  # type: ignore[union-attr]


def test_a_draft_waiting_for_the_answer_reads_back_the_same_and_an_older_one_loads(ctx: FlowContext) -> None:
    state = flow.apply(at_label(ctx), ctx, text="山田花子").state
    assert DraftState.model_validate_json(state.model_dump_json()) == state
    older = DraftState.model_validate_json(
        '{"kind":"visit","date":"2026-11-23","area":"kyonan","stack":["activity"],"memo":null}'
    )
    assert older.pending is None and older.date == date(2026, 11, 23)


# ---------------------------------------------------------------------------------------------------------
# End to end


async def test_a_name_like_label_typed_in_the_chat_is_questioned_and_the_suggestion_taken(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(5101)
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
        ):
            await staff.press(label)
        await staff.send("山田花子")
        text = staff.last.text  # type: ignore[union-attr]
        assert "フルネームのように見えます" in text and SUGGESTED in text
        assert "理由" not in text  # still at the label: nothing was saved silently
        await staff.press(f"「{SUGGESTED}」にする")
        assert "フォローの理由" in staff.last.text  # type: ignore[union-attr]
        await staff.press("スキップ")
        await staff.press("1週間")
        await staff.press("✅ 相談入力を終える")
        await staff.press("💾 保存")
        row = await h.store.db.fetchone("SELECT label FROM followups")
        assert row is not None and row[0] == SUGGESTED


async def test_a_telegram_name_with_bidi_and_invisible_characters_is_stored_and_listed_clean(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        await admin.send("/invite")
        await admin.press("職員")
        await admin.press("西部圏域")
        code = admin.last.text.rsplit("start=", 1)[1].strip()  # type: ignore[union-attr]
        newcomer = h.api.user(5102, first_name="花子\u202e\u2060", last_name="\ufeff山田\x85")
        await newcomer.send(f"/start {code}")
        assert "ようこそ、山田 花子さん" in newcomer.messages[0].text
        stored = await h.store.staff.by_telegram_id(5102)
        assert stored is not None and stored.name == "山田 花子"

        # a name stored before names were cleaned is shown clean in /staff
        await h.register(5103)
        async with h.store.db.transaction() as tx:
            await tx.execute("UPDATE staff SET name = ? WHERE telegram_id = 5103", ("\u202e佐藤\u200b 一郎\x9b",))
        h.store.staff.cache.clear()
        await admin.send("/staff")
        shown = admin.last
        assert shown is not None
        assert "・山田 花子（職員）" in shown.text and "・佐藤 一郎（職員）" in shown.text
        everything = shown.text.replace("\n", "") + "".join(label for row in shown.buttons for label in row)
        assert "停止：佐藤 一郎" in everything
        assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in everything)


async def test_a_telegram_name_of_only_invisible_characters_falls_back_to_the_username(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        await admin.send("/invite")
        await admin.press("職員")
        await admin.press("西部圏域")
        code = admin.last.text.rsplit("start=", 1)[1].strip()  # type: ignore[union-attr]
        newcomer = h.api.user(5104, first_name="\u200b\u202e", username="hanako_y")
        await newcomer.send(f"/start {code}")
        stored = await h.store.staff.by_telegram_id(5104)
        assert stored is not None and stored.name == "hanako_y"
