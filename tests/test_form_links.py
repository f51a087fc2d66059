"""The note form's links (core/webapp.py): sealed, bound to what they open and for whom, alive 10 minutes as a
plain link (a day as a Mini App, whose launch data proves who opens it), and usable once (storage)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.crypto import Sealer, generate_key
from core.webapp import LINK_TTL, FormLinks, LinkClaims, LinkError, link_token_hash
from storage.sqlite.store import SqlStore

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
KEY = Sealer.from_text(generate_key())


def links(sealer: Sealer = KEY, bot_id: int = 123) -> FormLinks:
    return FormLinks(sealer, "https://bot.example.org/fieldbot/", bot_id)


def claims(**changes: object) -> LinkClaims:
    values: dict[str, object] = {
        "purpose": "draft",
        "user_id": 555,
        "subject": 7,
        "issued_at": int(NOW.timestamp()),
        "version": 3,
        "step": "fu_reason.0",
    }
    values.update(changes)
    return LinkClaims(**values)  # type: ignore[arg-type]


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@given(
    purpose=st.sampled_from(["draft", "note", "read"]),
    user_id=st.integers(1, 2**53),
    subject=st.integers(1, 2**40),
    version=st.integers(0, 10**6),
    step=st.sampled_from(["", "fu_label.0", "fu_reason.12", "summary"]),
)
def test_a_link_reads_back_what_it_was_made_for(
    purpose: str, user_id: int, subject: int, version: int, step: str
) -> None:
    made = claims(purpose=purpose, user_id=user_id, subject=subject, version=version, step=step)
    url = links().url(made)
    assert url.startswith("https://bot.example.org/fieldbot/note/123/")
    assert links().read(token_of(url), NOW, launched=False) == made
    assert step == "" or step not in url  # sealed: nothing it names can be read off it


def test_two_links_for_the_same_question_differ() -> None:
    assert links().token(claims()) != links().token(claims())  # a fresh nonce each: at least 96 random bits


def test_a_plain_link_lives_ten_minutes_a_mini_app_link_a_day() -> None:
    token = links().token(claims())
    assert links().read(token, NOW + LINK_TTL, launched=False).subject == 7
    with pytest.raises(LinkError, match="expired"):
        links().read(token, NOW + LINK_TTL + timedelta(seconds=1), launched=False)
    assert links().read(token, NOW + timedelta(hours=23), launched=True).subject == 7
    with pytest.raises(LinkError, match="expired"):
        links().read(token, NOW + timedelta(days=1, seconds=1), launched=True)
    with pytest.raises(LinkError, match="expired"):  # from the future: a clock far ahead made it
        links().read(token, NOW - timedelta(minutes=5), launched=True)


def test_a_changed_foreign_or_garbled_link_opens_nothing() -> None:
    token = links().token(claims())
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for k in range(len(raw)):
        changed = raw.copy()
        changed[k] ^= 0x01
        text = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
        with pytest.raises(LinkError, match=r"forged|malformed"):
            links().read(text, NOW, launched=False)
    other_council = links(Sealer.from_text(generate_key()))
    with pytest.raises(LinkError, match="forged"):
        other_council.read(token, NOW, launched=False)
    for garbled in ("", "short", "a" * 300, token + "/x", "é" * 50):
        with pytest.raises(LinkError):
            links().read(garbled, NOW, launched=False)


def test_the_links_key_is_not_the_key_of_the_data_at_rest() -> None:
    sealed = KEY.seal("draft|1|1|0|x|0", "form_link:123")  # sealed with the data's own key
    token = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()
    with pytest.raises(LinkError, match="forged"):
        links().read(token, NOW, launched=False)


async def test_a_link_is_used_once_and_its_use_is_forgotten_only_after_it_expired(store: SqlStore) -> None:
    token_hash = link_token_hash(links().token(claims()))
    async with store.unit(None, NOW) as tx:
        assert await store.used_links.use(tx, token_hash, "draft", 1, NOW)
    async with store.unit(None, NOW) as tx:
        assert not await store.used_links.use(tx, token_hash, "draft", 1, NOW)
    assert await store.used_links.used(token_hash)
    assert await store.used_links.prune(NOW) == 0
    assert await store.used_links.prune(NOW + timedelta(days=2)) == 1
    assert not await store.used_links.used(token_hash)


def test_a_link_opens_nothing_on_another_bot_even_under_the_same_key() -> None:
    token = links(bot_id=123).token(claims())
    with pytest.raises(LinkError, match="forged"):
        links(bot_id=124).read(token, NOW, launched=False)
