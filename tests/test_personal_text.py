"""Personal text stays where it belongs: sealed in the database, never in a log line at any level, and not left in
the chat once saved (the cards say that there is a reason or a memo, never what it says)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.logs import configure_logging
from core.i18n import t
from tests.harness import ADMIN_ID, Harness, running

STAFF = 4101
LABEL = "LABEL-4417 境南町 80代"
REASON = "REASON-unique-8803 視覚障害で買い物支援"
MEMO = "MEMO-unique-2290 次回は防災訓練"
NOTE = "NOTE-unique-6612 ヘルパー調整済み"


async def outing_with_follow_up(h: Harness) -> None:
    staff = h.api.user(STAFF)
    await staff.send("/visit")
    for button in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "あった", "ニーズを抱えている個人の相談"):
        await staff.press(button)
    for button in ("福祉サービス、相談機関の紹介", "なし（つないでいない）", "🚩 要フォローあり"):
        await staff.press(button)
    await staff.send(LABEL)
    await staff.send(REASON)
    await staff.press("1週間")
    await staff.press("✅ 相談入力を終える")
    await staff.send(MEMO)
    await staff.press("💾 保存")


async def add_note(h: Harness) -> None:
    staff = h.api.user(STAFF)
    await staff.send("/followups")
    await staff.press(LABEL)
    await staff.press(t("followup.button.note"))
    await staff.send(NOTE)


async def test_no_log_line_at_debug_holds_a_reason_note_memo_or_invite_code(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    async with running(tmp_path) as h:
        configure_logging("DEBUG", secrets=[h.api.token])  # as `fieldbot run` does with LOG_LEVEL=DEBUG
        caplog.set_level(logging.DEBUG)
        try:
            admin = h.api.user(ADMIN_ID, first_name="管理者")
            await admin.send("/invite")
            await admin.press("職員")
            await admin.press("西部圏域")
            assert admin.last is not None
            code = admin.last.text.rsplit("start=", 1)[1].split()[0]
            await h.api.user(STAFF, first_name="花子").send(f"/start {code}")
            await h.api.user(STAFF).press("境南町")
            await outing_with_follow_up(h)
            await add_note(h)
        finally:
            configure_logging("WARNING")
        logged = caplog.text + capfd.readouterr().err
        assert "Calling Bot API endpoint" in logged  # DEBUG was on, and the library logged its calls
        for secret in (REASON, MEMO, NOTE, code, LABEL):
            assert secret not in logged, secret


async def test_saved_cards_say_there_is_a_reason_and_a_memo_and_the_typed_copies_are_gone(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        await h.register(STAFF)
        await outing_with_follow_up(h)
        await add_note(h)
        history = h.api.chat(STAFF).history
        shown = "\n".join(m.text for m in history if not m.deleted)
        for secret in (REASON, MEMO, NOTE, LABEL):
            assert secret not in "\n".join(m.text for m in history if not m.from_bot and not m.deleted), secret
        for secret in (REASON, MEMO, NOTE):
            assert secret not in shown, secret
        assert "理由：あり" in shown and "メモ：あり" in shown
        assert t("flow.personal.removed") in shown and t("followup.note_saved") in shown
