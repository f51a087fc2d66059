"""The pieces of sending a file or an image through the LINE WORKS Bot API 2.0: the attachment request and its
answer, the multipart upload, and what is checked before any of it goes out. The client's `send_file` and
`send_image` (bot/lineworks/client.py) run the three steps through its token, budget and retry machinery.

What each rule rests on (developers.worksmobile.com):

- bot-attachment-create (https://developers.worksmobile.com/en/docs/bot-attachment-create, /jp/ and /kr/ alike):
  POST https://www.worksapis.com/v1.0/bots/{botId}/attachments, Content-Type application/json, body
  {"fileName": …}, scope bot or bot.message; answered 200 with {"fileId", "uploadUrl"}, both required. The upload
  URL and the file id live 24 hours from this call; an upload URL that was used cannot be used again. The largest
  upload is the admin's "maximum size for a single file" (a setting per domain, no fixed number on the page); a
  1 MB limit applies to message types other than file and image, and to rich menus. The bot page shows fileName
  alone; the general upload page (below) also lists fileSize as required for the services it covers: we send
  fileName only, as the bot page and its example do.
- file-upload, "Upload or Download Files" (https://developers.worksmobile.com/en/docs/file-upload, /jp/reference/
  file-upload alike): POST to the upload URL with the same "Authorization: Bearer …" header, Content-Type
  multipart/form-data, the file in a part named "Filedata" with its filename and Content-Type. The upload URL is
  on another host (storage.worksmobile.com or apis-storage.worksmobile.com in the examples).
- bot-send-file (https://developers.worksmobile.com/en/docs/bot-send-file) and bot-send-image
  (https://developers.worksmobile.com/en/docs/bot-send-image): then send {"content": {"type": "file" or "image",
  "fileId": …}} as any message (handlers/lineworks/content.py holds those rules and the blocked extensions).
- rate-limits (https://developers.worksmobile.com/en/docs/rate-limits): limits apply per API; the page does not
  say whether the upload URL, on the storage host, is rate limited (it only says a download URL's 302 carries no
  rateLimit headers). The client counts the upload in its budget like any call: a file costs three.

Not confirmed in the pages we could read: the upload's success status and body (any 2xx is success here, and the
file id is the one bot-attachment-create gave); what LINE WORKS answers to an expired, used or oversized upload
(any non-2xx is a refusal here); how a non-ASCII filename in the multipart header is read (we send it as raw UTF-8,
as browsers do, RFC 7578 §4.2; LINE WORKS's name for the file may well come from fileName instead); whether a
file id may be sent more than once within its 24 hours (we send each upload once).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from handlers.lineworks.content import validate_file_name

UPLOAD_FIELD = "Filedata"  # file-upload: the multipart part that carries the file
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Attachment:
    """What bot-attachment-create answered: the id to send, and the one-use URL to upload the bytes to."""

    file_id: str
    upload_url: str


def attachment_path(bot_id: str) -> str:
    return f"/bots/{quote(bot_id, safe='')}/attachments"


def attachment_request(filename: str, content: bytes) -> dict[str, Any]:
    """The body of bot-attachment-create; ValueError (before anything goes out) for a name LINE WORKS would not take
    or an empty file."""
    validate_file_name(filename)
    if not content:
        raise ValueError("an empty file cannot be sent")
    return {"fileName": filename}


def check_png(png: bytes) -> None:
    """ValueError unless the bytes are a PNG image (bot-send-image shows images; a chart is a PNG)."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("send_image takes a PNG image")


def parse_attachment(answer: object) -> Attachment:
    """The file id and upload URL from bot-attachment-create's answer; ValueError when either is missing."""
    file_id = answer.get("fileId") if isinstance(answer, dict) else None
    upload_url = answer.get("uploadUrl") if isinstance(answer, dict) else None
    if not isinstance(file_id, str) or not file_id or not isinstance(upload_url, str) or not upload_url:
        raise ValueError("the answer has no fileId or no uploadUrl")
    return Attachment(file_id, upload_url)


def upload_url_allowed(upload_url: str, api_base_url: str) -> bool:
    """Whether the access token may go to this upload URL: HTTPS (LINE WORKS's storage host), or the API's own
    scheme and host (a simulator on 127.0.0.1 over plain HTTP). Never a plain-HTTP URL elsewhere."""
    upload, api = urlsplit(upload_url), urlsplit(api_base_url)
    if not upload.netloc:
        return False
    return upload.scheme == "https" or (upload.scheme, upload.netloc) == (api.scheme, api.netloc)


def media_type(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


def upload_form(filename: str, content: bytes) -> aiohttp.FormData:
    """The multipart body of one upload. A FormData is consumed when sent: each attempt builds a new one."""
    form = aiohttp.FormData(quote_fields=False)  # the filename as raw UTF-8, as browsers send it
    form.add_field(UPLOAD_FIELD, content, filename=filename, content_type=media_type(filename))
    return form
