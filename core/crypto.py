"""Encryption at rest for personal free text (follow-up reasons and notes, memos, drafts, received updates).

AES-256-GCM (authenticated: a changed byte or a wrong key is detected, never decrypted into garbage).
Each value is sealed with a fresh 96-bit nonce and bound to where it is stored (the table and column go in as
associated data), so a sealed reason cannot be moved into another column and read there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
NONCE_BYTES = 12
KEY_ID_BYTES = 4


class SealError(ValueError):
    """The key is malformed, or is not the key a value was sealed with."""


def generate_key() -> str:
    """A new random key, as the text to put in FIELD_ENCRYPTION_KEY."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def parse_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii") + b"=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise SealError("is not base64 text (make a key with `fieldbot keygen`)") from None
    if len(raw) != 32:
        raise SealError("must be 32 bytes in base64, 44 characters (make a key with `fieldbot keygen`)")
    return raw


class Sealer:
    """Seals and opens text with one key. The key id (a hash prefix) in each value tells a wrong key at once."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"fieldbot key id" + key).digest()[:KEY_ID_BYTES]

    @classmethod
    def from_text(cls, text: str) -> Sealer:
        return cls(parse_key(text))

    def derived(self, purpose: str) -> Sealer:
        """A sealer with a key of its own for `purpose` (HMAC-SHA256 of the purpose under this key): what it seals
        (the note form's links) never opens with the key of the data at rest, nor the other way round."""
        return Sealer(hmac.new(self._key, purpose.encode("ascii"), hashlib.sha256).digest())

    def seal(self, plaintext: str, where: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), where.encode("ascii"))
        return VERSION + self.key_id + nonce + sealed

    def open(self, blob: bytes, where: str) -> str:
        if not blob.startswith(VERSION) or len(blob) < 1 + KEY_ID_BYTES + NONCE_BYTES + 16:
            raise SealError("not a sealed value")
        if blob[1 : 1 + KEY_ID_BYTES] != self.key_id:
            raise SealError("sealed with another key")
        nonce = blob[1 + KEY_ID_BYTES : 1 + KEY_ID_BYTES + NONCE_BYTES]
        try:
            plain = self._aead.decrypt(nonce, blob[1 + KEY_ID_BYTES + NONCE_BYTES :], where.encode("ascii"))
        except InvalidTag:
            raise SealError("does not open with this key (changed, or sealed for another column)") from None
        return plain.decode("utf-8")

    def seal_optional(self, plaintext: str | None, where: str) -> bytes | None:
        return None if plaintext is None else self.seal(plaintext, where)

    def open_optional(self, blob: bytes | None, where: str) -> str | None:
        return None if blob is None else self.open(blob, where)
