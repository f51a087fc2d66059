"""LINE WORKS callbacks to real `fieldbot serve` and `fieldbot work` processes killed with SIGKILL: every callback
answered 200 is handled once after the restart (or by another worker), one that got no 200 was not kept, and an
answer committed before the kill is not applied again."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.lineworks.intake import event_key, inbox_bot_id
from core.accounts import lineworks_account
from core.buttons import FlowPress, decode, encode
from core.crypto import Sealer
from core.i18n import t
from core.models import Role
from simulator.botapi import LocalBotApi
from simulator.lineworks import CallbackDelivery, LineWorksSimulator
from storage.sqlite.store import Store
from tests.conftest import TEST_KEY
from tests.harness import integrity
from tests.lineworks.harness import BOT
from tests.test_serve_processes import Fieldbot, free_port, until

pytestmark = pytest.mark.slow

USER = "taro@council.example"
INBOX = inbox_bot_id(int(BOT))
LIMIT = 30.0  # seconds any one condition may take: generous, the tests pass in a few
# The outing walked in these tests: each answer's label (on its screen) and its flow action (in the button's data).
ANSWERS = (
    ("活動先への出向き・参加", "p:outing"),
    ("高齢者サロン", "p:salon-elderly"),
    ("スキップ", "x"),
    ("なかった", "p:no"),
    ("💾 保存", "s"),
)
DESTINATION_QUESTION = "どこへ出向きましたか"  # the question after the activity
QUESTIONS = ("何をしましたか", DESTINATION_QUESTION, "参加人数は", "相談はありましたか", "入力内容の確認")


class Ticking:
    """The real clock (the bot's own in its process), never the same millisecond twice: one person's events are
    kept in the order of their issuedTime (milliseconds), so a burst must not share one."""

    def __init__(self) -> None:
        self.last = 0

    def __call__(self) -> float:
        self.last = max(int(time.time() * 1000), self.last + 1)
        return (self.last + 0.5) / 1000  # mid-millisecond: rounding never moves it to the neighbour's


async def prepare(database: Path) -> None:
    """USER as a staff member on LINE WORKS, in the database before any process opens it."""
    store = await Store.open(database, Sealer.from_text(TEST_KEY))
    account = await store.lineworks_users.remember(USER, datetime.now(UTC))
    assert account == lineworks_account(USER)
    async with store.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO staff (telegram_id, name, role, zone, area, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (account, USER, Role.STAFF.value, "west", "kyonan", "2026-01-01T00:00:00.000000Z"),
        )
    await store.close()


def key(delivery: CallbackDelivery) -> int:
    """The inbox key the bot keeps this event under (bot/lineworks/intake.py)."""
    issued = datetime.fromisoformat(str(delivery.event["issuedTime"]).replace("Z", "+00:00"))
    return event_key(issued, delivery.body)


class LineWorksDeployment:
    """`fieldbot serve` and `fieldbot work` processes of one council with a LINE WORKS bot, against the Telegram
    and LINE WORKS simulators, sharing one database; each process logs to its own file."""

    def __init__(self, api: LocalBotApi, sim: LineWorksSimulator, tmp_path: Path) -> None:
        self.api = api
        self.sim = sim
        self.tmp_path = tmp_path
        self.database = tmp_path / "fieldbot.sqlite3"
        port = free_port()
        assert sim.private_key_pem is not None
        key_file = tmp_path / "lineworks.pem"
        key_file.write_bytes(sim.private_key_pem)
        key_file.chmod(0o600)
        sim.callback_url = f"http://127.0.0.1:{port}/lineworks/{BOT}"
        self.env = {
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SERVE_PORT": str(port),
            **sim.bot_settings(key_file),
            "LINEWORKS_PER_MINUTE": "10000",
        }
        self.processes: list[Fieldbot] = []

    def _process(self, name: str, command: list[str], env: dict[str, str]) -> Fieldbot:
        process = Fieldbot(self.api, self.database, self.tmp_path / f"{name}.log", command, **{**self.env, **env})
        self.processes.append(process)
        process.start()
        return process

    async def serve(self, name: str, workers: str = "2", **env: str) -> Fieldbot:
        process = self._process(name, ["serve", "--workers", workers], env)
        await process.until_logged("webhook set", LIMIT)
        return process

    async def work(self, name: str, **env: str) -> Fieldbot:
        process = self._process(name, ["work", "--workers", "1"], env)
        await process.until_logged("worker ", LIMIT)
        return process

    def kill_all(self) -> None:
        for process in self.processes:
            process.kill()

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database) as connection:
            return [tuple(r) for r in connection.execute(sql, params)]

    def kept(self, delivery: CallbackDelivery) -> bool:
        return self.rows("SELECT 1 FROM inbox WHERE bot_id = ? AND update_id = ?", INBOX, key(delivery)) != []

    def processed(self, delivery: CallbackDelivery) -> bool:
        sql = "SELECT 1 FROM processed_updates WHERE bot_id = ? AND update_id = ?"
        return self.rows(sql, INBOX, key(delivery)) != []

    def attempts(self, delivery: CallbackDelivery) -> int:
        found = self.rows("SELECT attempts FROM inbox WHERE bot_id = ? AND update_id = ?", INBOX, key(delivery))
        assert len(found) == 1
        return int(found[0][0])

    def settled(self) -> bool:
        """Every LINE WORKS event kept is handled and claimed by no one."""
        sql = "SELECT count(*) FROM inbox WHERE bot_id = ? AND (handled_at IS NULL OR claimed_by IS NOT NULL)"
        return self.rows(sql, INBOX) == [(0,)]

    async def handled(self, delivery: CallbackDelivery) -> None:
        """Until the event, answered 200, is handled (its replies are sent before it is marked so)."""
        assert delivery.status == 200, delivery.error or delivery.status
        sql = "SELECT 1 FROM inbox WHERE bot_id = ? AND update_id = ? AND handled_at IS NOT NULL AND claimed_by IS NULL"
        await until(lambda: self.rows(sql, INBOX, key(delivery)) != [], "the event handled", LIMIT)

    def version(self) -> int:
        found = self.rows("SELECT version FROM drafts")
        assert len(found) == 1, found
        return int(found[0][0])

    def texts(self) -> list[str]:
        return [str(content.get("text", "")) for content in self.sim.messages(USER)]

    def labels(self) -> list[str]:
        last = self.sim.messages(USER)[-1]
        return [item["action"]["label"] for item in last.get("quickReply", {}).get("items", [])]

    def first_press(self) -> FlowPress:
        """The draft and version the latest question's buttons carry (its first answer's button)."""
        items = self.sim.messages(USER)[-1]["quickReply"]["items"]
        data = next(i["action"]["data"] for i in items if i["action"]["label"] == ANSWERS[0][0])
        pressed = decode(data)
        assert isinstance(pressed, FlowPress) and pressed.action == ANSWERS[0][1], data
        return pressed

    def secrets_not_logged(self) -> None:
        log = "".join(p.text() for p in self.processes)
        assert self.sim.bot_secret not in log and self.sim.client_secret not in log
        assert not any(token in log for token in self.sim.tokens)

    def saved_once(self) -> None:
        assert integrity(self.database) == "ok"
        assert self.rows("SELECT activity, destination, headcount FROM outings") == [("outing", "salon-elderly", None)]
        assert self.rows("SELECT count(*) FROM submissions") == [(1,)]
        assert self.rows("SELECT count(*) FROM drafts") == [(0,)]
        assert len([text for text in self.texts() if "✅ 保存しました" in text]) == 1
        assert self.settled()
        kept = self.rows("SELECT update_id FROM inbox WHERE bot_id = ?", INBOX)
        assert self.rows("SELECT update_id FROM processed_updates WHERE bot_id = ?", INBOX) == kept


async def test_serve_killed_while_callbacks_come_in_handles_each_one_answered_200_once(tmp_path: Path) -> None:
    await prepare(tmp_path / "fieldbot.sqlite3")
    async with LocalBotApi() as api, LineWorksSimulator(bot_id=BOT, per_minute=100_000, clock=Ticking()) as sim:
        lw = LineWorksDeployment(api, sim, tmp_path)
        try:
            serve = await lw.serve("serve")
            await lw.handled(await sim.send_text(USER, "/visit"))
            first = lw.first_press()
            # The person presses through the outing as fast as the questions come: each press is the button the
            # next question carries (the draft's next version), posted without waiting for the answer.
            presses = [encode(FlowPress(first.draft, first.version + i, a)) for i, (_, a) in enumerate(ANSWERS)]
            burst = [await sim.send_postback(USER, presses[0]), await sim.send_postback(USER, presses[1])]
            assert [d.status for d in burst] == [200, 200]
            in_flight = asyncio.create_task(sim.send_postback(USER, presses[2]))
            await asyncio.sleep(0)  # its POST under way (answered or not, kept or not: both are checked)
            serve.kill()  # SIGKILL, while the workers inside may be handling the first two
            burst.append(await in_flight)
            refused = await sim.send_postback(USER, presses[3])  # nobody listens
            assert refused.status is None and not lw.kept(refused)
            assert all(lw.kept(d) for d in burst if d.status == 200)  # committed before their 200

            await lw.serve("serve-again")
            await until(lw.settled, "the events kept before the kill handled", LIMIT)
            kept = [d for d in burst if lw.kept(d)]
            assert len(kept) >= 2 and burst[: len(kept)] == kept
            # Each kept press applied once, in order; none handled again (that would say 期限切れ or show a
            # question again), the one refused not at all.
            applied = lw.version() - first.version
            assert applied == len(kept)
            assert not any(t("common.expired") in text or t("flow.hint.not_delivered") in text for text in lw.texts())
            for question in QUESTIONS:
                assert len([text for text in lw.texts() if question in text]) <= 1, question

            # The presses that got no answer are pressed again, and the outing is saved.
            for data in presses[applied:]:
                await lw.handled(await sim.send_postback(USER, data))
            assert await lw.processes[-1].terminate() == 0
        finally:
            lw.kill_all()
        lw.saved_once()
        assert lw.rows("SELECT max(attempts) FROM inbox WHERE bot_id = ?", INBOX)[0][0] <= 2
        lw.secrets_not_logged()


async def test_a_kill_after_an_answer_committed_applies_it_once_and_the_next_press_gets_the_current_question(
    tmp_path: Path,
) -> None:
    await prepare(tmp_path / "fieldbot.sqlite3")
    async with LocalBotApi() as api, LineWorksSimulator(bot_id=BOT, per_minute=100_000, clock=Ticking()) as sim:
        lw = LineWorksDeployment(api, sim, tmp_path)
        try:
            # serve dies (SIGKILL, by itself) once an answer's unit of work has committed, before it replies.
            serve = await lw.serve("serve", workers="1", FIELDBOT_CRASH_AT="answer.committed")
            await lw.handled(await sim.send_text(USER, "/visit"))
            before = lw.version()
            shown = len(sim.messages(USER))
            pressed = await sim.press(USER, ANSWERS[0][0])
            assert pressed.status == 200
            assert await serve.exited(LIMIT) == -signal.SIGKILL
            assert lw.version() == before + 1
            assert lw.processed(pressed)  # recorded in the answer's unit of work
            assert not lw.settled()  # still claimed by the dead worker

            await lw.serve("serve-again", workers="1")
            await until(lw.settled, "the dead worker's event marked handled", LIMIT)
            assert lw.attempts(pressed) == 1  # its unit of work had committed: not taken again
            assert lw.version() == before + 1
            assert len(sim.messages(USER)) == shown  # its reply was lost with the process, and not made again

            # No next question came, so the person presses again: nothing changes, the current question comes.
            await lw.handled(await sim.press(USER, ANSWERS[0][0]))
            assert lw.version() == before + 1
            assert DESTINATION_QUESTION in lw.texts()[-1]
            assert ANSWERS[1][0] in lw.labels()
            for label, _ in ANSWERS[1:]:
                await lw.handled(await sim.press(USER, label))
            assert await lw.processes[-1].terminate() == 0
        finally:
            lw.kill_all()
        lw.saved_once()
        lw.secrets_not_logged()


async def test_a_worker_killed_holding_a_lineworks_event_is_taken_over_and_the_event_handled_once(
    tmp_path: Path,
) -> None:
    await prepare(tmp_path / "fieldbot.sqlite3")
    async with LocalBotApi() as api, LineWorksSimulator(bot_id=BOT, per_minute=100_000, clock=Ticking()) as sim:
        lw = LineWorksDeployment(api, sim, tmp_path)
        try:
            serve = await lw.serve("serve", workers="0")
            # Worker a dies (SIGKILL, by itself) inside the save's transaction, before it commits.
            a = await lw.work("a", FIELDBOT_CRASH_AT="save.before_commit")
            b = await lw.work("b")
            await lw.handled(await sim.send_text(USER, "/visit"))
            for label, _ in ANSWERS[:-1]:
                await lw.handled(await sim.press(USER, label))
            assert "入力内容の確認" in lw.texts()[-1]
            # Only a can take the press: b is stopped (not dead) until a has died holding its claim.
            os.kill(b.pid, signal.SIGSTOP)
            try:
                save = await sim.press(USER, ANSWERS[-1][0])
                assert save.status == 200
                assert await a.exited(LIMIT) == -signal.SIGKILL
                assert not lw.settled()  # claimed by the dead worker
            finally:
                os.kill(b.pid, signal.SIGCONT)
            # b takes the event over once a's lease has run out, and saves it.
            await lw.handled(save)
            assert lw.attempts(save) == 2
            assert await b.terminate() == 0
            assert await serve.terminate() == 0
        finally:
            lw.kill_all()
        lw.saved_once()
        assert "taken over (attempt 2)" in b.text()
        lw.secrets_not_logged()
