"""Access (issue 6, items 5 and 9): every command and button as every role, deactivation at once, invite codes,
and the bot token never reaching a log line, an error or a person."""

from __future__ import annotations

import asyncio
import logging
import secrets
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot import logs
from core.i18n import t
from core.models import NewFollowUp, Role
from core.periods import fiscal_year_of
from handlers.common import Context
from services.staff import GUESS_LIMIT, hash_code
from simulator.botapi import SimUser
from tests import seed
from tests.harness import ADMIN_ID, Harness, followup_data, running

UNREGISTERED, DEACTIVATED, STAFF, SUPERVISOR_WEST, SUPERVISOR_CENTRAL = 6000, 6001, 6002, 6003, 6004
OWNER_WEST, OWNER_CENTRAL = 6010, 6011
ROLES = {
    "unregistered": UNREGISTERED,
    "deactivated": DEACTIVATED,
    "staff": STAFF,
    "supervisor_west": SUPERVISOR_WEST,
    "supervisor_central": SUPERVISOR_CENTRAL,
    "admin": ADMIN_ID,
}
COMMANDS = [
    "/start",
    "/help",
    "/visit",
    "/consult",
    "/cancel",
    "/area",
    "/mine",
    "/report",
    "/places",
    "/export",
    "/invite",
    "/staff",
    "/followups",
]
ONLY = {
    "/report": {"supervisor_west", "supervisor_central", "admin"},
    "/places": {"supervisor_west", "supervisor_central", "admin"},
    "/export": {"admin"},
    "/invite": {"admin"},
    "/staff": {"admin"},
}
REGISTERED = {"staff", "supervisor_west", "supervisor_central", "admin"}

WEST_LABEL, WEST_REASON = "西部 LABEL-7c1", "REASON-west-552 通院の付き添い"
CENTRAL_LABEL, CENTRAL_REASON = "中部 LABEL-9d4", "REASON-central-813 ごみ出し支援"
WEST_DESTINATION, CENTRAL_DESTINATION = "子ども食堂", "フードバンク・パントリー"

REFUSED = t("access.refused")
DEACTIVATED_TEXT = t("access.deactivated")
NOT_ALLOWED = t("access.not_allowed")
EXPIRED = t("common.expired")
ERROR = t("common.error")


@dataclass
class World:
    """Who is who and what was seeded: a follow-up and outings in each zone, a draft and a saved outing."""

    h: Harness
    users: dict[str, SimUser]
    staff_ids: dict[int, int]
    west_followup: int
    central_followup: int
    owner_submission: int
    owner_draft: str  # "<id>:<version>"


async def build_world(h: Harness) -> World:
    users = {
        "staff": await h.register(STAFF),
        "deactivated": await h.register(DEACTIVATED),
        "supervisor_west": await h.register(SUPERVISOR_WEST, Role.SUPERVISOR),
        "supervisor_central": await h.register(SUPERVISOR_CENTRAL, Role.SUPERVISOR, zone="central", area="chuo"),
        "unregistered": h.api.user(UNREGISTERED),
        "admin": h.api.user(ADMIN_ID),
    }
    owner = await h.register(OWNER_WEST)
    await h.register(OWNER_CENTRAL, zone="central", area="chuo")
    staff_ids = {}
    for telegram_id in (*ROLES.values(), OWNER_WEST, OWNER_CENTRAL):
        found = await h.store.staff.by_telegram_id(telegram_id)
        if found is not None:
            staff_ids[telegram_id] = found.id
    deactivated = await h.store.staff.by_telegram_id(DEACTIVATED)
    assert deactivated is not None and await h.store.staff.deactivate(deactivated.id, h.clock.now())
    today = h.clock.now().date()
    followups = []
    for owner_id, area, destination, label, reason in (
        (OWNER_WEST, "kyonan", "kodomo-shokudo", WEST_LABEL, WEST_REASON),
        (OWNER_CENTRAL, "chuo", "foodbank", CENTRAL_LABEL, CENTRAL_REASON),
    ):
        followup = NewFollowUp(label, today + timedelta(days=7), reason)
        consultation = seed.consultation(followup=followup)
        await seed.outing(
            h.store, staff_ids[owner_id], today, area, destination=destination, consultations=(consultation,)
        )
        row = await h.store.db.fetchone("SELECT max(id) FROM followups")
        assert row is not None
        followups.append(int(row[0]))
    await owner.send("/visit")
    for label in ("活動先への出向き・参加", "子ども食堂", "スキップ", "なかった", "💾 保存"):
        await owner.press(label)
    submission = await h.store.db.fetchone("SELECT max(id) FROM submissions")
    await owner.send("/visit")
    draft = await h.store.drafts.for_staff(staff_ids[OWNER_WEST])
    assert submission is not None and draft is not None
    return World(h, users, staff_ids, followups[0], followups[1], int(submission[0]), f"{draft.id}:{draft.version}")


def chat_texts(user: SimUser) -> list[str]:
    """Everything the bot shows this person: messages (as edited), captions, and button toasts."""
    return [m.text for m in user.messages] + [a.text or "" for a in user.answers]


async def snapshot(h: Harness) -> dict[str, list[tuple[object, ...]]]:
    tables = ("staff", "invites", "submissions", "outings", "consultations", "followups", "followup_notes")
    result = {}
    for table in (*tables, "pending_inputs"):
        result[table] = [tuple(r) for r in await h.store.db.fetchall(f"SELECT * FROM {table} ORDER BY 1")]
    drafts = await h.store.db.fetchall("SELECT id, staff_id, version FROM drafts ORDER BY 1")
    result["drafts"] = [tuple(r) for r in drafts]
    return result


# ---------------------------------------------------------------------------------------------------------
# Every command as every role


async def test_every_command_as_every_role_shows_only_what_that_role_may_see(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path) as h:
        world = await build_world(h)
        for role, user in world.users.items():
            for command in COMMANDS:
                before = len(user.messages)
                await user.send(command)
                replies = user.messages[before:]
                assert replies, (role, command)
                if role in ("unregistered", "deactivated"):
                    refusal = REFUSED if role == "unregistered" else DEACTIVATED_TEXT
                    assert [m.text for m in replies] == [refusal], (role, command)
                    assert all(not m.buttons and m.reply_keyboard is None for m in replies), (role, command)
                elif role not in ONLY.get(command, REGISTERED):
                    assert [m.text for m in replies] == [NOT_ALLOWED], (role, command)
                    assert all(not m.buttons for m in replies), (role, command)
                else:
                    assert NOT_ALLOWED not in [m.text for m in replies], (role, command)
                    assert not {REFUSED, DEACTIVATED_TEXT, ERROR} & {m.text for m in replies}, (role, command)
                    assert all(m.document is None for m in replies), (role, command)

        seen = {role: "\n".join(chat_texts(user)) for role, user in world.users.items()}
        may_see = {
            WEST_LABEL: {"supervisor_west", "admin"},
            CENTRAL_LABEL: {"supervisor_central", "admin"},
            WEST_REASON: set(),  # only behind 🔒 (a button, audited), never in a list or a card
            CENTRAL_REASON: set(),
            WEST_DESTINATION: set(),  # counted in /report after a button; never in another person's /mine
            f"職員{OWNER_CENTRAL}": {"supervisor_central", "admin"},  # a name: the owner on a zone list, /staff
            f"職員{OWNER_WEST}": {"supervisor_west", "admin"},
            "https://t.me/": set(),
        }
        for secret, roles in may_see.items():
            assert {role for role, text in seen.items() if secret in text} == roles, secret
        help_text = seen["staff"]
        assert (
            t("help.supervisor").splitlines()[0] not in help_text and t("help.admin").splitlines()[0] not in help_text
        )
        menu = world.users["staff"].messages[0].reply_keyboard
        assert menu is not None and t("menu.report") not in [b for row in menu for b in row]
        assert await h.count("invites") == 0 and await h.count("audit", "action = 'followup.view'") == 0
        assert not [r for r in caplog.records if r.name == "handlers.errors"]


# ---------------------------------------------------------------------------------------------------------
# Every button as every role


def button_cases(world: World) -> list[tuple[str, set[str], set[str]]]:
    """Callback data; the roles that use it here; the roles that may, but whose press would change things (not
    pressed). Every other role is refused, and nothing changes."""
    west, central, fy = world.west_followup, world.central_followup, fiscal_year_of(world.h.clock.now().date())
    owner = world.staff_ids[OWNER_WEST]
    west_readers = {"supervisor_west", "admin"}
    central_readers = {"supervisor_central", "admin"}
    nobody: set[str] = set()
    return [
        ("rp:week", {"supervisor_west", "supervisor_central", "admin"}, nobody),
        ("rp:fy", {"supervisor_west", "supervisor_central", "admin"}, nobody),
        ("rt:staff", {"supervisor_west", "supervisor_central", "admin"}, nobody),
        ("rt:area:week", {"supervisor_west", "supervisor_central", "admin"}, nobody),
        ("rt:month:lastfy", {"supervisor_west", "supervisor_central", "admin"}, nobody),
        ("rt:places:fy", {"supervisor_west", "supervisor_central", "admin"}, nobody),
        ("pp:0", {"supervisor_west", "supervisor_central", "admin"}, nobody),
        ("pt:ibasho", nobody, {"supervisor_west", "supervisor_central", "admin"}),  # nothing awaited: expired
        (f"ex:{fy.fiscal_year}", {"admin"}, nobody),
        ("ir:staff", {"admin"}, nobody),
        ("iz:staff:west", nobody, {"admin"}),
        ("ir:admin", nobody, {"admin"}),
        ("sp:0", {"admin"}, nobody),
        (f"sa:{owner}", {"admin"}, nobody),
        (f"sd:{owner}", nobody, {"admin"}),
        ("fl:0", REGISTERED, nobody),
        (f"fv:{west}", west_readers, nobody),
        (f"fx:{west}", west_readers, nobody),
        (f"fr:{west}", west_readers, nobody),
        (f"fc:{west}", west_readers, nobody),
        (f"fd:{west}", west_readers, nobody),
        (f"fn:{west}", nobody, west_readers),
        (f"fo:{west}:solved", nobody, west_readers),
        (f"fp:{west}:1w", nobody, west_readers),
        (f"fa:{west}:{world.staff_ids[STAFF]}", nobody, west_readers),
        (f"fv:{central}", central_readers, nobody),
        (f"fx:{central}", central_readers, nobody),
        (f"fo:{central}:solved", nobody, central_readers),
        ("ha:kyonan", {"staff", "supervisor_west"}, {"admin"}),  # the area they already have: no change
        (f"u:{world.owner_submission}", nobody, nobody),  # the owner's own buttons: nobody else's
        (f"f:{world.owner_draft}:p:outing", nobody, nobody),
        (f"r:{world.owner_draft}:drop", nobody, nobody),
        (f"c:{world.owner_draft}:yes", nobody, nobody),
    ]


def refusal(role: str, data: str) -> str:
    if role == "unregistered":
        return REFUSED
    if role == "deactivated":
        return DEACTIVATED_TEXT
    refused = ("rp:", "rt:", "ex:", "ir:", "iz:", "sp:", "sa:", "sd:", "pp:", "pt:")
    return NOT_ALLOWED if data.startswith(refused) else EXPIRED


async def test_every_button_as_every_role_is_refused_unless_the_role_may_use_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path) as h:
        world = await build_world(h)
        for data, allowed, unpressed in button_cases(world):
            for role, user in world.users.items():
                if role in unpressed:
                    continue
                await user.send("/help")  # a fresh message of the bot's to press the button on
                pressed = user.last
                assert pressed is not None
                if role in allowed:
                    toast = await user.press_data(pressed.message_id, data)
                    assert toast not in (REFUSED, DEACTIVATED_TEXT, NOT_ALLOWED, EXPIRED, ERROR), (role, data, toast)
                    continue
                before, shown = await snapshot(h), pressed.text
                toast = await user.press_data(pressed.message_id, data)
                assert toast == refusal(role, data), (role, data, toast)
                assert user.last is pressed and pressed.text == shown and not pressed.edited, (role, data)
                assert await snapshot(h) == before, (role, data)

        seen = {role: "\n".join(chat_texts(user)) for role, user in world.users.items()}
        for secret, roles in (
            (WEST_REASON, {"supervisor_west", "admin"}),
            (CENTRAL_REASON, {"supervisor_central", "admin"}),
            (WEST_LABEL, {"supervisor_west", "admin"}),
            (CENTRAL_LABEL, {"supervisor_central", "admin"}),
            (WEST_DESTINATION, {"supervisor_west", "admin"}),
            (CENTRAL_DESTINATION, {"supervisor_central", "admin"}),
            ("https://t.me/", set()),
        ):
            showing = {role for role, text in seen.items() if secret in text}
            assert showing == roles, secret
        assert {role for role, user in world.users.items() if any(m.document for m in user.messages)} == {"admin"}
        views = await h.store.db.fetchall("SELECT actor_id, subject FROM audit WHERE action = 'followup.view'")
        assert sorted(tuple(v) for v in views) == sorted(
            [
                (world.staff_ids[SUPERVISOR_WEST], f"followup:{world.west_followup}"),
                (world.staff_ids[SUPERVISOR_CENTRAL], f"followup:{world.central_followup}"),
                (world.staff_ids[ADMIN_ID], f"followup:{world.west_followup}"),
                (world.staff_ids[ADMIN_ID], f"followup:{world.central_followup}"),
            ]
        )
        assert await h.count("invites") == 0
        assert not [r for r in caplog.records if r.name == "handlers.errors"]


async def test_a_supervisor_of_another_zone_never_sees_or_opens_a_west_follow_up(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        world = await build_world(h)
        other = world.users["supervisor_central"]
        await other.send("/followups")
        assert WEST_LABEL not in other.last.text and CENTRAL_LABEL in other.last.text  # type: ignore[union-attr]
        before = await snapshot(h)
        for op in ("v", "x", "n", "d", "di", "c", "co:solved", "r", f"ro:{world.staff_ids[SUPERVISOR_CENTRAL]}"):
            toast = await other.press_data(other.last.message_id, followup_data(world.west_followup, op))  # type: ignore[union-attr]
            assert toast == EXPIRED, (op, toast)
        await other.send("12/24")  # had "di" armed a typed due date, this would be it
        assert await snapshot(h) == before
        assert WEST_LABEL not in "\n".join(chat_texts(other)) and WEST_REASON not in "\n".join(chat_texts(other))
        assert await h.count("audit", f"subject = 'followup:{world.west_followup}'") == 0


# ---------------------------------------------------------------------------------------------------------
# Deactivation takes effect at once


async def test_a_deactivated_person_is_refused_at_once_mid_flow_and_mid_note(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        world = await build_world(h)
        owner = h.api.user(OWNER_WEST)
        await owner.send("/cancel")
        await owner.press(t("flow.cancel.yes"))
        await owner.send("/visit")
        await owner.press("活動先への出向き・参加")
        await owner.press("子ども食堂")  # now at the headcount: typed text would be an answer
        flow_message = owner.last
        assert flow_message is not None
        buttons = [d for row in flow_message.callback_data for d in row if d]
        await owner.send("/followups")
        await owner.press(WEST_LABEL)
        await owner.press("📝 メモ追加")  # a typed note is awaited
        assert await h.count("pending_inputs") == 1

        admin = world.users["admin"]
        await admin.send("/staff")
        await admin.press(f"停止：職員{OWNER_WEST}")
        await admin.press(t("access.staff_confirm_yes"))
        assert admin.last is not None and t("access.staff_deactivated", name=f"職員{OWNER_WEST}") in admin.last.text
        before = await snapshot(h)

        for text in ("12", "メモです", "出向き記録", "/visit", "/followups", "/mine", "/start", "/cancel"):
            sent = len(owner.messages)
            await owner.send(text)
            assert [m.text for m in owner.messages[sent:]] == [DEACTIVATED_TEXT], text
        west = world.west_followup
        for data in (*buttons, f"fv:{west}", f"fc:{west}", f"fo:{west}:solved", f"u:{world.owner_submission}"):
            assert await owner.press_data(flow_message.message_id, data) == DEACTIVATED_TEXT, data
        assert await snapshot(h) == before
        assert await h.count("followup_notes") == 0 and await h.count("outings", "headcount = 12") == 0


# ---------------------------------------------------------------------------------------------------------
# Invite codes


async def create_invite(admin: SimUser, role_label: str, zone_label: str | None = "西部圏域") -> str:
    await admin.send("/invite")
    await admin.press(role_label)
    if zone_label is not None:
        await admin.press(zone_label)
    text = admin.last.text  # type: ignore[union-attr]
    return next(line for line in text.splitlines() if "?start=" in line).rsplit("=", 1)[1]


def database_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("fieldbot.sqlite3"))


async def test_an_invite_code_is_stored_hashed_works_once_and_expires_after_72_hours(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running(tmp_path) as h:
        admin = h.api.user(ADMIN_ID)
        early, late, once = [await create_invite(admin, "職員") for _ in range(3)]
        rows = await h.store.db.fetchall("SELECT code_hash FROM invites ORDER BY id")
        assert [r[0] for r in rows] == [hash_code(code) for code in (early, late, once)]
        stored = await asyncio.to_thread(database_bytes, tmp_path)
        for code in (early, late, once):
            assert code.encode() not in stored and code not in caplog.text

        first, second = h.api.user(7001), h.api.user(7002)
        await first.send(f"/start {once}")
        assert first.messages[0].text.startswith("ようこそ")
        await second.send(f"/start {once}")
        assert second.last.text == t("access.invite_used")  # type: ignore[union-attr]
        sent = len(first.messages)
        await first.send(f"/start {once}")  # the same person again: a greeting, no second registration
        assert first.messages[sent].text == t("access.welcome", name=first.first_name)
        assert await h.count("staff", "telegram_id IN (7001, 7002)") == 1

        h.clock.advance(timedelta(hours=72) - timedelta(seconds=1))
        on_time = h.api.user(7003)
        await on_time.send(f"/start {early}")
        assert on_time.messages[0].text.startswith("ようこそ")
        h.clock.advance(timedelta(seconds=1))
        too_late = h.api.user(7004)
        await too_late.send(f"/start {late}")
        assert too_late.last.text == t("access.invite_expired")  # type: ignore[union-attr]
        assert await h.store.staff.by_telegram_id(7004) is None


async def test_guessed_invite_codes_are_refused_and_leave_the_real_one_working(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        admin = h.api.user(ADMIN_ID)
        code = await create_invite(admin, "係長・課長")
        stored_hash = hash_code(code)
        guesser = h.api.user(7100)
        guesses = [secrets.token_urlsafe(16) for _ in range(40)]
        guesses += [code.upper(), code.lower(), code[:-1], code + "A", code[::-1], stored_hash, stored_hash[:43]]
        guesses += ["' OR 1=1 --", "%27", "../../etc/passwd", "A" * 64, "0", "-1", "null"]
        staff_before = await h.count("staff")
        for number, guess in enumerate(guesses):
            if guess == code:
                continue
            await guesser.send(f"/start {guess}")
            # After GUESS_LIMIT wrong codes the guesser is not even told whether a code exists.
            expected = "access.invite_unknown" if number < GUESS_LIMIT else "access.invite_throttled"
            assert guesser.last.text == t(expected), guess  # type: ignore[union-attr]
            assert not guesser.last.buttons and guesser.last.reply_keyboard is None  # type: ignore[union-attr]
        assert await h.count("staff") == staff_before
        assert await h.count("invites", "used_by IS NULL") == 1
        await guesser.send("/visit")
        assert guesser.last.text == REFUSED  # type: ignore[union-attr]
        newcomer = h.api.user(7101)
        await newcomer.send(f"/start {code}")
        staff = await h.store.staff.by_telegram_id(7101)
        assert staff is not None and staff.role is Role.SUPERVISOR and staff.zone == "west"


async def test_a_guesser_is_slowed_down_after_repeated_wrong_codes(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        code = await create_invite(h.api.user(ADMIN_ID), "職員")
        guesser = h.api.user(7200)
        for _ in range(20):
            await guesser.send(f"/start {secrets.token_urlsafe(16)}")
        await guesser.send(f"/start {code}")  # even a right code is not checked while the person is throttled
        assert await h.store.staff.by_telegram_id(7200) is None
        assert guesser.last.text != t("access.invite_unknown")  # type: ignore[union-attr]
        h.clock.advance(timedelta(hours=1))
        await guesser.send(f"/start {code}")
        assert await h.store.staff.by_telegram_id(7200) is not None


# ---------------------------------------------------------------------------------------------------------
# The token (item 9)


@pytest.fixture
def production_logging() -> Iterator[None]:
    """`configure_logging` changes process-wide state (the record factory, the root logger): put it all back."""
    root = logging.getLogger()
    saved = (
        logging.getLogRecordFactory(),
        list(root.handlers),
        root.level,
        logs._ORIGINAL_FACTORY,
        list(logs._SECRETS),
    )
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "apscheduler", "aiosqlite")}
    try:
        yield
    finally:
        factory, handlers, level, original, secrets_ = saved
        logging.setLogRecordFactory(factory)
        logs._ORIGINAL_FACTORY, logs._SECRETS[:] = original, secrets_
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        for name, value in quiet.items():
            logging.getLogger(name).setLevel(value)


def exposure(token: str, places: dict[str, str]) -> list[str]:
    """Where the token, or its secret part after the colon, shows."""
    secret = token.split(":", 1)[1]
    return [where for where, text in places.items() if token in text or secret in text]


def shown_to(h: Harness, user: SimUser) -> str:
    return "\n".join(m.text for m in h.api.chat(user.id).history) + "\n".join(a.text or "" for a in user.answers)


def error_texts(errors: list[BaseException]) -> str:
    return "\n".join("".join(traceback.format_exception(e)) + repr(e) for e in errors)


async def keep_errors(h: Harness) -> list[BaseException]:
    """What the error handler receives, kept by a second error handler next to the bot's own."""
    errors: list[BaseException] = []

    async def keep(update: object, context: Context) -> None:
        assert context.error is not None
        errors.append(context.error)

    assert h.bot is not None and h.bot.application is not None
    h.bot.application.add_error_handler(keep)
    return errors


async def fail_once(h: Harness, user: SimUser, method: str, **fault: object) -> None:
    """Make the next call of `method` fail while the bot answers this person (a button, or a command)."""
    h.api.inject(method, **fault)  # type: ignore[arg-type]
    if method == "editMessageText":
        await user.press_data(user.last.message_id, "fl:0")  # type: ignore[union-attr]
    else:
        await user.send("/help")
    h.api.clear_faults()


@pytest.mark.usefixtures("production_logging")
async def test_the_token_never_reaches_logs_errors_or_users(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running(tmp_path) as h:
        token = h.settings.token()
        logs.configure_logging("DEBUG", secrets=[token])  # as `fieldbot run` does
        caplog.set_level(logging.DEBUG)
        errors = await keep_errors(h)
        user = await h.register(8001)
        await user.send("/followups")
        faults: list[tuple[str, dict[str, object]]] = [
            ("editMessageText", {"status": 500}),
            ("editMessageText", {"status": 502}),
            ("editMessageText", {"drop": True}),
            ("editMessageText", {"status": 401}),
            ("sendMessage", {"status": 500}),
            ("sendMessage", {"drop": True}),
            ("sendMessage", {"status": 400, "description": "Bad Request: chat not found"}),
        ]
        for method, fault in faults:
            await fail_once(h, user, method, **fault)
        assert len(errors) >= len(faults)
        assert exposure(token, {"errors": error_texts(errors)}) == []

        # An error page that echoes the request URL (a proxy in front of a self-hosted Bot API server):
        # the token is in the exception itself, and the redacting log-record factory must take it out.
        for method in ("editMessageText", "sendMessage"):
            await fail_once(h, user, method, status=404, description=f"Not Found: /bot{token}/{method}")
        await user.send("/help")
        assert user.last is not None and user.last.text.startswith(t("help.staff").splitlines()[0])
        assert any("error while handling update" in r.getMessage() for r in caplog.records)
        stderr = capsys.readouterr().err
        assert "error while handling update" in stderr, "the production log handler wrote nothing"
        places = {
            "log records": "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records),
            "formatted log": caplog.text,
            "stderr": stderr,
            "chat": shown_to(h, user),
            "settings": f"{h.settings!r} {h.settings}",
        }
        assert exposure(token, places) == []


async def test_an_error_page_that_echoes_the_url_does_not_hand_the_token_to_the_error_handler(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        token = h.settings.token()
        errors = await keep_errors(h)
        user = await h.register(8001)
        await user.send("/followups")
        await fail_once(h, user, "editMessageText", status=404, description=f"Not Found: /bot{token}/editMessageText")
        assert errors
        assert exposure(token, {"errors": error_texts(errors)}) == []
