"""Files the simulated server stores: documents, photos (with their sizes) and stickers, and PNG helpers."""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from simulator.protocol import JSONDict


@dataclass
class SimFile:
    """A stored file (uploaded by the bot or sent by a simulated user)."""

    file_id: str
    file_unique_id: str
    kind: str
    content: bytes
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.content)

    def to_json(self) -> JSONDict:
        data: JSONDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.kind == "photo":
            data.update(width=self.width, height=self.height, file_size=self.size)
            return data
        if self.kind == "sticker":
            data.update(
                type="regular",
                width=self.width or 512,
                height=self.height or 512,
                is_animated=False,
                is_video=False,
                file_size=self.size,
            )
            return data
        if self.filename is not None:
            data["file_name"] = self.filename
        if self.mime_type is not None:
            data["mime_type"] = self.mime_type
        data["file_size"] = self.size
        return data


class FileStore:
    """Every file the server knows, by file_id and by the path getFile hands out for downloading."""

    def __init__(self, token: str) -> None:
        self._token = token
        self._by_id: dict[str, SimFile] = {}
        self._by_path: dict[str, SimFile] = {}
        self._next = 1

    def get(self, file_id: str) -> SimFile | None:
        return self._by_id.get(file_id)

    def at_path(self, file_path: str) -> SimFile | None:
        return self._by_path.get(file_path)

    def add(
        self,
        kind: str,
        content: bytes,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> SimFile:
        number = self._next
        self._next += 1
        # Ids shaped like Telegram's (a type prefix, then opaque characters), stable for a given token.
        digest = hashlib.sha256(f"{self._token}:{kind}:{number}".encode()).hexdigest()
        prefix = {"document": "BQACAgUAAxkBAAI", "photo": "AgACAgUAAxkBAAI", "sticker": "CAACAgUAAxkBAAI"}.get(
            kind, "BAACAgUAAxkBAAI"
        )
        folder = {"photo": "photos", "sticker": "stickers"}.get(kind, "documents")
        extension = {"photo": ".jpg", "sticker": ".webp"}.get(kind, "")
        if filename and "." in filename:
            extension = "." + filename.rsplit(".", 1)[1]
        file = SimFile(
            file_id=f"{prefix}{number:06d}{digest[:40]}",
            file_unique_id=f"AQAD{number:04d}{digest[40:48]}",
            kind=kind,
            content=content,
            file_path=f"{folder}/file_{number}{extension}",
            filename=filename,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self._by_id[file.file_id] = file
        self._by_path[file.file_path] = file
        return file

    def add_photo(self, content: bytes, size: tuple[int, int]) -> list[SimFile]:
        """One file per size Telegram makes of a photo, smallest first (the last is the original size)."""
        return [self.add("photo", content, width=width, height=height) for width, height in photo_sizes(*size)]


def png_bytes(width: int = 1, height: int = 1, rgb: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    """Return a valid PNG image of the given size (for sendPhoto tests)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG image, or None if it is not one."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None


def is_other_image(data: bytes) -> bool:
    """A JPEG, GIF or WebP image: Telegram takes them, the simulator reads only PNG (what fieldbot sends)."""
    return data[:3] == b"\xff\xd8\xff" or data[:4] == b"GIF8" or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def photo_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """The sizes Telegram stores of a photo: boxes of 90, 320 and 800 pixels it exceeds, then at most 1280."""
    longest = max(width, height)
    boxes = [box for box in (90, 320, 800) if longest > box] + [min(longest, 1280)]
    return [(max(1, round(width * box / longest)), max(1, round(height * box / longest))) for box in boxes]
