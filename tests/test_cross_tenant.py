"""Two councils side by side (as `fieldbot serve` runs them: each its own bot, store, key and schedules): every
command and every button of one council's people, pressed on the other's bot, is refused and changes nothing;
the other council's reports, exports, digests, reminders, audit and purge hold nothing of the first."""

from __future__ import annotations

import io
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest

from core.models import Role
from tests.harness import ADMIN_ID, START, Harness, running
from tests.test_access_matrix import (
    CENTRAL_LABEL,
    CENTRAL_REASON,
    COMMANDS,
    REFUSED,
    WEST_LABEL,
    WEST_REASON,
    build_world,
    button_cases,
    chat_texts,
    snapshot,
)

OTHER_ADMIN, OTHER_SUPERVISOR, DIGEST_CHAT = 7001, 7002, -100777
# What only council A has: its follow-ups' labels and reasons, its staff's names (category labels are shared).
A_SECRETS = (WEST_LABEL, WEST_REASON, CENTRAL_LABEL, CENTRAL_REASON, "職員6010", "職員6011", "職員6002")


def _document_text(name: str | None, content: bytes) -> str:
    """Every cell of an exported file as text (an XLSX is a zip: read its cells, not its bytes)."""
    if name is not None and name.endswith(".xlsx"):
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
        return "\n".join(str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row)
    return content.decode("utf-8-sig", errors="replace")


async def _other_council(stack: AsyncExitStack, tmp_path: Path) -> Harness:
    """Council B: its own admin and supervisor, one outing of its own, a digest chat of its own."""
    b = await stack.enter_async_context(
        running(tmp_path / "b", admin_telegram_ids=[OTHER_ADMIN], digest_chat_id=DIGEST_CHAT)
    )
    b.api.group(DIGEST_CHAT, "B council")
    supervisor = await b.register(OTHER_SUPERVISOR, Role.SUPERVISOR)
    await supervisor.send("/visit")
    for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった", "💾 保存"):
        await supervisor.press(label)
    return b


async def test_every_command_and_button_of_one_council_is_refused_by_the_others_bot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running(tmp_path / "a"))
        world = await build_world(a)
        b = await _other_council(stack, tmp_path)
        before = await snapshot(b)
        audit_before = await b.count("audit")
        for role, person in world.users.items():
            stranger = b.api.user(person.id)  # the same person, on the other council's bot
            for command in COMMANDS:
                sent = len(stranger.messages)
                await stranger.send(command)
                assert [m.text for m in stranger.messages[sent:]] == [REFUSED], (role, command)
            for data, _allowed, _unpressed in button_cases(world):
                await stranger.send("/help")
                pressed = stranger.last
                assert pressed is not None
                toast = await stranger.press_data(pressed.message_id, data)
                assert toast == REFUSED, (role, data, toast)
                assert stranger.last is pressed and not pressed.edited, (role, data)
            seen = "\n".join(chat_texts(stranger))
            assert not [secret for secret in A_SECRETS if secret in seen], role
        assert await snapshot(b) == before
        assert await b.count("audit") == audit_before
        assert not [r for r in caplog.records if r.name == "handlers.errors"]


async def test_the_other_councils_reports_exports_digests_and_audit_hold_nothing_of_the_first(
    tmp_path: Path,
) -> None:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running(tmp_path / "a"))
        world = await build_world(a)
        b = await _other_council(stack, tmp_path)
        own = a.api.user(ADMIN_ID)  # what is looked for is there to be found, in A
        await own.send("/followups")
        assert own.last is not None and WEST_LABEL in own.last.text
        admin = b.api.user(OTHER_ADMIN)
        await admin.send("/report")
        await admin.press("今年度")
        await admin.send("/followups")
        await admin.send("/places")
        await admin.send("/staff")
        await admin.send("/export")
        assert admin.last is not None and admin.last.buttons
        await admin.press(admin.last.buttons[0][0])
        documents = [m.document for m in admin.messages if m.document is not None]
        assert documents, "the export's files"
        # A's follow-ups fall due and the digest day comes: B's reminders and digest are B's alone.
        for harness in (a, b):
            harness.clock.set(START + timedelta(days=14))
            await harness.tick()
        shown = "\n".join(chat_texts(admin) + chat_texts(b.api.user(OTHER_SUPERVISOR)))
        digests = [m.text for m in b.api.chat(DIGEST_CHAT).messages]
        assert digests and "週間ダイジェスト" in digests[0]
        shown += "\n".join(digests)
        assert not [secret for secret in A_SECRETS if secret in shown]
        texts = [_document_text(d.filename, d.content) for d in documents]
        assert any(f"職員{OTHER_SUPERVISOR}" in text for text in texts)  # B's own staff are in it (担当者別)
        for document in documents:
            assert not [secret for secret in A_SECRETS if secret in _document_text(document.filename, document.content)]
        # B's audit names only B's things: it has no follow-up at all, so no follow-up of A's.
        subjects = [str(row[0]) for row in await b.store.db.fetchall("SELECT subject FROM audit")]
        assert await b.count("followups") == 0 and not [s for s in subjects if s.startswith("followup:")]
        assert world.west_followup in [int(r[0]) for r in await a.store.db.fetchall("SELECT id FROM followups")]
        # B's purge erases nothing of A's: A's sealed reasons are still there and open.
        b.clock.set(START + timedelta(days=800))
        await b.tick()
        assert await a.count("followups", "reason IS NOT NULL") == 2
        assert await b.count("outings") == 1 and await a.count("outings") == 3
        assert ADMIN_ID not in [int(r[0]) for r in await b.store.db.fetchall("SELECT telegram_id FROM staff")]
