"""Hostile and odd input (issue 6, item 4): nothing typed, pressed, sent or forged crashes a handler, corrupts a
draft or writes a partial record; each input gets a clear message or is ignored, and the flow still completes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import buttons, flow
from core.flow import LABEL_MAX, MEMO_MAX, DraftState, FlowContext
from core.i18n import t
from core.models import NewFollowUp, Role
from services.deps import Deps
from simulator.botapi import SimUser
from storage.sqlite.seal import place
from storage.types import Draft
from tests import seed
from tests.harness import ADMIN_ID, Harness, followup_data, running

STAFF_ID = 5001
OTHER_ID = 5002
SUPERVISOR_ID = 5003
GROUP_ID = -1001000000001
CHANNEL_ID = -1001000000002

HINT = t("flow.hint_prefix", hint="")
ERROR = t("common.error")
EXPIRED = t("common.expired")
NOT_ALLOWED = t("access.not_allowed")
HELP_FIRST_LINE = t("help.staff").splitlines()[0]
RECORD_TABLES = ("submissions", "outings", "consultations", "consultation_agencies", "followups")
SECRET_LABEL = "西部 LEAK-LABEL-4417"
SECRET_REASON = "LEAK-REASON-9921 通院支援"
# Characters a stored answer must never carry: zero-width, bidi overrides and isolates, NUL.
INVISIBLE = set("\x00\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

CORPUS: dict[str, str] = {
    "long": "長文" * 2050,  # 4,100 characters
    "long_ascii": "x" * 5000,
    "emoji": "👨‍👩‍👧‍👦🎌😀🇯🇵",
    "combining": "e\u0301\u0302\u0303 か\u3099 Z\u0337\u0335\u0336",
    "zero_width": "a\u200bb\u200c\u200dc\ufeff",
    "control": "a\x00b\x07c\x1b[31m",
    "carriage_return": "1行目\n2行目\r3行目",
    "rtl": "\u202eمرحبا שלום",
    "sql": "'; DROP TABLE outings; --",
    "html": "<b>x</b>",
    "script": "<script>alert(1)</script>",
    "markdown": "*_[]()~`>#+-=|{}.!",
    "feb_30": "2026-02-30",
    "month_13": "13/45",
    "zero_date": "0/0",
    "negative": "-1",
    "double_negative": "--1",
    "unicode_minus": "−5",
    "enormous": str(10**30),
    "expanding_digits": "⑳" * 2200,  # NFKC turns each into "20": 4,400 digits
    "ethiopic_digit": "፩",
    "fullwidth_number": "１２",
    "fullwidth_date": "１１／２０",
}
# Whatever the step, these are never stored.
ALWAYS_REFUSED = {"long", "long_ascii", "zero_width", "control", "rtl"}
# Free text that looks like code is stored as typed: it is never interpreted.
FREE_TEXT_KEPT = {"emoji", "combining", "sql", "html", "script", "markdown"}

ACTIVITY, DESTINATION = "活動先への出向き・参加", "高齢者サロン"
TO_HEADCOUNT = [ACTIVITY, DESTINATION]
TO_SUMMARY = [*TO_HEADCOUNT, t("flow.button.skip"), t("flow.button.consult_no")]
TO_FOLLOWUP_LABEL = [
    *TO_HEADCOUNT,
    t("flow.button.skip"),
    t("flow.button.consult_yes"),
    "ニーズを抱えている個人の相談",
    "福祉サービス、相談機関の紹介",
    t("flow.button.no_agency"),
    t("flow.button.flag_followup"),
]


# ---------------------------------------------------------------------------------------------------------
# Helpers


def handler_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "handlers.errors" and r.levelno >= logging.ERROR]


async def assert_healthy(user: SimUser, caplog: pytest.LogCaptureFixture) -> None:
    """No handler error was logged or shown, and the bot still answers a normal message."""
    assert handler_errors(caplog) == []
    assert not any(m.text == ERROR for m in user.messages)
    assert not any(a.text == ERROR for a in user.answers)
    await user.send("/help")
    assert user.last is not None and user.last.text.startswith(HELP_FIRST_LINE)


async def current(h: Harness, telegram_id: int) -> tuple[Draft, DraftState] | None:
    """The person's draft, read as the bot reads it (raises if it no longer loads)."""
    staff = await h.store.staff.by_telegram_id(telegram_id)
    assert staff is not None
    draft = await h.store.drafts.for_staff(staff.id)
    return None if draft is None else (draft, DraftState.model_validate_json(draft.state))


async def state_of(h: Harness, telegram_id: int) -> DraftState:
    found = await current(h, telegram_id)
    assert found is not None, "the draft disappeared"
    return found[1]


async def press_flow(h: Harness, user: SimUser, action: str) -> str | None:
    """Press a flow button on the draft's current question, as if it were on screen."""
    found = await current(h, user.id)
    assert found is not None
    draft, _ = found
    assert draft.message_id is not None
    return await user.press_data(draft.message_id, f"f:{draft.id}:{draft.version}:{action}")


def first_pick(h: Harness, state: DraftState) -> str:
    """The first choice on the screen the draft is at (read from the flow: a forged button may have put
    something else in the message that showed it)."""
    svc = services_of(h)
    screen = flow.render(state, FlowContext(svc.taxonomy, svc.today(), "west"))
    return next(b.action for row in screen.keyboard for b in row if b.action.startswith("p:"))


def services_of(h: Harness) -> Deps:
    assert h.bot is not None and h.bot.deps is not None
    return h.bot.deps


async def finish(h: Harness, user: SimUser) -> str | None:
    """Answer whatever is asked with the plainest choice until the draft is saved; the save toast."""
    fixed = {
        "headcount": "x",
        "topic": "x",
        "fu_reason": "x",
        "has_consult": "p:no",
        "agencies": "t:-",
        "next": "p:done",
        "after_fu": "p:done",
        "fu_label": "p:suggested",
        "fu_due": "p:1w",
        "summary": "s",
    }
    for _ in range(60):
        found = await current(h, user.id)
        assert found is not None, "the draft disappeared before it was saved"
        state = found[1]
        name = state.step.partition(".")[0]
        if name in ("date", "area", "cons_menu", "fu_edit", "fu_date"):
            action = "b"
        else:
            action = fixed.get(name) or first_pick(h, state)
        toast = await press_flow(h, user, action)
        if action == "s":
            return toast
    raise AssertionError("the flow did not come to an end")


async def record_counts(h: Harness) -> dict[str, int]:
    return {table: await h.count(table) for table in RECORD_TABLES}


async def records_consistent(h: Harness) -> None:
    """Every visit saved whole: one outing per visit submission, nothing hanging without its submission."""
    outings_of_submission = "(SELECT count(*) FROM outings o WHERE o.submission_id = s.id)"
    assert await h.count("submissions s", f"kind = 'visit' AND {outings_of_submission} != 1") == 0
    assert await h.count("consultations", "submission_id IS NULL AND import_id IS NULL") == 0
    assert await h.count("consultations c", "submission_id NOT IN (SELECT id FROM submissions)") == 0


async def start_visit(user: SimUser, path: list[str]) -> None:
    await user.send("/visit")
    for label in path:
        await user.press(label)


async def seed_followup(h: Harness, owner_telegram_id: int, area: str = "kyonan") -> int:
    owner = await h.store.staff.by_telegram_id(owner_telegram_id)
    assert owner is not None
    today = h.clock.now().date()
    followup = NewFollowUp(SECRET_LABEL, today + timedelta(days=7), SECRET_REASON)
    await seed.outing(h.store, owner.id, today, area, consultations=(seed.consultation(followup=followup),))
    row = await h.store.db.fetchone("SELECT max(id) FROM followups")
    assert row is not None
    return int(row[0])


# ---------------------------------------------------------------------------------------------------------
# A fixed corpus typed at every kind of step


STEPS = {
    # kind: (buttons pressed after /visit, the step, how to return to it, a valid answer, what it saves)
    "button": ([], "activity", None, None, None),
    "headcount": (TO_HEADCOUNT, "headcount", "b", "7", "SELECT headcount FROM outings"),
    "followup_label": (TO_FOLLOWUP_LABEL, "fu_label.0", "b", "西部 A", "SELECT label FROM followups"),
    "summary_memo": (TO_SUMMARY, "summary", None, "次回も参加", None),
    "date": ([t("flow.button.change_date")], "date", "e:date", "11/20", "SELECT date FROM outings"),
}
ACCEPTED_AT: dict[str, dict[str, object]] = {
    "button": {},
    "headcount": {"fullwidth_number": 12},
    "date": {"fullwidth_date": date(2026, 11, 20)},
}


def stored_value(kind: str, state: DraftState) -> object:
    match kind:
        case "headcount":
            return state.headcount
        case "date":
            return state.date
        case "followup_label":
            followup = state.consultations[0].followup
            return followup.label if followup else None
        case "summary_memo":
            return state.memo
    return None


def free_text_expected(kind: str, text: str) -> tuple[str, int]:
    if kind == "followup_label":
        return " ".join(text.split()), LABEL_MAX
    return text.strip(), MEMO_MAX


@pytest.mark.parametrize("kind", list(STEPS))
async def test_the_corpus_typed_at_a_step_gets_a_hint_or_is_stored_exactly_and_the_flow_still_saves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    path, step, back, valid, saved_query = STEPS[kind]
    async with running(tmp_path) as h:
        user = await h.register(STAFF_ID)
        await start_visit(user, path)
        assert (await state_of(h, STAFF_ID)).step == step
        for key, text in CORPUS.items():
            before = await state_of(h, STAFF_ID)
            await user.send(text)
            after = await state_of(h, STAFF_ID)  # the draft still loads
            reply = user.last
            assert reply is not None
            if after == before:
                assert reply.text.startswith(HINT), (key, reply.text[:80])
                assert key not in ACCEPTED_AT.get(kind, {}), key
                assert kind in ACCEPTED_AT or key not in FREE_TEXT_KEPT, key
                continue
            assert not reply.text.startswith(HINT), (key, reply.text[:80])
            assert key not in ALWAYS_REFUSED, key
            value = stored_value(kind, after)
            if kind in ACCEPTED_AT:
                assert ACCEPTED_AT[kind].get(key) == value, (key, value)
            else:
                expected, limit = free_text_expected(kind, text)
                assert value == expected and len(expected) <= limit and not INVISIBLE & set(expected), key
            if back is not None:
                await press_flow(h, user, back)
                assert (await state_of(h, STAFF_ID)).step == step
        assert await record_counts(h) == dict.fromkeys(RECORD_TABLES, 0)  # nothing half-saved

        # The same draft still takes a plain answer and saves.
        if valid is None:
            await user.press(ACTIVITY)
        else:
            await user.send(valid)
        assert await finish(h, user) == t("flow.saved")
        assert await h.count("submissions") == 1 and await h.count("drafts") == 0
        if saved_query is not None:
            row = await h.store.db.fetchone(saved_query)
            assert row is not None and str(row[0]) in ("7", "西部 A", "2026-11-20")
        if kind == "summary_memo":
            row = await h.store.db.fetchone("SELECT memo, id FROM submissions")
            assert row is not None and h.store.seal.open(row[0], place("submissions", "memo", row[1])) == valid
        await records_consistent(h)
        await assert_healthy(user, caplog)


async def test_a_pending_follow_up_note_or_due_date_refuses_the_corpus_without_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path) as h:
        user = await h.register(STAFF_ID)
        followup_id = await seed_followup(h, STAFF_ID)
        await user.send("/followups")
        refused = {
            "n": ("long", "long_ascii", "zero_width", "control", "rtl", "expanding_digits"),
            "di": ("long", "feb_30", "month_13", "zero_date", "expanding_digits", "negative", "sql", "ethiopic_digit"),
        }
        for op, keys in refused.items():
            await user.press_data(user.last.message_id, followup_data(followup_id, op))  # type: ignore[union-attr]
            for key in keys:
                await user.send(CORPUS[key])
                assert user.last is not None and user.last.text.startswith(HINT), (op, key)
            await user.press_data(user.last.message_id, f"fv:{followup_id}")  # type: ignore[union-attr]
        assert await h.count("followup_notes") == 0
        row = await h.store.db.fetchone("SELECT due_date FROM followups WHERE id = ?", (followup_id,))
        assert row is not None and row[0] == (h.clock.now().date() + timedelta(days=7)).isoformat()
        await assert_healthy(user, caplog)


# ---------------------------------------------------------------------------------------------------------
# Hypothesis: arbitrary text and callback data, mid-flow

PREFIXES = tuple(buttons.kinds())
texts = st.text(min_size=1, max_size=300).filter(lambda s: s.strip() != "")
callback_data = st.one_of(
    st.text(max_size=64),
    st.text(min_size=65, max_size=200),
    st.builds(lambda p, rest: f"{p}:{rest}", st.sampled_from(PREFIXES), st.text(max_size=60)),
)
inputs = st.lists(
    st.one_of(
        st.tuples(st.just("text"), texts),
        st.tuples(st.just("data"), callback_data),
        st.tuples(st.just("flow"), st.text(max_size=40)),  # this draft's prefix, any action
    ),
    min_size=1,
    max_size=4,
)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(tmp_path) as h:
        await h.register(STAFF_ID)
        await h.register(ADMIN_ID + 1, Role.ADMIN, zone=None, area=None)
        yield h


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.integers(min_value=0, max_value=len(TO_FOLLOWUP_LABEL)), items=inputs)
async def test_arbitrary_text_and_callback_data_mid_flow_change_nothing_they_should_not(
    bot: Harness, caplog: pytest.LogCaptureFixture, steps: int, items: list[tuple[str, str]]
) -> None:
    h = bot
    caplog.clear()
    user = h.api.user(STAFF_ID)
    staff = await h.store.staff.by_telegram_id(STAFF_ID)
    assert staff is not None
    leftover = await h.store.drafts.for_staff(staff.id)  # from an example that failed while shrinking
    if leftover is not None:
        async with h.store.db.transaction() as tx:
            await h.store.drafts.delete(tx, leftover.id)
    await h.store.pending.clear(staff.id)
    await start_visit(user, TO_FOLLOWUP_LABEL[:steps])
    saved = await h.count("submissions")
    for kind, value in items:
        if kind == "text":
            await user.send(value)
            continue
        found = await current(h, STAFF_ID)
        if kind == "flow" and found is not None:
            value = f"f:{found[0].id}:{found[0].version}:{value}"
        assert user.last is not None
        await user.press_data(user.last.message_id, value)
    assert handler_errors(caplog) == []
    assert not any(m.text == ERROR for m in user.messages[-6:])
    await records_consistent(h)
    if await current(h, STAFF_ID) is not None:  # the draft loads (else `current` raised) and still saves
        assert await finish(h, user) == t("flow.saved")
        assert await h.count("submissions") == saved + 1
    assert await h.count("drafts") == 0
    assert handler_errors(caplog) == []


# ---------------------------------------------------------------------------------------------------------
# Things that are not text, mid-flow

VOICE = {"message": {"voice": {"file_id": "voice-1", "file_unique_id": "v1", "duration": 3, "mime_type": "audio/ogg"}}}


async def test_stickers_photos_voice_locations_and_contacts_mid_flow_get_a_hint_and_leave_the_draft_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path) as h:
        user = await h.register(STAFF_ID)
        await start_visit(user, TO_HEADCOUNT)
        before = await state_of(h, STAFF_ID)
        senders = {
            "sticker": user.send_sticker(),
            "photo": user.send_photo(caption="12"),
            "voice": user.send_update(VOICE),
            "location": user.send_location(35.7, 139.56),
            "contact": user.send_contact("+81-90-0000-0000"),
            "someone else's contact": user.send_contact("+81-80-1111-2222", "太郎", last_name="山田"),
        }
        for what, sending in senders.items():
            await sending
            assert user.last is not None and user.last.text == t("common.text_only"), what
            assert await state_of(h, STAFF_ID) == before, what
        await user.send("12")
        assert (await state_of(h, STAFF_ID)).headcount == 12
        assert await finish(h, user) == t("flow.saved")
        await records_consistent(h)
        await assert_healthy(user, caplog)


async def test_an_edited_earlier_answer_is_ignored_and_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path) as h:
        user = await h.register(STAFF_ID)
        await start_visit(user, TO_HEADCOUNT)
        answer_id = max(m.message_id for m in user.chat.history if not m.from_bot) + 2
        await user.send("8")
        assert user.chat.message(answer_id) is not None and user.chat.message(answer_id).text == "8"  # type: ignore[union-attr]
        before = await state_of(h, STAFF_ID)
        replies = len(user.messages)
        for edited in ("9999", "-1", CORPUS["long"], "/cancel"):
            await user.edit(answer_id, edited)
            assert await state_of(h, STAFF_ID) == before, edited
        assert before.headcount == 8
        assert len(user.messages) <= replies + 1  # at most the /cancel question; no answer was taken
        assert await h.count("drafts") == 1
        assert await finish(h, user) == t("flow.saved")
        row = await h.store.db.fetchone("SELECT headcount FROM outings")
        assert row is not None and row[0] == 8
        await assert_healthy(user, caplog)


@pytest.mark.parametrize("path", [TO_HEADCOUNT, TO_SUMMARY, TO_FOLLOWUP_LABEL], ids=["headcount", "memo", "label"])
async def test_a_forwarded_message_is_not_taken_as_an_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, path: list[str]
) -> None:
    async with running(tmp_path) as h:
        user = await h.register(STAFF_ID)
        other = h.api.user(OTHER_ID, first_name="他人")
        channel = h.api.group(CHANNEL_ID, "お知らせ", chat_type="channel")
        await start_visit(user, path)
        before = await state_of(h, STAFF_ID)
        await user.forward("12", from_user=other)
        await user.forward("山田花子さん 090-1234-5678", sender_name="非公開の人")
        await user.forward("お知らせ 12", from_chat=channel)
        assert await state_of(h, STAFF_ID) == before
        assert user.last is not None and user.last.text == t("common.text_only")
        assert await finish(h, user) == t("flow.saved")
        row = await h.store.db.fetchone("SELECT memo FROM submissions")
        assert row is not None and row[0] is None
        await assert_healthy(user, caplog)


# ---------------------------------------------------------------------------------------------------------
# Groups and channels


async def test_groups_and_channels_get_no_personal_answer_and_no_flow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        supervisor = await h.register(SUPERVISOR_ID, Role.SUPERVISOR)
        admin = h.api.user(ADMIN_ID)
        stranger = h.api.user(9999)
        await seed_followup(h, STAFF_ID)
        group = h.api.group(GROUP_ID, "西部圏域 連絡").add(staff, supervisor, admin, stranger)
        channel = h.api.group(CHANNEL_ID, "お知らせ", chat_type="channel")
        bot = h.api.bot_username
        commands = ["/start", "/help", "/visit", "/consult", "/cancel", "/area", "/mine", "/report", "/export"]
        commands += ["/invite", "/staff", "/followups", "/start abcdef", "/nonsense"]
        texts = [*commands, *(f"{c}@{bot}" for c in commands), "12", "出向き記録", "フォロー一覧", "こんにちは"]
        for person in (staff, supervisor, admin, stranger):
            for text in texts:
                await person.send(text, chat=group)
            await person.send_sticker(chat=group)
            await person.send_location(35.7, 139.56, chat=group)
        for text in texts[:6]:
            await admin.send_update({"channel_post": {"text": text}}, chat=channel)
        assert group.messages == [] and channel.messages == []
        assert await h.count("drafts") == 0 and await h.count("invites") == 0
        assert await h.count("audit", "action = 'followup.view'") == 0
        await assert_healthy(staff, caplog)


async def test_forged_buttons_on_a_group_message_never_put_personal_data_in_the_group(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path, digest_chat_id=GROUP_ID) as h:
        staff = await h.register(STAFF_ID)
        supervisor = await h.register(SUPERVISOR_ID, Role.SUPERVISOR)
        admin = h.api.user(ADMIN_ID)
        group = h.api.group(GROUP_ID, "西部圏域 連絡").add(staff, supervisor, admin)
        followup_id = await seed_followup(h, STAFF_ID)
        await staff.send("/visit")
        draft = await current(h, STAFF_ID)
        assert draft is not None
        h.clock.advance(timedelta(days=7))  # the next Monday: the weekly digest goes to the group
        await h.tick()
        digest = group.messages
        assert digest, "the digest was not sent to the group"
        texts_before = [m.text for m in digest]
        year = h.clock.now().year if h.clock.now().month >= 4 else h.clock.now().year - 1
        forged = {
            staff: [f"f:{draft[0].id}:{draft[0].version}:p:outing", f"fv:{followup_id}", "fl:0", "ha:kyonan"],
            supervisor: [f"fx:{followup_id}", f"fr:{followup_id}", "rp:week", "fl:0"],
            admin: ["sp:0", "ir:admin", f"ex:{year}", f"fx:{followup_id}", "rp:fy"],
        }
        for person, datas in forged.items():
            for data in datas:
                toast = await person.press_data(digest[0].message_id, data, chat=group)
                assert toast == EXPIRED, (person, data, toast)
        assert [m.text for m in group.messages] == texts_before
        assert all(m.document is None for m in group.messages)
        group_text = "\n".join(m.text for m in group.history)
        for secret in (SECRET_LABEL, SECRET_REASON, "https://t.me/", f"職員{STAFF_ID}"):
            assert secret not in group_text
        assert await h.count("invites") == 0 and await h.count("audit", "action = 'followup.view'") == 0
        assert (await state_of(h, STAFF_ID)) == draft[1]
        await assert_healthy(staff, caplog)


# ---------------------------------------------------------------------------------------------------------
# Forged and stale callback data for every prefix

BIG = "9" * 30


async def snapshot(h: Harness) -> dict[str, list[tuple[object, ...]]]:
    tables = [*RECORD_TABLES, "staff", "invites", "followup_notes", "pending_inputs"]
    result = {}
    for table in tables:
        rows = await h.store.db.fetchall(f"SELECT * FROM {table} ORDER BY 1")
        result[table] = [tuple(r) for r in rows]
    drafts = await h.store.db.fetchall("SELECT id, staff_id, version FROM drafts ORDER BY 1")
    result["drafts"] = [tuple(r) for r in drafts]
    return result


async def test_forged_and_stale_callback_data_for_every_prefix_is_refused_and_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path) as h:
        user = await h.register(STAFF_ID)
        other = await h.register(OTHER_ID)
        supervisor = await h.register(SUPERVISOR_ID, Role.SUPERVISOR)
        admin = h.api.user(ADMIN_ID)
        own_followup = await seed_followup(h, STAFF_ID)
        other_followup = await seed_followup(h, OTHER_ID)
        other_sub = int((await h.store.db.fetchone("SELECT max(id) FROM submissions"))[0])  # type: ignore[index]
        await other.send("/visit")
        await user.send("/visit")
        await user.press(ACTIVITY)
        stale_found = await current(h, STAFF_ID)
        theirs = await current(h, OTHER_ID)
        assert stale_found is not None and theirs is not None
        stale = f"{stale_found[0].id}:{stale_found[0].version - 1}"
        mine = f"{stale_found[0].id}:{stale_found[0].version}"
        other_draft = f"{theirs[0].id}:{theirs[0].version}"
        admin_staff = await h.store.staff.by_telegram_id(ADMIN_ID)
        assert admin_staff is not None
        ids = {"big": BIG, "sup": "²", "neg": "-1"}
        hint = t("flow.hint.use_buttons")
        # (who presses, data, the toast expected; None: any answer that is not an error)
        cases: list[tuple[SimUser, str, str | None]] = [
            *(
                (user, data, EXPIRED)
                for data in ("f", "f:", f"f:{mine}", f"f:{stale}:p:info", f"f:{other_draft}:p:info")
            ),
            *((user, f"f:{i}:1:s", EXPIRED) for i in ("x", *ids.values(), "")),
            (user, f"f:{stale_found[0].id}:{stale_found[0].version + 7}:s", EXPIRED),
            (user, f"f:{mine}:p:nowhere", hint),
            (user, f"f:{mine}:p:²", hint),
            (user, f"f:{mine}:t:-", hint),
            (user, f"f:{mine}:z:central", hint),
            (user, f"f:{mine}:k", hint),
            (user, f"f:{mine}:e:cons.x", hint),
            (user, f"f:{mine}:e:cons.{BIG}", hint),
            (user, f"f:{mine}:e:cons.²", hint),
            (user, f"f:{mine}:e:nowhere", hint),
            (user, f"f:{mine}:s", t("flow.hint.incomplete")),
            (user, f"f:{mine}:{'x' * 80}", hint),
            *((user, data, EXPIRED) for data in ("r", f"r:{mine}", f"r:{mine}:explode", f"r:{stale}:drop")),
            *((user, data, EXPIRED) for data in (f"r:{other_draft}:drop", f"r:{BIG}:1:go", "r:²:1:go")),
            *((user, data, EXPIRED) for data in ("c", f"c:{stale}:yes", f"c:{other_draft}:yes", f"c:{BIG}:1:yes")),
            *((user, f"u:{i}", EXPIRED) for i in ("", "x", *ids.values(), str(other_sub), f"{other_sub}:1")),
            *((user, data, NOT_ALLOWED) for data in ("ir:admin", "iz:admin:west", "sp:0", f"sd:{other_sub}")),
            *((user, data, NOT_ALLOWED) for data in ("rp:week", "ex:2026", "ex:²")),
            *((admin, data, EXPIRED) for data in ("ir", "ir:", "ir:emperor", "iz:staff", "iz:staff:nowhere")),
            *((admin, data, EXPIRED) for data in ("iz:staff:west:x", "ix:staff", "sp", "sp:", "sp:x")),
            (admin, f"sq:{theirs[0].staff_id}", EXPIRED),
            *((admin, f"{op}:{i}", EXPIRED) for op in ("sp", "sa", "sd") for i in ("²", "--1", "")),
            *((admin, f"{op}:{BIG}", EXPIRED) for op in ("sa", "sd")),
            (admin, f"sd:{admin_staff.id}", t("access.cannot_deactivate_self")),
            *((admin, f"ex:{year}", EXPIRED) for year in ("", "1999", BIG, "²", "--1", "2026x", "-2026")),
            *((supervisor, f"rp:{key}", EXPIRED) for key in ("", "century", "week:x", "²")),
            *((user, data, EXPIRED) for data in ("ha", "ha:", "ha:nowhere", "ha:chuo", "hz:central", "hq:kyonan")),
            *(
                (user, data, EXPIRED)
                for data in ("fu", "fv", "fv:", "fv:x", f"fu:{own_followup}", f"fv:{own_followup}:")
            ),
            *((user, f"fv:{i}", EXPIRED) for i in (*ids.values(), "", str(other_followup))),
            *((user, followup_data(other_followup, op), EXPIRED) for op in ("x", "n", "d", "dd:1w", "c", "co:solved")),
            *((user, followup_data(own_followup, op), EXPIRED) for op in ("zz", "dd:forever", "co:nothing", "co:")),
            *((user, followup_data(own_followup, op), NOT_ALLOWED) for op in ("r", f"ro:{OTHER_ID}")),
            *((supervisor, f"fa:{own_followup}:{i}", EXPIRED) for i in ("x", BIG, "²", "")),
            *((user, f"fl:{page}", None) for page in ("x", "²", BIG, "-1", "")),
            (user, "nonsense", EXPIRED),
            (user, "", EXPIRED),
            (user, "🙂" * 40, EXPIRED),
        ]
        for person in (admin, supervisor):
            await person.send("/help")  # a message of the bot's to press forged buttons on
        before = await snapshot(h)
        for person, data, expected in cases:
            assert person.last is not None
            answers = len(person.answers)
            toast = await person.press_data(person.last.message_id, data)
            assert len(person.answers) == answers + 1, data  # every press is answered
            assert toast != ERROR, data
            if expected is not None:
                assert toast == expected, (data, toast)
            assert handler_errors(caplog) == [], data
        assert await snapshot(h) == before
        assert await h.count("audit", "action = 'followup.view'") == 0
        for telegram_id, found in ((STAFF_ID, stale_found), (OTHER_ID, theirs)):
            assert await state_of(h, telegram_id) == found[1]
        assert await finish(h, user) == t("flow.saved")
        assert await finish(h, h.api.user(OTHER_ID)) == t("flow.saved")
        await assert_healthy(user, caplog)


async def test_a_button_copied_from_another_persons_keyboard_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path) as h:
        owner = await h.register(STAFF_ID)
        colleague = await h.register(OTHER_ID)  # same zone and area
        followup_id = await seed_followup(h, STAFF_ID)
        await owner.send("/followups")
        await owner.press(f"{SECRET_LABEL}")
        card = owner.last.callback_data  # type: ignore[union-attr]
        card_data = [d for row in card for d in row if d and not d.startswith("fl:")]  # the list is anyone's
        await owner.send("/visit")
        for label in (*TO_SUMMARY, "💾 保存"):
            await owner.press(label)
        undo = [d for row in owner.last.callback_data for d in row if d]  # type: ignore[union-attr]
        await owner.send("/visit")
        question = [d for row in owner.last.callback_data for d in row if d]  # type: ignore[union-attr]
        await owner.send("/cancel")
        cancel = [d for row in owner.last.callback_data for d in row if d]  # type: ignore[union-attr]
        await colleague.send("/help")
        before = await snapshot(h)
        for data in (*card_data, *undo, *question, *cancel):
            toast = await colleague.press_data(colleague.last.message_id, data)  # type: ignore[union-attr]
            assert toast == EXPIRED, (data, toast)
        assert await snapshot(h) == before
        assert SECRET_REASON not in "\n".join(m.text for m in colleague.messages)
        assert await h.count("audit", f"action = 'followup.view' AND subject = 'followup:{followup_id}'") == 0
        assert await h.count("outings") == 2 and await h.count("drafts") == 1  # the seeded one and the saved one
        await assert_healthy(colleague, caplog)


async def test_a_callback_without_a_message_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with running(tmp_path) as h:
        user = await h.register(STAFF_ID)
        followup_id = await seed_followup(h, STAFF_ID)
        await user.send("/visit")
        found = await current(h, STAFF_ID)
        assert found is not None
        for data in (f"fn:{followup_id}", f"fx:{followup_id}", f"f:{found[0].id}:{found[0].version}:p:outing"):
            await user.send_update({"callback_query": {"data": data, "inline_message_id": "AAAA"}})
        assert await h.count("pending_inputs") == 0 and await state_of(h, STAFF_ID) == found[1]
        await assert_healthy(user, caplog)


async def test_a_draft_with_very_many_consultations_can_still_be_shown_and_saved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path) as h:
        user = await h.register(STAFF_ID)
        await start_visit(user, TO_SUMMARY)
        await user.send("メ" * MEMO_MAX)
        for _ in range(60):
            await press_flow(h, user, "e:add_consultation")
            for _ in range(20):
                state = await state_of(h, STAFF_ID)
                name = state.step.partition(".")[0]
                if name == "summary" or handler_errors(caplog):
                    break
                plain = {"topic": "x", "agencies": "t:-", "next": "p:done", "after_fu": "p:done"}
                await press_flow(h, user, plain.get(name) or first_pick(h, state))
            if handler_errors(caplog):
                await user.send("/visit")
                await user.press(t("flow.resume.go"))
                break
        assert await finish(h, user) == t("flow.saved")
        await assert_healthy(user, caplog)
