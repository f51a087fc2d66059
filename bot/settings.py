"""Settings from the environment or a .env file, checked at start-up with one clear line per problem."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.crypto import Sealer, SealError, parse_key
from core.schedule import DigestSchedule

TOKEN_SHAPE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"


class SettingsError(ValueError):
    """A missing or wrong setting; the message names the setting and never shows a secret's value."""


class Settings(BaseSettings):
    # An empty value means "not set", as in a copied .env.example (TELEGRAM_BOT_TOKEN= starts the demo).
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = DEFAULT_API_BASE_URL
    database_path: Path = Path("./data/fieldbot.sqlite3")
    timezone: str = "Asia/Tokyo"
    taxonomy_file: Path | None = None
    admin_telegram_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    # Telegram's flood limits (about 30 messages a second); off only for a Bot API server without them.
    telegram_rate_limit: bool = True
    digest_schedule: str = "mon 08:30"
    digest_chat_id: int | None = None
    field_encryption_key: SecretStr | None = None
    reminder_time: str = "09:00"
    retention_days: int = 365
    draft_retention_days: int = 30
    # Many councils on one machine: the register and a folder per council (bot/councils.py). Unset: one council.
    councils_dir: Path | None = None
    council_code: str | None = None  # set for each council of COUNCILS_DIR (bot/councils.py), never by hand

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not TOKEN_SHAPE.match(value.get_secret_value().strip()):
            # Never echo the value: it is a credential even when malformed.
            raise ValueError("does not look like a bot token from BotFather (digits, a colon, then the secret)")
        return SecretStr(value.get_secret_value().strip()) if value is not None else None

    @field_validator("telegram_api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL, e.g. https://api.telegram.org/bot")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Tokyo)") from None
        return value

    @field_validator("taxonomy_file", "councils_dir", mode="before")
    @classmethod
    def _empty_path(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            for part in parts:
                if not re.fullmatch(r"\d{1,19}", part):
                    raise ValueError(f"{part!r} is not a Telegram user id (a number); separate ids with commas")
            return [int(p) for p in parts]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("digest_schedule")
    @classmethod
    def _digest_schedule(cls, value: str) -> str:
        if value.strip().lower() in ("off", "none", ""):
            return "off"
        DigestSchedule.parse(value)
        return value.strip().lower()

    @field_validator("digest_chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: Any) -> Any:
        if value in ("", None):
            return None
        if isinstance(value, str) and not re.fullmatch(r"-?\d{1,20}", value.strip()):
            raise ValueError("must be a chat id: a number, negative for groups (e.g. -1001234567890)")
        return value

    @field_validator("field_encryption_key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            parse_key(value.get_secret_value())
        except SealError as exc:
            raise ValueError(str(exc)) from None  # the message never contains the key
        return SecretStr(value.get_secret_value().strip())

    @field_validator("reminder_time")
    @classmethod
    def _reminder_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"{value!r} is not a time like 09:00")
        return value.strip()

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1 (days after closing before a follow-up's text is erased)")
        return value

    @field_validator("draft_retention_days")
    @classmethod
    def _draft_retention(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1 (days without an answer before a record in progress is dropped)")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    def sealer(self) -> Sealer:
        if self.field_encryption_key is None:
            raise SettingsError(
                "setting FIELD_ENCRYPTION_KEY is missing: make one with `fieldbot keygen`, put it in .env, "
                "and keep a copy somewhere safe (without it the follow-up notes cannot be read)"
            )
        return Sealer.from_text(self.field_encryption_key.get_secret_value())

    @property
    def reminder_at(self) -> time:
        hours, minutes = self.reminder_time.split(":")
        return time(int(hours), int(minutes))

    @property
    def schedule(self) -> DigestSchedule | None:
        return None if self.digest_schedule == "off" else DigestSchedule.parse(self.digest_schedule)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def token(self) -> str:
        if self.telegram_bot_token is None:
            raise SettingsError("setting TELEGRAM_BOT_TOKEN is missing: get a token from @BotFather and put it in .env")
        return self.telegram_bot_token.get_secret_value()


def readable_by_others(*paths: Path) -> list[Path]:
    """Which of these files (that exist) other users of the machine can read: secrets there are not secret."""
    return [p for p in paths if p.is_file() and p.stat().st_mode & 0o077]


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; on a problem raise SettingsError naming the setting (as its environment variable)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"][:1]).upper() or "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] in ("int_parsing", "int_type", "list_type"):
            message = "must be a number" if name != "ADMIN_TELEGRAM_IDS" else "must be numbers separated by commas"
        raise SettingsError(f"setting {name}: {message}") from None
