"""Files: documents and photos the bot uploads, files users send, getFile and downloads."""

from __future__ import annotations

import pytest
from telegram import Bot
from telegram.error import BadRequest

from simulator.botapi import LocalBotApi, SimUser, png_bytes
from tests.simulator.helpers import USER_ID, bad


async def test_a_document_upload_is_stored_and_downloadable(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    content = "地区,件数\n西,3\n".encode()
    sent = await bot.send_document(USER_ID, content, filename="tally.csv", caption="集計")
    assert sent.document is not None and sent.document.file_name == "tally.csv"
    assert sent.caption == "集計"
    document = user.last.document if user.last else None
    assert document is not None
    assert (document.filename, document.content, document.mime_type) == ("tally.csv", content, "text/csv")
    file = await bot.get_file(sent.document.file_id)
    assert file.file_path is not None and file.file_path.startswith(api.base_file_url)
    assert bytes(await file.download_as_bytearray()) == content
    assert api.calls[-1] == (
        "download",
        {"file_path": file.file_path.removeprefix(api.base_file_url + api.token + "/")},
    )
    with pytest.raises(BadRequest, match=bad("file must be non-empty")):
        await bot.send_document(USER_ID, b"", filename="empty.txt")


async def test_a_photo_upload_returns_sizes(bot: Bot, user: SimUser) -> None:
    image = png_bytes(1000, 500)
    sent = await bot.send_photo(USER_ID, image, caption="現場")
    assert [(p.width, p.height) for p in sent.photo] == [(90, 45), (320, 160), (800, 400), (1000, 500)]
    assert user.last is not None and user.last.photo == image and user.last.text == "現場"
    file = await sent.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == image
    with pytest.raises(BadRequest, match=bad("IMAGE_PROCESS_FAILED")):
        await bot.send_photo(USER_ID, b"not an image")


async def test_files_sent_by_users_can_be_downloaded(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    await user.send_document("memo.txt", b"hello", wait=False)
    await user.send_photo(png_bytes(10, 10), caption="写真", wait=False)
    first, second = await bot.get_updates()
    assert first.message is not None and first.message.document is not None
    assert first.message.document.mime_type == "text/plain"
    assert bytes(await (await first.message.document.get_file()).download_as_bytearray()) == b"hello"
    assert second.message is not None and second.message.caption == "写真"
    assert second.message.photo[-1].width == 10


async def test_files_by_id_or_url_and_photos_other_than_png_are_refused(bot: Bot, user: SimUser) -> None:
    sent = await bot.send_document(USER_ID, b"a,b\n", filename="a.csv")
    assert sent.document is not None
    with pytest.raises(BadRequest, match=bad("sending a file by file_id or URL is not supported by the simulator")):
        await bot.send_document(USER_ID, sent.document.file_id)
    with pytest.raises(BadRequest, match=bad("sending a file by file_id or URL is not supported by the simulator")):
        await bot.send_photo(USER_ID, "https://example.org/chart.png")
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
    with pytest.raises(BadRequest, match=bad("a photo that is not a PNG is not supported by the simulator")):
        await bot.send_photo(USER_ID, jpeg)
    assert len(user.messages) == 1
