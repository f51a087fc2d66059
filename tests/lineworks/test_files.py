"""Files and images to a LINE WORKS user: the client creates an attachment, uploads the bytes and sends a message
naming the file id; the simulator keeps what was uploaded and refuses what LINE WORKS refuses. Time is a fake
clock: nothing waits on the wall clock."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Any

import aiohttp
import pytest

from bot.lineworks.client import LineWorksClient, LineWorksError, Outcome
from bot.lineworks.files import PNG_SIGNATURE, upload_form
from handlers.lineworks.content import file_content, image_content, validate_content
from simulator.lineworks import LineWorksSimulator
from tests.lineworks.conftest import USER, FakeClock, KeyPair, client_for

CREATE, UPLOAD, SEND = "attachment-create", "attachment-upload", "user-message-send"
WORKBOOK_NAME = "市民社協_令和7年度_集計.xlsx"


def png_image() -> bytes:
    """A real 1×1 PNG, as a chart would be."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def workbook() -> bytes:
    """An XLSX-like zip whose stored member holds every byte value and a line that looks like a multipart boundary."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as book:
        book.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types/>')
        book.writestr("xl/worksheets/sheet1.xml", bytes(range(256)) * 8 + b"\r\n--boundary\r\n" + "集計".encode())
    return out.getvalue()


def file_ids(sim: LineWorksSimulator) -> list[str]:
    return [str(m["fileId"]) for m in sim.messages(USER)]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create(sim: LineWorksSimulator, token: str, name: str) -> dict[str, Any]:
    """bot-attachment-create by hand (the client never stops between its steps)."""
    url = f"{sim.api_base_url}/bots/{sim.bot_id}/attachments"
    async with aiohttp.ClientSession() as http, http.post(url, json={"fileName": name}, headers=bearer(token)) as a:
        assert a.status == 200
        answer: dict[str, Any] = await a.json()
        return answer


async def upload(url: str, token: str, data: aiohttp.FormData) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=bearer(token)) as answer:
        await answer.read()
        return answer.status


# ---------------------------------------------------------------- what arrives
async def test_a_png_and_a_workbook_arrive_byte_identical(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    chart, book, table = png_image(), workbook(), "区分,件数\r\n訪問,3\r\n".encode()
    await client.send_image(USER, "chart.png", chart)
    await client.send_file(USER, WORKBOOK_NAME, book)
    await client.send_file(USER, "集計.csv", table)
    image_id, book_id, table_id = file_ids(sim)
    assert sim.messages(USER) == [image_content(image_id), file_content(book_id), file_content(table_id)]
    assert sim.files == {image_id: ("chart.png", chart), book_id: (WORKBOOK_NAME, book), table_id: ("集計.csv", table)}
    assert sim.requests == [(CREATE, 200), (UPLOAD, 200), (SEND, 201)] * 3


async def test_a_file_counts_three_calls_in_the_budget(
    sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock
) -> None:
    async with client_for(sim, keys, clock, per_minute=3) as client:
        await client.send_file(USER, "一.csv", b"1")
        assert clock.sleeps == []
        await client.send_file(USER, "二.csv", b"2")  # its attachment is the budget's fourth call
    assert clock.sleeps == [60.0]
    assert len(sim.files) == 2


# ---------------------------------------------------------------- what the simulator refuses
async def test_a_file_id_never_uploaded_is_refused(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    with pytest.raises(LineWorksError) as caught:
        await client.send_message(USER, file_content("jp1.never.created"))
    assert (caught.value.status, caught.value.code, caught.value.outcome) == (400, "INVALID_PARAMETER", Outcome.REFUSED)
    created = await create(sim, await client.access_token(), "chart.png")  # an upload URL, never used
    with pytest.raises(LineWorksError) as caught:
        await client.send_message(USER, image_content(created["fileId"]))
    assert caught.value.status == 400
    assert sim.messages(USER) == []
    assert sim.files == {}


async def test_an_upload_url_serves_once(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    token = await client.access_token()
    created = await create(sim, token, "一.csv")
    assert await upload(created["uploadUrl"], token, upload_form("一.csv", b"first")) == 200
    assert await upload(created["uploadUrl"], token, upload_form("一.csv", b"second")) == 400
    assert sim.files == {created["fileId"]: ("一.csv", b"first")}
    assert [status for operation, status in sim.requests if operation == UPLOAD] == [200, 400]


async def test_an_upload_needs_a_token_and_a_filedata_part(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    token = await client.access_token()
    created = await create(sim, token, "一.csv")
    assert await upload(created["uploadUrl"], "not-a-token", upload_form("一.csv", b"1")) == 401
    wrong_field = aiohttp.FormData()
    wrong_field.add_field("file", b"1", filename="一.csv")
    assert await upload(created["uploadUrl"], token, wrong_field) == 400
    unknown = created["uploadUrl"].replace("/sim/", "/sim/unknown-")  # another upload id
    assert await upload(unknown, token, upload_form("一.csv", b"1")) == 404
    assert await upload(created["uploadUrl"], token, upload_form("一.csv", b"1")) == 200  # the refusals used nothing


async def test_an_upload_url_and_a_file_id_live_24_hours(
    sim: LineWorksSimulator, client: LineWorksClient, clock: FakeClock
) -> None:
    token = await client.access_token()
    late, sent = await create(sim, token, "late.csv"), await create(sim, token, "sent.csv")
    assert await upload(sent["uploadUrl"], token, upload_form("sent.csv", b"1")) == 200
    clock.now += 24 * 3600
    token = await client.access_token()
    assert await upload(late["uploadUrl"], token, upload_form("late.csv", b"1")) == 404
    with pytest.raises(LineWorksError) as caught:
        await client.send_message(USER, file_content(sent["fileId"]))
    assert caught.value.status == 400


async def test_a_file_over_the_size_limit_is_refused(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    sim.attachments.max_upload_bytes = 1000
    await client.send_file(USER, "ちょうど.csv", b"x" * 1000)
    with pytest.raises(LineWorksError) as caught:
        await client.send_file(USER, "超過.csv", b"x" * 1001)
    assert (caught.value.status, caught.value.outcome) == (400, Outcome.REFUSED)
    assert [name for name, _ in sim.files.values()] == ["ちょうど.csv"]
    assert len(sim.messages(USER)) == 1


async def test_file_and_image_contents_by_url(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    by_url = {"type": "file", "originalContentUrl": "https://example.com/guide.pdf"}
    image = {"type": "image", "previewImageUrl": "https://example.com/p.png", "originalContentUrl": "https://e.jp/i"}
    await client.send_message(USER, by_url)
    await client.send_message(USER, image)
    for bad in ({"type": "file", "originalContentUrl": "http://example.com/guide.pdf"}, {"type": "image"}):
        with pytest.raises(LineWorksError) as caught:
            await client.send_message(USER, bad, validate=False)
        assert caught.value.status == 400
    assert sim.messages(USER) == [by_url, image]


# ---------------------------------------------------------------- tokens and outcomes
@pytest.mark.parametrize("step", [CREATE, UPLOAD, SEND])
async def test_the_token_is_renewed_at_any_of_the_three_steps(
    sim: LineWorksSimulator, client: LineWorksClient, step: str
) -> None:
    await client.access_token()
    if step == CREATE:
        sim.expire_tokens()
    else:  # the token expires once the step before has answered
        sim.attachments.expire_tokens_after = "create" if step == UPLOAD else "upload"
    await client.send_file(USER, WORKBOOK_NAME, workbook())
    assert sim.token_requests == 2
    answers = {CREATE: [(CREATE, 200)], UPLOAD: [(UPLOAD, 200)], SEND: [(SEND, 201)]}
    answers[step].insert(0, (step, 403))
    assert sim.requests == answers[CREATE] + answers[UPLOAD] + answers[SEND]
    assert sim.files[file_ids(sim)[0]] == (WORKBOOK_NAME, workbook())


async def test_a_lost_answer_on_the_final_send_is_unknown_and_not_retried(
    sim: LineWorksSimulator, client: LineWorksClient
) -> None:
    sim.lose_answers = 1
    with pytest.raises(LineWorksError) as caught:
        await client.send_image(USER, "chart.png", png_image())
    assert caught.value.outcome is Outcome.UNKNOWN
    assert caught.value.may_have_sent
    assert sim.requests == [(CREATE, 200), (UPLOAD, 200), (SEND, None)]  # one send: never sent again
    assert sim.messages(USER) == [image_content(file_ids(sim)[0])]  # and it did arrive


@pytest.mark.parametrize("fault", ["create answer lost", "unknown bot", "upload answer lost"])
async def test_a_failure_before_the_message_is_refused_and_nothing_is_sent(
    sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock, fault: str
) -> None:
    options: dict[str, Any] = {"bot_id": "9999999"} if fault == "unknown bot" else {}
    sim.attachments.lose_create_answers = int(fault == "create answer lost")
    sim.attachments.lose_upload_answers = int(fault == "upload answer lost")
    async with client_for(sim, keys, clock, **options) as client:
        with pytest.raises(LineWorksError) as caught:
            await client.send_file(USER, WORKBOOK_NAME, workbook())
        assert caught.value.outcome is Outcome.REFUSED
        assert not caught.value.may_have_sent
        assert sim.messages(USER) == []
        assert [operation for operation, _ in sim.requests] == ([CREATE, UPLOAD] if "upload" in fault else [CREATE])
    if fault != "unknown bot":
        async with client_for(sim, keys, clock) as client:
            await client.send_file(USER, WORKBOOK_NAME, workbook())  # sending again is safe: a new attachment
        assert sim.messages(USER) == [file_content(file_ids(sim)[0])]


# ---------------------------------------------------------------- checked before anything goes out
@pytest.mark.parametrize(
    ("name", "data", "image", "why"),
    [
        ("update.exe", b"MZ", False, "exe"),
        ("集計.csv", b"", False, "empty"),
        ("../集計.csv", b"1", False, "path separator"),
        ("", b"1", False, "fileName"),
        ("chart.png", b"GIF89a", True, "PNG"),
    ],
    ids=["blocked-extension", "empty-file", "path", "no-name", "not-a-png"],
)
async def test_what_is_refused_before_anything_goes_out(
    sim: LineWorksSimulator, client: LineWorksClient, name: str, data: bytes, image: bool, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        await (client.send_image(USER, name, data) if image else client.send_file(USER, name, data))
    assert sim.token_requests == 0
    assert sim.requests == []


def test_file_and_image_contents_are_checked() -> None:
    assert file_content("jp1.1") == {"type": "file", "fileId": "jp1.1"}
    assert image_content("jp1.2") == {"type": "image", "fileId": "jp1.2"}
    with pytest.raises(ValueError, match="fileId"):
        file_content("")
    with pytest.raises(ValueError, match="not both"):
        validate_content({"type": "file", "fileId": "jp1.1", "originalContentUrl": "https://example.com/a.pdf"})
    with pytest.raises(ValueError, match="needs fileId"):
        validate_content({"type": "image", "originalContentUrl": "https://example.com/a.png"})
    with pytest.raises(ValueError, match="HTTPS"):
        validate_content({"type": "file", "originalContentUrl": "http://example.com/a.pdf"})
