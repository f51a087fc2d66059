"""Settings: defaults, one clear line per wrong setting, and the token never shown."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings

TOKEN = "123456789:AAH-secret-value-do-not-print-0123456789"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_API_BASE_URL",
        "DATABASE_PATH",
        "TIMEZONE",
        "TAXONOMY_FILE",
        "ADMIN_TELEGRAM_IDS",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]


def test_defaults() -> None:
    settings = load_settings()
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert str(settings.database_path) == "data/fieldbot.sqlite3"
    assert settings.timezone == "Asia/Tokyo" and settings.taxonomy_file is None
    assert settings.admin_telegram_ids == []


def test_admin_ids_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_TELEGRAM_IDS", " 11, 22,33 ")
    assert load_settings().admin_telegram_ids == [11, 22, 33]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TIMEZONE", "Asia/Tokio", "setting TIMEZONE: unknown time zone 'Asia/Tokio'"),
        ("ADMIN_TELEGRAM_IDS", "12,abc", "setting ADMIN_TELEGRAM_IDS: 'abc' is not a Telegram user id"),
        ("TELEGRAM_API_BASE_URL", "api.telegram.org", "setting TELEGRAM_API_BASE_URL: must be an http"),
        ("LOG_LEVEL", "LOUD", "setting LOG_LEVEL: must be one of"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_a_malformed_token_is_named_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token-secretvalue")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "TELEGRAM_BOT_TOKEN" in str(caught.value) and "secretvalue" not in str(caught.value)


def test_a_missing_token_is_named_when_needed() -> None:
    with pytest.raises(SettingsError, match="setting TELEGRAM_BOT_TOKEN is missing"):
        load_settings().token()


def test_the_token_is_masked_when_settings_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = load_settings()
    assert settings.token() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings) and TOKEN not in settings.model_dump_json()


def test_settings_are_read_from_a_dotenv_file(tmp_path: object) -> None:
    from pathlib import Path

    Path(".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nTIMEZONE=UTC\n", encoding="utf-8")
    settings = load_settings()
    assert settings.timezone == "UTC" and settings.token() == TOKEN
