"""The simulated LINE WORKS's bot attachments: creating a file id and upload URL, the upload itself, and which file
and image contents a send may name.

From developers.worksmobile.com:

- bot-attachment-create (https://developers.worksmobile.com/en/docs/bot-attachment-create, /jp/ and /kr/ alike):
  POST /v1.0/bots/{botId}/attachments with {"fileName": …}, answered 200 {"fileId", "uploadUrl"}. It is its own
  API in the rate limit. The upload URL and file id live 24 hours from this call (`lifetime`); an upload URL that
  was used cannot be used again. The largest upload is an admin setting per domain, "maximum size for a single
  file", whose value the page does not give: `max_upload_bytes` (100 MiB by default, our choice; set it low in a
  test). The page does not mark fileName required; a create without one is refused here (what would LINE WORKS
  name the file?).
- file-upload (https://developers.worksmobile.com/en/docs/file-upload): POST to the upload URL with
  "Authorization: Bearer …" and multipart/form-data, the file in a part named "Filedata". The URL points at this
  simulator (LINE WORKS's is on storage.worksmobile.com). The page gives no success answer: 200 with an empty
  body here. The rate-limits page does not say the storage host is rate limited: uploads are not counted here.
- bot-send-file / bot-send-image (https://developers.worksmobile.com/en/docs/bot-send-file, …/bot-send-image):
  a file content takes fileId or originalContentUrl, an image fileId or previewImageUrl with originalContentUrl,
  never both forms; URLs are HTTPS and at most 1,000 characters. A fileId must name a file uploaded and not
  expired; it may be sent more than once (the docs do not forbid it).

Our wording and statuses where the docs are silent: an unknown or expired upload URL answers 404 NOT_FOUND; a used
one, a missing "Filedata" part or a file over the limit 400 INVALID_PARAMETER (a refused upload leaves the URL
unused); an upload with a token not taken answers as the other endpoints do (401 or 403 UNAUTHORIZED).

Faults: `lose_create_answers` / `lose_upload_answers` (the next n are carried out, then the connection is closed
before the answer), `expire_tokens_after` ("create" or "upload": every token expires once that step has answered,
so the next step meets 403 UNAUTHORIZED).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from simulator.faults import drop_connection

if TYPE_CHECKING:
    from simulator.lineworks import LineWorksSimulator

UPLOAD_FIELD = "Filedata"
ATTACHMENT_LIFETIME = 24 * 3600.0  # seconds from the create call
DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # our choice: the real limit is an admin setting per domain
MAX_CONTENT_URL = 1000
CREATE, UPLOAD = "attachment-create", "attachment-upload"
UPLOAD_PATH = "/k/emsg/r/sim/{upload_id}/{name}"


def _error(status: int, code: str, description: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "description": description}, status=status, headers=headers)


@dataclass
class _Upload:
    file_id: str
    name: str
    created: float
    used: bool = False


@dataclass
class SimulatedAttachments:
    """The attachments of one simulated LINE WORKS; `files` maps each uploaded file id to (fileName, bytes)."""

    sim: LineWorksSimulator = field(repr=False, compare=False)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    lifetime: float = ATTACHMENT_LIFETIME
    # faults (set them directly)
    lose_create_answers: int = 0
    lose_upload_answers: int = 0
    expire_tokens_after: str | None = None
    # state, for tests and the demo
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    _uploads: dict[str, _Upload] = field(default_factory=dict, repr=False)  # upload id -> its attachment
    _created: dict[str, float] = field(default_factory=dict, repr=False)  # file id -> when it was created

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1.0/bots/{bot_id}/attachments", self._handle_create)
        app.router.add_post(UPLOAD_PATH, self._handle_upload)

    def content_problem(self, content: object) -> str | None:
        """Why LINE WORKS would answer 400 to this file or image content, or None (other types pass)."""
        kind = content.get("type") if isinstance(content, Mapping) else None
        if not isinstance(content, Mapping) or kind not in ("file", "image"):
            return None
        urls = ("previewImageUrl", "originalContentUrl") if kind == "image" else ("originalContentUrl",)
        given = [name for name in urls if content.get(name) is not None]
        if content.get("fileId") is not None:
            return "fileId cannot come with " + " or ".join(urls) if given else self._file_problem(content["fileId"])
        if len(given) != len(urls):
            return f"fileId or {' and '.join(urls)} is required"
        for name in urls:
            value = content[name]
            if not isinstance(value, str) or not value.startswith("https://") or len(value) > MAX_CONTENT_URL:
                return f"{name} must be an HTTPS URL of at most {MAX_CONTENT_URL} characters"
        return None

    def _file_problem(self, file_id: object) -> str | None:
        if not isinstance(file_id, str) or file_id not in self.files:
            return "fileId does not name an uploaded file"
        if self._created[file_id] + self.lifetime <= self.sim.clock():
            return "fileId has expired"
        return None

    def _expire_tokens_after(self, step: str) -> None:
        if self.expire_tokens_after == step:
            self.expire_tokens_after = None
            self.sim.expire_tokens()

    # ------------------------------------------------------------ bot-attachment-create
    async def _handle_create(self, request: web.Request) -> web.StreamResponse:
        refused, headers = self.sim._admit(request, CREATE)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        name = body.get("fileName") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            self.sim.requests.append((CREATE, 400))
            return _error(400, "INVALID_PARAMETER", "fileName is required", headers)
        now = self.sim.clock()
        file_id = f"jp1.sim{secrets.token_hex(8)}.{int(now + self.lifetime)}.0.{self.sim.bot_id}.0.0.0"
        upload_id = secrets.token_urlsafe(16)
        self._uploads[upload_id] = _Upload(file_id, name, now)
        self._created[file_id] = now
        self._expire_tokens_after("create")
        if self.lose_create_answers > 0:
            self.lose_create_answers -= 1
            self.sim.requests.append((CREATE, None))
            return drop_connection(request)
        self.sim.requests.append((CREATE, 200))
        path = UPLOAD_PATH.format(upload_id=upload_id, name=quote(name, safe=""))
        return web.json_response({"fileId": file_id, "uploadUrl": self.sim.base_url + path}, headers=headers)

    # ------------------------------------------------------------ the upload URL
    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        upload = self._uploads.get(request.match_info["upload_id"])
        refused = self.sim._auth_refusal(request) or self._upload_refusal(upload)
        data = await self._filedata(request) if refused is None else None
        if isinstance(data, str):
            refused = _error(400, "INVALID_PARAMETER", data)
        if refused is not None or upload is None or not isinstance(data, bytes):
            await request.release()  # read what is left, so the client gets the answer, not a reset
            refused = refused or _error(400, "INVALID_PARAMETER", "no file")
            self.sim.requests.append((UPLOAD, refused.status))
            return refused
        upload.used = True
        self.files[upload.file_id] = (upload.name, data)
        self._expire_tokens_after("upload")
        if self.lose_upload_answers > 0:
            self.lose_upload_answers -= 1
            self.sim.requests.append((UPLOAD, None))
            return drop_connection(request)
        self.sim.requests.append((UPLOAD, 200))
        return web.Response(status=200)

    def _upload_refusal(self, upload: _Upload | None) -> web.Response | None:
        if upload is None or upload.created + self.lifetime <= self.sim.clock():
            return _error(404, "NOT_FOUND", "the upload URL is unknown or has expired")
        if upload.used:
            return _error(400, "INVALID_PARAMETER", "the upload URL was already used")
        return None

    async def _filedata(self, request: web.Request) -> bytes | str:
        """The bytes of the "Filedata" part, or why the upload is refused. The whole body is read either way, so
        the client always gets its answer."""
        if request.content_type != "multipart/form-data":
            return "the upload must be multipart/form-data"
        found: bytes | str | None = None
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if isinstance(part, BodyPartReader) and part.name == UPLOAD_FIELD and found is None:
                    found = await self._read_part(part)
                else:
                    await part.release()
        except ValueError:
            return "the body is not valid multipart/form-data"
        return found if found is not None else f"the {UPLOAD_FIELD} part is missing"

    async def _read_part(self, part: BodyPartReader) -> bytes | str:
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk():
            size += len(chunk)
            if size <= self.max_upload_bytes:
                chunks.append(chunk)
        if size > self.max_upload_bytes:
            return f"the file exceeds {self.max_upload_bytes} bytes"
        return b"".join(chunks)
