"""The bot as a real process: SIGKILL in the middle of a flow loses no answer, and logs never hold the token."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.localapi import LocalBotApi
from bot.logs import configure_logging
from tests.harness import ADMIN_ID, BotProcess, running

pytestmark = pytest.mark.slow


async def wait_polling(api: LocalBotApi) -> None:
    await api.wait_for(lambda: api.polls_waiting > 0, timeout=60, what="the bot process polling")


async def test_sigkill_mid_flow_then_restart_resumes_with_earlier_answers(tmp_path: Path) -> None:
    async with LocalBotApi() as api:
        process = BotProcess(api, tmp_path / "fieldbot.sqlite3", tmp_path / "bot.log")
        process.start()
        try:
            await wait_polling(api)
            admin = api.user(ADMIN_ID, first_name="管理者")
            await admin.send("/visit")
            assert "地域を選んでください" in admin.last.text  # type: ignore[union-attr] - an admin has no home area
            await admin.press("本町東")
            await admin.press("活動先への出向き・参加")
            await admin.press("高齢者サロン")
            assert "参加人数" in admin.last.text  # type: ignore[union-attr]
            process.kill()

            process.start()
            await wait_polling(api)
            await admin.send("こんにちは")
            offer = admin.last
            assert offer is not None and "入力途中の📝 出向き記録があります（11/" in offer.text
            await admin.press("▶ 続きから")
            assert "参加人数" in admin.last.text  # type: ignore[union-attr]
            await admin.press("スキップ")
            await admin.press("なかった")
            card = admin.last.text  # type: ignore[union-attr]
            assert (
                "地域：本町東" in card and "活動内容：活動先への出向き・参加" in card and "支援先：高齢者サロン" in card
            )
            await admin.press("💾 保存")
            assert admin.last.text.startswith("✅ 保存しました")  # type: ignore[union-attr]
            assert process.terminate() == 0
        finally:
            if process.process and process.process.poll() is None:
                process.kill()
        log = (tmp_path / "bot.log").read_text(encoding="utf-8")
        assert api.token not in log
        assert api.token.split(":", 1)[1] not in log


async def test_no_log_line_at_any_level_contains_the_token(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    async with running(tmp_path) as h:
        # As `fieldbot run` does, at the most verbose level.
        configure_logging("DEBUG", secrets=[h.api.token])
        try:
            staff = h.api.user(ADMIN_ID, first_name="管理者")
            await staff.send("/visit")
            await staff.press("本町東")
            await staff.send("wrong")
            h.api.inject("editMessageText", status=500)
            await staff.press("相談対応")  # an error in a handler, logged with its traceback
            await h.restart()  # PTB logs the Bot API URL at DEBUG when a bot is created
        finally:
            configure_logging("WARNING", secrets=[])
    out = capfd.readouterr()
    log = out.err + out.out
    assert "Traceback" in log and " DEBUG " in log and "<redacted>" in log
    assert h.api.token not in log and h.api.token.split(":", 1)[1] not in log


def test_the_redaction_filter_removes_the_token_from_messages_and_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = "123456789:AAH-local-test-token-0123456789abcdef"
    configure_logging("DEBUG", secrets=[token])
    logger = logging.getLogger("fieldbot.test")
    logger.info("calling https://api.telegram.org/bot%s/getMe", token)
    try:
        raise RuntimeError(f"failed at https://api.telegram.org/bot{token}/sendMessage")
    except RuntimeError:
        logger.exception("boom")
    err = capsys.readouterr().err
    assert token not in err and "<redacted>" in err
