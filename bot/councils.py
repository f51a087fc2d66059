"""A deployment of many councils on one machine (COUNCILS_DIR): the register and one folder per council.

    COUNCILS_DIR/
        councils.sqlite3         the register: codes, names, who is under whom, enabled or not
        <code>/fieldbot.sqlite3  the council's own database on SQLite (nothing of another council is ever in it)
        <code>/field.key         its own encryption key (made when the council is added; readable by its owner)
        <code>/taxonomy.toml     its categories, areas and zones (a copy of the file given; the built-in without)
        <code>/bot.token         its bot's token (a copy of the file given; never a value on a command line)
        <code>/council.env       its own settings (admins, digest schedule and chat, reminders...; OWN_SETTINGS)

Each council runs with the deployment's settings and its own database, key, taxonomy and token
(`council_settings`): a council's data is kept apart by construction, every query of its store reads its own
file, or with DATABASE_URL its own schema `council_<code>` of the deployment's PostgreSQL database (its
connections' search_path is that schema alone). One council on one database (the default) needs none of this.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings
from core.councils import UnknownCouncil, children_of
from core.crypto import Sealer, generate_key
from core.taxonomy import load_taxonomy
from services.deps import Child
from storage.engines import open_store
from storage.sqlite.registry import CouncilRegistry
from storage.sqlite.store import SqlStore

# The settings a council sets for itself in council.env (KEY=VALUE lines); the others are the deployment's.
OWN_SETTINGS = frozenset(
    {
        "ADMIN_TELEGRAM_IDS",
        "DIGEST_SCHEDULE",
        "DIGEST_CHAT_ID",
        "REMINDER_TIME",
        "TIMEZONE",
        "RETENTION_DAYS",
        "DRAFT_RETENTION_DAYS",
        "TELEGRAM_API_BASE_URL",
        "NOTE_TYPING",
        # Its LINE WORKS bot (the secrets are files of the folder: LINEWORKS_FILES), and who administers it there.
        "LINEWORKS_BOT_ID",
        "LINEWORKS_CLIENT_ID",
        "LINEWORKS_SERVICE_ACCOUNT",
        "LINEWORKS_API_BASE_URL",
        "LINEWORKS_AUTH_URL",
        "LINEWORKS_PER_MINUTE",
        "ADMIN_LINEWORKS_IDS",
        "LINEWORKS_DIGEST_CHANNEL_ID",
    }
)
# Never taken from the deployment: who is an admin, and which group chat gets the digest, belong to one council
# (a deployment-wide value would make one person admin of every council, or send every council's counts to one
# group).
NEVER_INHERITED: dict[str, object] = {
    "admin_telegram_ids": [],
    "digest_chat_id": None,
    # nor its LINE WORKS bot: one bot for every council would mix their staff
    "lineworks_bot_id": None,
    "lineworks_bot_secret": None,
    "lineworks_client_id": None,
    "lineworks_client_secret": None,
    "lineworks_service_account": None,
    "lineworks_private_key_file": None,
    "admin_lineworks_ids": [],
    "lineworks_digest_channel_id": None,
}
OWN = "council.env"
REGISTRY = "councils.sqlite3"
DATABASE = "fieldbot.sqlite3"
KEY = "field.key"
TAXONOMY = "taxonomy.toml"
TOKEN = "bot.token"
# The council's LINE WORKS secrets, each a file of its folder readable by its owner only: setting -> file name.
LINEWORKS_FILES = {
    "lineworks_bot_secret": "lineworks.bot_secret",
    "lineworks_client_secret": "lineworks.client_secret",
    "lineworks_private_key_file": "lineworks.key",
}


class NoDeployment(ValueError):
    """COUNCILS_DIR is not set: this is a single-council deployment."""


def councils_dir(settings: Settings) -> Path:
    if settings.councils_dir is None:
        raise NoDeployment
    return settings.councils_dir


def registry(settings: Settings) -> CouncilRegistry:
    return CouncilRegistry(councils_dir(settings) / REGISTRY)


def folder(settings: Settings, code: str) -> Path:
    return councils_dir(settings) / code


def _private_copy(source: Path, target: Path) -> None:
    """Copy a file readable by its owner only (a token, a key), never following into an existing file."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out)


def make_folder(settings: Settings, code: str, *, taxonomy: Path | None, token: Path | None) -> Path:
    """The council's folder with its own new key and copies of its taxonomy and token files."""
    where = folder(settings, code)
    where.mkdir(mode=0o700, parents=True, exist_ok=False)
    descriptor = os.open(where / KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(generate_key() + "\n")
    if taxonomy is not None:
        shutil.copyfile(taxonomy, where / TAXONOMY)
    if token is not None:
        _private_copy(token, where / TOKEN)
    return where


def save_secret(where: Path, setting: str, value: bytes) -> None:
    """One of the council's LINE WORKS secrets (LINEWORKS_FILES), written readable by its owner only."""
    descriptor = os.open(where / LINEWORKS_FILES[setting], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(value)


def _lineworks_secrets(where: Path) -> dict[str, object]:
    """The settings the council's LINE WORKS secret files give (none when it has no LINE WORKS bot)."""
    found: dict[str, object] = {}
    for setting, name in LINEWORKS_FILES.items():
        path = where / name
        if path.is_file():
            found[setting] = path if setting == "lineworks_private_key_file" else _read(path)
    return found


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def parse_own(lines: Iterable[str]) -> dict[str, str]:
    """KEY=VALUE settings of a council (blank lines and # comments skipped); SettingsError on another key."""
    found: dict[str, str] = {}
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, equals, value = text.partition("=")
        key = key.strip().upper()
        if not equals or key not in OWN_SETTINGS:
            raise SettingsError(
                f"council setting {key or text!r}: not one a council sets ({', '.join(sorted(OWN_SETTINGS))})"
            )
        found[key] = value.strip().strip('"')
    return found


def own_settings(where: Path) -> dict[str, str]:
    path = where / OWN
    return parse_own(path.read_text(encoding="utf-8").splitlines()) if path.is_file() else {}


def write_own(where: Path, values: dict[str, str]) -> None:
    (where / OWN).write_text("".join(f"{key}={value}\n" for key, value in sorted(values.items())), encoding="utf-8")


def schema_of(code: str) -> str:
    return f"council_{code}"


async def open_council_store(settings: Settings, sealer: Sealer | None = None) -> SqlStore:
    """A council's store on its engine: its SQLite file, or its schema of the deployment's PostgreSQL database.
    Without a key it counts and reports but never reads personal text."""
    return await open_store(settings.database_path, settings.postgres_url(), sealer, schema=settings.database_schema)


def council_settings(settings: Settings, code: str) -> Settings:
    """The deployment's settings with the council's own database, key, taxonomy and token."""
    where = folder(settings, code)
    if not where.is_dir():
        raise UnknownCouncil(code)
    overrides = settings.model_dump() | NEVER_INHERITED
    overrides.update({key.lower(): value for key, value in own_settings(where).items()})
    overrides.update(
        database_path=where / DATABASE,
        field_encryption_key=_read(where / KEY),
        taxonomy_file=where / TAXONOMY if (where / TAXONOMY).is_file() else None,
        telegram_bot_token=_read(where / TOKEN),
        council_code=code,
        **_lineworks_secrets(where),
        # On PostgreSQL every council has a schema of its own in the deployment's database.
        database_schema=schema_of(code) if settings.database_url is not None else None,
    )
    return load_settings(_env_file=None, **overrides)


class ChildStores:
    """The councils under one council, read from the register at each use (an `add` or a `disable` counts at
    once) and opened for one report: their stores without a key (counts only, never personal text)."""

    def __init__(self, settings: Settings, parent: str) -> None:
        self.settings = settings
        self.parent = parent

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[list[Child]]:
        under = children_of(registry(self.settings).all(), self.parent)
        async with AsyncExitStack() as stack:
            found = []
            for council in under:
                own = council_settings(self.settings, council.code)
                if own.database_url is None and not own.database_path.is_file():
                    continue  # added but its database is gone: nothing to count, and nothing is created
                store = await open_council_store(own)
                stack.push_async_callback(store.close)
                found.append(Child(council, store, load_taxonomy(own.taxonomy_file)))
            yield found


def child_councils(settings: Settings) -> ChildStores | None:
    """For a council of COUNCILS_DIR with councils under it, a way to read theirs; else None."""
    code = settings.council_code
    if code is None or settings.councils_dir is None:
        return None
    return ChildStores(settings, code) if children_of(registry(settings).all(), code) else None
