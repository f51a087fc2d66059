"""The bot as a real process: SIGKILL in the middle of a flow loses no answer, and logs never hold the token."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from bot.logs import configure_logging
from core.models import Role
from simulator.botapi import LocalBotApi, SimMessage
from tests.conftest import TEST_KEY
from tests.harness import ADMIN_ID, BotProcess, integrity, prepare_database, running

pytestmark = pytest.mark.slow


def saved_card_shown(card: SimMessage) -> bool:
    return card.text.startswith("✅ 保存しました")


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
            assert "地域を選んでください" in admin.last.text  # type: ignore[union-attr]  # an admin has no home area
            await admin.press("本町東")
            await admin.press("活動先への出向き・参加")
            await admin.press("高齢者サロン")
            assert "参加人数" in admin.last.text  # type: ignore[union-attr]
            process.kill()

            process.start()
            await wait_polling(api)
            await admin.send("こんにちは")
            offer = admin.last
            assert offer is not None and "入力途中の📝 出向き記録があります（" in offer.text
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
            assert await process.terminate() == 0
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


STAFF = 2001


async def start_and_wait(process: BotProcess, api: LocalBotApi, **extra: str) -> None:
    process.start(**extra)
    await wait_polling(api)


async def test_killed_between_an_answer_and_its_reply_the_answer_is_kept(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    await prepare_database(database, (STAFF, Role.STAFF, "west", "kyonan"))
    async with LocalBotApi() as api:
        process = BotProcess(api, database, tmp_path / "bot.log")
        await start_and_wait(process, api)
        staff = api.user(STAFF)
        await staff.send("/visit")
        await process.terminate()
        await start_and_wait(process, api, FIELDBOT_CRASH_AT="answer.committed")
        await staff.send("こんにちは")  # after a restart: offered to resume
        await staff.press("▶ 続きから")
        await staff.press("相談対応", wait=False)  # committed, then killed before the reply
        assert await process.exited() == -9
        assert integrity(database) == "ok"
        await start_and_wait(process, api)
        await staff.send("続き")
        await staff.press("▶ 続きから")
        assert "どこへ出向きましたか" in staff.last.text  # type: ignore[union-attr]  # the answer was kept
        for label in ("居場所", "スキップ", "なかった", "💾 保存"):
            await staff.press(label)
        await process.terminate()
    assert await count(database, "SELECT activity FROM outings") == [("consult",)]


async def test_killed_during_save_the_record_exists_once_or_not_at_all(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    await prepare_database(database, (STAFF, Role.STAFF, "west", "kyonan"))
    async with LocalBotApi() as api:
        process = BotProcess(api, database, tmp_path / "bot.log")
        for point, saved in (("save.before_commit", 0), ("save.committed", 1)):
            before = len(await count(database, "SELECT id FROM outings"))
            await start_and_wait(process, api, FIELDBOT_CRASH_AT=point)
            staff = api.user(STAFF)
            await staff.send("/visit")
            if staff.last and "入力途中" in staff.last.text:
                await staff.press("🗑 破棄して新しく始める")
            for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった"):
                await staff.press(label)
            save_card = staff.last
            assert save_card is not None and "入力内容の確認" in save_card.text, [m.text[:30] for m in staff.messages]
            await staff.press("💾 保存", wait=False)
            assert await process.exited() == -9
            assert integrity(database) == "ok"
            assert len(await count(database, "SELECT id FROM outings")) == before + saved
            await start_and_wait(process, api)
            if saved == 0:
                # The press was fetched but not confirmed: Telegram delivers it again and it is saved now.
                await api.wait_for(partial(saved_card_shown, save_card), timeout=30)
            else:
                # Saved, but the reply was lost: pressing again says so, and offers the undo it never showed.
                assert await staff.press("💾 保存", message_id=save_card.message_id) == "この記録は保存済みです。"
                assert save_card.buttons == [["↩ 取り消す（10分以内）"]]
            assert len(await count(database, "SELECT id FROM outings")) == len(
                await count(database, "SELECT 1 FROM submissions")
            )
            await process.terminate()
        assert len(await count(database, "SELECT id FROM outings")) == 2


async def test_killed_while_a_digest_is_being_sent_each_part_arrives_once(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    supervisors = [3001, 3002, 3003]
    await prepare_database(database, *((s, Role.SUPERVISOR, "west", "kyonan") for s in supervisors))
    async with LocalBotApi() as api:
        process = BotProcess(api, database, tmp_path / "bot.log", DIGEST_SCHEDULE="mon 00:00")
        users = [api.user(s) for s in supervisors]
        await start_and_wait(process, api, DIGEST_SCHEDULE="off")
        for user in users:
            await user.send("/help")  # the chats exist: Telegram only delivers to people who started the bot
        await process.terminate()
        await start_and_wait(process, api, FIELDBOT_CRASH_AT="digest.sent")  # the first tick sends, then dies
        assert await process.exited() == -9
        assert integrity(database) == "ok"
        await start_and_wait(process, api)
        await api.wait_for(lambda: all(u.last is not None and u.last.photo is not None for u in users), timeout=60)
        await process.terminate()
        for user in users:
            digests = [m for m in user.messages if m.text.startswith("📊 週間ダイジェスト")]
            charts = [m for m in user.messages if m.photo is not None]
            assert (len(digests), len(charts)) == (1, 1), user


async def test_killed_during_an_import_nothing_is_written_and_the_rerun_imports_once(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    await prepare_database(database)
    source = tmp_path / "records.csv"
    rows = ["kind,date,staff,area,activity,destination,channel,consulter"]
    rows += [f"outing,2020-06-{1 + i % 28:02d},山田,kyonan,outing,salon-elderly,," for i in range(12_000)]
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    env = {**os.environ, "DATABASE_PATH": str(database), "FIELD_ENCRYPTION_KEY": TEST_KEY}
    killed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "import", "records", str(source)],
        env={**env, "FIELDBOT_CRASH_AT": "import.batch"},
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -9
    assert integrity(database) == "ok"
    assert await count(database, "SELECT count(*) FROM outings") == [(0,)]
    assert await count(database, "SELECT count(*) FROM imports") == [(0,)]
    rerun = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "import", "records", str(source)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stdout
    assert await count(database, "SELECT count(*) FROM outings") == [(12_000,)]


async def count(database: Path, sql: str) -> list[tuple[object, ...]]:
    import sqlite3

    def query() -> list[tuple[object, ...]]:
        with sqlite3.connect(database) as connection:
            return [tuple(r) for r in connection.execute(sql).fetchall()]

    return await asyncio.to_thread(query)
