"""Mini App initData checked as Telegram specifies; one-time link tokens and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.webapp import (
    InitDataError,
    check_init_data,
    csrf_ok,
    csrf_token,
    link_token_hash,
    new_link_token,
    sign_init_data,
)

TOKEN = "123456:" + "A" * 35
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _fields(user_id: int = 42, at: datetime = NOW) -> dict[str, str]:
    return {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": "花子", "language_code": "ja"}, ensure_ascii=False),
        "auth_date": str(int(at.timestamp())),
    }


def test_the_documented_scheme_by_hand() -> None:
    """The hash is recomputed here from the specification's words, not with the module's own helper."""
    fields = _fields()
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    signed = dict(parse_qsl(sign_init_data(TOKEN, fields)))
    assert signed["hash"] == expected
    launch = check_init_data(TOKEN, urlencode({**fields, "hash": expected}), NOW + timedelta(minutes=1))
    assert launch.user_id == 42 and launch.query_id == "AAHdF6IQAAAAAN0XohDhrOrc"


def _reason(init_data: str, now: datetime = NOW, token: str = TOKEN) -> str:
    with pytest.raises(InitDataError) as refused:
        check_init_data(token, init_data, now)
    return refused.value.reason


def test_a_hash_changed_by_one_character_is_forged() -> None:
    data = dict(parse_qsl(sign_init_data(TOKEN, _fields())))
    last = data["hash"][-1]
    data["hash"] = data["hash"][:-1] + ("0" if last != "0" else "1")
    assert _reason(urlencode(data)) == "forged"


def test_another_bots_token_or_a_changed_user_is_forged() -> None:
    signed = sign_init_data(TOKEN, _fields())
    assert _reason(signed, token="654321:" + "B" * 35) == "forged"
    data = dict(parse_qsl(signed))
    data["user"] = data["user"].replace("42", "43")
    assert _reason(urlencode(data)) == "forged"


def test_old_launches_missing_hashes_and_repeated_keys_are_refused() -> None:
    assert _reason(sign_init_data(TOKEN, _fields(at=NOW - timedelta(minutes=11)))) == "expired"
    assert _reason(sign_init_data(TOKEN, _fields(at=NOW + timedelta(minutes=5)))) == "expired"
    assert _reason(urlencode(_fields())) == "unsigned"
    assert _reason(sign_init_data(TOKEN, _fields()) + "&user=x") == "malformed"
    assert _reason("") == "unsigned"
    assert check_init_data(TOKEN, sign_init_data(TOKEN, _fields(at=NOW - timedelta(minutes=9))), NOW).user_id == 42


@given(st.text(max_size=200))
def test_arbitrary_text_never_passes(text: str) -> None:
    with pytest.raises(InitDataError):
        check_init_data(TOKEN, text, NOW)


def test_link_tokens_are_long_random_and_stored_only_as_a_hash() -> None:
    tokens = {new_link_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(token) >= 32 for token in tokens)  # 192 bits in URL-safe base64
    token = tokens.pop()
    assert link_token_hash(token) == hashlib.sha256(token.encode()).hexdigest() and token not in link_token_hash(token)


def test_csrf_tokens_belong_to_one_link_and_one_secret() -> None:
    secret, other = b"s" * 32, b"o" * 32
    a, b = link_token_hash(new_link_token()), link_token_hash(new_link_token())
    assert csrf_ok(secret, a, csrf_token(secret, a))
    assert not csrf_ok(secret, b, csrf_token(secret, a))
    assert not csrf_ok(other, a, csrf_token(secret, a))
    assert not csrf_ok(secret, a, "")
