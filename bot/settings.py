"""Settings from the environment or a .env file, checked at start-up with one clear line per problem."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
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
    # PostgreSQL instead of SQLite (postgresql://user:password@host/db): a secret, as it may hold a password.
    database_url: SecretStr | None = None
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
    database_schema: str | None = None  # with DATABASE_URL, the council's own schema (bot/councils.py)
    # Webhooks (`fieldbot serve` / `fieldbot work`, bot/webhook.py and bot/worker.py); long polling needs none.
    public_url: str | None = None  # the https:// address Telegram posts to (the proxy in front of SERVE_PORT)
    serve_host: str = "127.0.0.1"
    serve_port: int = 8080
    webhook_secret: SecretStr | None = None  # unset: derived from the token (webhook_secret_token())
    serve_workers: int = 4  # workers inside `fieldbot serve` (asyncio tasks); 0: `fieldbot work` processes only
    worker_lease_seconds: float = 30.0  # a worker silent this long is taken for dead and its update taken over
    worker_poll_seconds: float = 0.5  # how often a `fieldbot work` process with nothing to do looks again
    # The note form (bot/notes.py), offered when PUBLIC_URL is set: whether personal text may still be typed into
    # the chat (it is removed once saved), and how old a Mini App's launch data may be.
    note_typing: bool = True
    note_launch_max_age_minutes: int = 10
    # LINE WORKS (bot/lineworks/), a second front end beside Telegram, on when LINEWORKS_BOT_ID is set: the
    # Developer Console's bot and app (client id and secret, service account, private key file). Its callbacks come
    # to PUBLIC_URL/lineworks/<bot id>; personal text goes through the note form, so PUBLIC_URL is required.
    lineworks_bot_id: str | None = None
    lineworks_bot_secret: SecretStr | None = None
    lineworks_client_id: str | None = None
    lineworks_client_secret: SecretStr | None = None
    lineworks_service_account: str | None = None
    lineworks_private_key_file: Path | None = None
    lineworks_api_base_url: str = "https://www.worksapis.com/v1.0"
    lineworks_auth_url: str = "https://auth.worksmobile.com/oauth2/v2.0/token"
    lineworks_per_minute: int = 60  # the domain's API calls a minute (free plan 60, paid plans 240)
    admin_lineworks_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    lineworks_digest_channel_id: str | None = None  # a LINE WORKS room that gets the digest, counts only

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

    @field_validator("admin_lineworks_ids", mode="before")
    @classmethod
    def _lineworks_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("lineworks_bot_id")
    @classmethod
    def _lineworks_bot(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{1,19}", value.strip()):
            raise ValueError("must be the bot's number from the LINE WORKS Developer Console")
        return value.strip() if value is not None else None

    @field_validator("lineworks_per_minute")
    @classmethod
    def _per_minute(cls, value: int) -> int:
        if not 1 <= value <= 10000:
            raise ValueError("must be the domain's API calls a minute (60 on the free plan, 240 on paid plans)")
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

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        url = value.get_secret_value().strip()
        if not re.match(r"^postgres(ql)?://", url):
            # Never echo the value: it may hold a password.
            raise ValueError("must be a PostgreSQL URL, postgresql://user:password@host:5432/database")
        return SecretStr(url)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: Any) -> Any:
        if value in ("", None):
            return None
        text = str(value).strip().rstrip("/")
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
            raise ValueError("must be the bot's public address, e.g. https://bot.example.org (no query string)")
        return text

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value.get_secret_value().strip()):
            raise ValueError("must be 16 to 256 characters of A-Z, a-z, 0-9, _ and - (as Telegram accepts)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("serve_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError("must be a TCP port, 1 to 65535")
        return value

    @field_validator("serve_workers")
    @classmethod
    def _workers(cls, value: int) -> int:
        if not 0 <= value <= 64:
            raise ValueError("must be 0 to 64 (0: only `fieldbot work` processes handle updates)")
        return value

    @field_validator("worker_lease_seconds", "worker_poll_seconds")
    @classmethod
    def _seconds(cls, value: float) -> float:
        if not 0.01 <= value <= 3600:
            raise ValueError("must be a number of seconds, 0.01 to 3600")
        return value

    def webhook_secret_token(self) -> str:
        """The secret Telegram sends with every webhook (X-Telegram-Bot-Api-Secret-Token): WEBHOOK_SECRET, or
        HMAC-SHA256 of a fixed label keyed by the bot's token, base64url: the same in every process, no extra
        secret to keep, and a new one when the token is revoked."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        if self.telegram_bot_token is None:
            return ""  # no Telegram bot (LINE WORKS alone): no webhook, nothing it guards
        digest = hmac.new(self.token().encode(), b"fieldbot webhook secret v1", hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def log_secrets(self) -> list[str]:
        """Every secret value a log line must never show (bot/logs.py redacts them): tokens and bot secrets."""
        values = [self.telegram_bot_token, self.lineworks_bot_secret, self.lineworks_client_secret]
        found = [value.get_secret_value() for value in values if value is not None]
        webhook = self.webhook_secret_token()
        return [secret for secret in [*found, webhook] if secret]

    def postgres_url(self) -> str | None:
        """DATABASE_URL when set (the PostgreSQL engine), else None (SQLite at DATABASE_PATH)."""
        return None if self.database_url is None else self.database_url.get_secret_value()

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


LINEWORKS_NEEDED = (
    "lineworks_bot_secret",
    "lineworks_client_id",
    "lineworks_client_secret",
    "lineworks_service_account",
    "lineworks_private_key_file",
)


@dataclass(frozen=True, slots=True)
class LineWorksSettings:
    """One council's LINE WORKS bot, complete (Settings.lineworks)."""

    bot_id: str
    bot_secret: str
    client_id: str
    client_secret: str
    service_account: str
    private_key: bytes
    api_base_url: str
    auth_url: str
    per_minute: int
    admins: tuple[str, ...]
    digest_channel: str | None = None


def lineworks_settings(settings: Settings) -> LineWorksSettings | None:
    """The council's LINE WORKS bot, or None when LINEWORKS_BOT_ID is unset; SettingsError naming what is missing."""
    if settings.lineworks_bot_id is None:
        return None
    missing = [name.upper() for name in LINEWORKS_NEEDED if getattr(settings, name) is None]
    if missing:
        raise SettingsError(f"LINEWORKS_BOT_ID is set but not {', '.join(missing)}")
    if settings.public_url is None:
        raise SettingsError("LINEWORKS_BOT_ID is set but not PUBLIC_URL: LINE WORKS posts its callbacks there")
    key_file = settings.lineworks_private_key_file
    assert key_file is not None
    try:
        private_key = key_file.read_bytes()
    except OSError as exc:
        raise SettingsError(f"setting LINEWORKS_PRIVATE_KEY_FILE: cannot read {key_file} ({exc.strerror})") from None

    def secret(value: SecretStr | None) -> str:
        assert value is not None
        return value.get_secret_value().strip()

    return LineWorksSettings(
        bot_id=settings.lineworks_bot_id,
        bot_secret=secret(settings.lineworks_bot_secret),
        client_id=str(settings.lineworks_client_id),
        client_secret=secret(settings.lineworks_client_secret),
        service_account=str(settings.lineworks_service_account),
        private_key=private_key,
        api_base_url=settings.lineworks_api_base_url,
        auth_url=settings.lineworks_auth_url,
        per_minute=settings.lineworks_per_minute,
        admins=tuple(settings.admin_lineworks_ids),
        digest_channel=settings.lineworks_digest_channel_id,
    )


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
