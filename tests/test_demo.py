"""Demo mode: the terminal chat driven through a pseudo-terminal, keeping and resetting its data, and the seeding."""

from __future__ import annotations

import codecs
import io
import os
import pty
import re
import select
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from core.crypto import Sealer
from core.i18n import t
from core.models import Role
from core.taxonomy import Taxonomy
from core.webapp import check_init_data
from demo.seed import DEMO_AREA, DEMO_USER_ID, DEMO_ZONE, ensure_demo_user, is_seeded, seed
from demo.terminal import TerminalChat, TerminalWriter
from simulator.botapi import LocalBotApi, launch_params
from storage.sqlite.store import Store
from tests.conftest import TEST_KEY, TODAY

pytestmark = pytest.mark.slow  # every test here starts a `fieldbot` process

REPO = Path(__file__).resolve().parent.parent
TOKYO = ZoneInfo("Asia/Tokyo")
PROMPT = t("demo.prompt")
TIMEOUT = 30.0  # a guard against a hang only: each step takes well under a second


def demo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FIELD_", "DATABASE_"))}
    env.update(PYTHONIOENCODING="utf-8", PYTHONPATH=str(REPO))
    return env


class Terminal:
    """The demo as a person sees it: a subprocess on the slave side of a pseudo-terminal."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=demo_env(),
            start_new_session=True,
        )
        os.close(slave)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._raw = ""

    @property
    def output(self) -> str:
        return self._raw.replace("\r\n", "\n")

    def read_until(self, done: Callable[[str], bool], start: int = 0) -> str:
        deadline = time.monotonic() + TIMEOUT
        while not done(self.output[start:]):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; the terminal shows:\n{self.output[-4000:]}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the demo closed the terminal (it exited)
                chunk = b""
            if not chunk:
                raise AssertionError(f"the demo exited ({self.process.poll()}); it showed:\n{self.output[-4000:]}")
            self._raw += self._decoder.decode(chunk)
        return self.output[start:]

    def type(self, line: str) -> str:
        """Type a line and return what the demo showed until its next prompt."""
        start = len(self.output)
        os.write(self.master, (line + "\n").encode("utf-8"))
        return self.read_until(lambda shown: shown.endswith(PROMPT) and len(shown) > len(line) + 1, start)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self.master)


@contextmanager
def terminal(args: list[str], cwd: Path) -> Iterator[Terminal]:
    term = Terminal(args, cwd)
    try:
        yield term
    finally:
        term.close()


def number_of(shown: str, label: str) -> str:
    """The number the demo printed for a button, e.g. "2" for `[2] 高齢者サロン`."""
    found = re.findall(rf"\[(\d+)\] {re.escape(label)}(?:\s|$)", shown)
    assert found, f"no numbered button {label!r} in:\n{shown}"
    return str(found[-1])


def run_piped(tmp_path: Path, *args: str, typed: str = "q\n") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        input=typed.encode("utf-8"),
        capture_output=True,
        cwd=tmp_path,
        env=demo_env(),
        timeout=TIMEOUT,
        check=False,
    )
    stdout = done.stdout.decode("utf-8")
    assert done.returncode == 0, stdout + done.stderr.decode("utf-8", "replace")
    return stdout


def counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        return {
            table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("staff", "outings", "consultations", "consultation_agencies", "followups", "followup_notes")
        }


def test_a_plain_outing_recorded_by_pressing_numbers_in_the_terminal(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    with terminal(["demo", "--data", str(data)], tmp_path) as term:
        shown = term.read_until(lambda s: s.endswith(PROMPT))
        assert t("demo.seeding") in shown and "[m1] " + t("menu.visit") in shown

        shown = term.type("m1")  # the persistent menu's 出向き記録
        shown = term.type(number_of(shown, "活動先への出向き・参加"))
        shown = term.type(number_of(shown, "高齢者サロン"))
        shown = term.type(number_of(shown, "スキップ"))
        shown = term.type(number_of(shown, "なかった"))
        assert "入力内容の確認" in shown and "支援先：高齢者サロン" in shown
        shown = term.type(number_of(shown, "💾 保存"))
        assert "保存しました" in shown

        start = len(term.output)
        os.write(term.master, b"q\n")
        term.read_until(lambda s: t("demo.bye", data=data) in s, start)
        assert term.process.wait(timeout=TIMEOUT) == 0

    today = datetime.now(UTC).astimezone(TOKYO).date()
    with sqlite3.connect(data / "fieldbot.sqlite3") as db:
        rows = db.execute(
            "SELECT o.date, o.area, o.activity, o.destination, o.headcount FROM outings o "
            "JOIN staff s ON s.id = o.staff_id WHERE s.telegram_id = ? AND o.date >= ?",
            (DEMO_USER_ID, (today - timedelta(days=1)).isoformat()),
        ).fetchall()
    # The seeded records end yesterday: the only outing from today on is the one just recorded.
    assert [r[1:] for r in rows if r[0] == today.isoformat()] == [(DEMO_AREA, "outing", "salon-elderly", None)]


def test_the_demo_keeps_its_data_between_runs_and_reset_starts_over(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    database = data / "fieldbot.sqlite3"
    first = run_piped(tmp_path, "demo", "--data", str(data))
    assert t("demo.seeding") in first and first.rstrip().endswith(t("demo.bye", data=data))
    seeded = counts(database)
    key = (data / "encryption.key").read_text()
    assert stat.S_IMODE((data / "encryption.key").stat().st_mode) == 0o600
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO meta (key, value) VALUES ('test_marker', 'kept')")

    # `fieldbot start` without a token is the demo; --as changes the demo user's role and keeps the data.
    second = run_piped(tmp_path, "start", "--as", "staff", "--data", str(data))
    assert t("demo.no_token") in second and t("demo.seeding") not in second
    assert t("role.staff") in second
    assert counts(database) == seeded and (data / "encryption.key").read_text() == key
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'test_marker'").fetchone() == ("kept",)
        demo_user = db.execute("SELECT role, zone, area FROM staff WHERE telegram_id = ?", (DEMO_USER_ID,)).fetchone()
    assert demo_user == ("staff", DEMO_ZONE, DEMO_AREA)

    third = run_piped(tmp_path, "demo", "--reset", "--data", str(data))
    assert t("demo.seeding") in third
    assert counts(database) == seeded and (data / "encryption.key").read_text() != key
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'test_marker'").fetchone() is None
        demo_user = db.execute("SELECT role, zone, area FROM staff WHERE telegram_id = ?", (DEMO_USER_ID,)).fetchone()
    assert demo_user == ("admin", None, DEMO_AREA)


async def test_seeding_makes_two_fiscal_years_of_plausible_records(
    store: Store, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    summary = await seed(store, taxonomy, TODAY, TOKYO)
    assert await is_seeded(store)
    assert (summary.first.isoformat(), summary.last) == ("2025-04-01", TODAY - timedelta(days=1))

    async def one(sql: str) -> int:
        row = await store.db.fetchone(sql)
        assert row is not None
        return int(row[0])

    staff = await store.staff.all()
    assert len(staff) == 9 and {s.zone for s in staff if s.role is not Role.ADMIN} == {"east", "central", "west"}
    assert sum(s.role is Role.SUPERVISOR for s in staff) == 2
    assert len({s.name for s in staff}) == 9 and all(s.telegram_id for s in staff)
    demo = await store.staff.by_telegram_id(DEMO_USER_ID)
    assert demo is not None and demo.role is Role.ADMIN and demo.area == DEMO_AREA

    outings = await one("SELECT count(*) FROM outings")
    assert 1500 <= outings <= 4000 and summary.outings == outings
    assert await one("SELECT count(*) FROM outings WHERE date < '2026-04-01'") > 900  # FY2025, whole
    assert await one("SELECT count(*) FROM outings WHERE date >= '2026-04-01'") > 600  # FY2026, so far
    assert await one(f"SELECT count(*) FROM outings WHERE date >= '{TODAY.isoformat()}'") == 0
    assert await one("SELECT count(DISTINCT area) FROM outings") == len(taxonomy.areas())
    assert await one("SELECT count(DISTINCT destination) FROM outings") >= 10

    consultations = await one("SELECT count(*) FROM consultations")
    at_outing = await one("SELECT count(*) FROM consultations WHERE at_outing = 1")
    assert 0.25 <= at_outing / consultations <= 0.45  # about a third, as councils report
    assert await one("SELECT count(DISTINCT consulter) FROM consultations") == 5
    several = (
        "SELECT count(*) FROM (SELECT 1 FROM consultation_agencies GROUP BY consultation_id HAVING count(*) > 1) AS s"
    )
    assert await one(several) > 10

    assert await one("SELECT count(*) FROM followups WHERE status = 'open'") >= 5
    assert await one("SELECT count(*) FROM followups WHERE status = 'closed' AND outcome IS NOT NULL") >= 20
    assert await one("SELECT count(*) FROM followup_notes") >= 2
    labels = [r[0] for r in await store.db.fetchall("SELECT label FROM followups")]
    assert len(set(labels)) == len(labels)
    assert all(label.split()[0] in {a.label for a in taxonomy.areas()} for label in labels)
    mine = await store.db.fetchall("SELECT due_date FROM followups WHERE status = 'open' AND owner_id = ?", (demo.id,))
    # The demo user has open follow-ups, none due yet: no reminder cuts into the first minutes of the demo.
    assert mine and all(r[0] > TODAY.isoformat() for r in mine)

    # Deterministic: the same day gives the same data.
    again = await Store.open(tmp_path / "again.sqlite3", Sealer.from_text(TEST_KEY))
    try:
        assert await seed(again, taxonomy, TODAY, TOKYO) == summary
    finally:
        await again.close()

    # --as: the demo user's role changes in place, keeping the home area.
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    supervisor = await ensure_demo_user(store, Role.SUPERVISOR, now)
    assert (supervisor.id, supervisor.role, supervisor.zone, supervisor.area) == (
        demo.id,
        Role.SUPERVISOR,
        DEMO_ZONE,
        DEMO_AREA,
    )
    admin = await ensure_demo_user(store, Role.ADMIN, now)
    assert (admin.id, admin.role, admin.zone, admin.area) == (demo.id, Role.ADMIN, None, DEMO_AREA)


async def test_demo_consultations_from_agencies_name_who_consulted_and_a_topic_and_others_have_none(
    store: Store, taxonomy: Taxonomy
) -> None:
    await seed(store, taxonomy, TODAY, TOKYO)
    group = taxonomy.agency_group
    assert group is not None

    async def one(sql: str, *params: object) -> int:
        row = await store.db.fetchone(sql, params)
        assert row is not None
        return int(row[0])

    from_agencies = await one("SELECT count(*) FROM consultations WHERE consulter = ?", group)
    assert from_agencies > 50
    # Each consultation from an agency names the agency that consulted and its topic, so ‹関係機関別› and
    # ‹相談内容別› add up to the group's total with no 不明; no other group has a topic or an agency that consulted.
    named = "SELECT count(*) FROM consultations WHERE consulter = ? AND from_agency IS NOT NULL AND topic IS NOT NULL"
    assert await one(named, group) == from_agencies
    assert await one("SELECT count(DISTINCT from_agency) FROM consultations WHERE consulter = ?", group) >= 5
    assert await one("SELECT count(DISTINCT topic) FROM consultations WHERE consulter = ?", group) >= 5
    others = (
        "SELECT count(*) FROM consultations WHERE consulter != ? AND (topic IS NOT NULL OR from_agency IS NOT NULL)"
    )
    assert await one(others, group) == 0
    # Referrals (つなぎ先) on some consultations of every group, never to the agency that consulted.
    referred = (
        "SELECT count(DISTINCT c.consulter) FROM consultations c "
        "JOIN consultation_agencies a ON a.consultation_id = c.id"
    )
    assert await one(referred) == len(taxonomy.consulter.active())
    back = (
        "SELECT count(*) FROM consultations c JOIN consultation_agencies a ON a.consultation_id = c.id "
        "WHERE a.agency = c.from_agency"
    )
    assert await one(back) == 0
    assert (
        0
        < await one("SELECT count(DISTINCT consultation_id) FROM consultation_agencies")
        < await one("SELECT count(*) FROM consultations")
    )


async def test_a_mini_app_button_is_numbered_and_its_number_prints_the_signed_link(tmp_path: Path) -> None:
    """In process: the terminal chat against the simulator, a bot client sending a keyboard with a form button."""
    form, url = "🔒 フォームで入力", "http://127.0.0.1:8765/form?t=abc"
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("保存", callback_data="save")], [InlineKeyboardButton(form, web_app=WebAppInfo(url))]]
    )
    async with LocalBotApi() as api, Bot(api.token, base_url=api.base_url) as bot:
        user = api.user(DEMO_USER_ID, "花子", "デモ")
        out = io.StringIO()
        chat = TerminalChat(api, user, tmp_path / "files", TerminalWriter(out), echo=False)
        await bot.send_message(DEMO_USER_ID, "記録を入力してください", reply_markup=markup)
        assert chat.render()
        assert "[1] 保存" in out.getvalue() and f"[2] {form}" in out.getvalue()

        start = len(out.getvalue())
        assert await chat.handle("２")  # full-width, from a Japanese input method
        shown = out.getvalue()[start:].splitlines()
        assert shown[0] == t("demo.open_form")
        link = shown[1].strip()
        assert link.startswith(url + "#tgWebAppData=")
        init_data = launch_params(link)["tgWebAppData"]
        launch = check_init_data(api.token, init_data, datetime.fromtimestamp(api.now(), UTC))
        assert launch.user_id == DEMO_USER_ID
        assert await bot.get_updates() == ()  # the bot is told nothing

        await bot.delete_message(DEMO_USER_ID, user.messages[-1].message_id)
        start = len(out.getvalue())
        await chat.handle("2")  # the buttons shown are gone
        assert out.getvalue()[start:].strip() == t("demo.no_button", number=2)
