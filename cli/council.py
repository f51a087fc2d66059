"""`fieldbot council add|list|disable|enable`: the councils of a deployment (COUNCILS_DIR), from the terminal."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
from pathlib import Path

from bot.councils import (
    NoDeployment,
    council_settings,
    folder,
    make_folder,
    open_council_store,
    parse_own,
    registry,
    save_secret,
    write_own,
)
from bot.lineworks.client import load_private_key
from bot.settings import TOKEN_SHAPE, Settings, load_settings
from cli.common import CommandError, clock_of, settings_for
from core.councils import Council, CouncilError, CouncilExists, UnknownCouncil, check_code
from core.i18n import t
from core.taxonomy import load_taxonomy


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    council = commands.add_parser(
        "council", help="the councils of a deployment for many councils (COUNCILS_DIR): add, list, disable, enable"
    )
    action = council.add_subparsers(dest="action", required=True)
    add = action.add_parser("add", help="register a council with its own database, key, taxonomy and bot token")
    add.add_argument("code", help="a short code: lower-case letters, digits and _ (e.g. kita); names its folder")
    add.add_argument("--name", required=True, help="the council's name as it publishes it")
    add.add_argument("--short", default="", help="the short name heading its column in a city table")
    add.add_argument("--parent", metavar="CODE", help="the council above it (a city council over its ward councils)")
    add.add_argument("--taxonomy", type=Path, metavar="FILE", help="its taxonomy file (default: the built-in one)")
    add.add_argument("--token-file", type=Path, metavar="FILE", help="a file holding its bot token (never the value)")
    lineworks = add.add_argument_group(
        "LINE WORKS",
        "the council's LINE WORKS bot (Developer Console); secrets as files or as the name of an "
        "environment variable holding them, never as values",
    )
    lineworks.add_argument("--lineworks-bot-id", metavar="ID", help="the bot's number")
    lineworks.add_argument("--lineworks-client-id", metavar="ID", help="the app's client id")
    lineworks.add_argument("--lineworks-service-account", metavar="ACCOUNT", help="the app's service account")
    for secret, what in (("bot-secret", "the bot secret"), ("client-secret", "the app's client secret")):
        lineworks.add_argument(f"--lineworks-{secret}-file", type=Path, metavar="FILE", help=f"a file holding {what}")
        lineworks.add_argument(
            f"--lineworks-{secret}-from", metavar="NAME", help=f"an environment variable holding {what}"
        )
    lineworks.add_argument(
        "--lineworks-private-key-file", type=Path, metavar="FILE", help="the app's private key (PEM), copied"
    )
    add.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one of its own settings (ADMIN_TELEGRAM_IDS, ADMIN_LINEWORKS_IDS, DIGEST_SCHEDULE, DIGEST_CHAT_ID, "
        "REMINDER_TIME, TIMEZONE, RETENTION_DAYS, DRAFT_RETENTION_DAYS, TELEGRAM_API_BASE_URL, NOTE_TYPING…); "
        "again for another",
    )
    action.add_parser("list", help="list the councils, who is under whom, and which are disabled")
    for name, what in (("disable", "stop serving a council (its data stays)"), ("enable", "serve it again")):
        switch = action.add_parser(name, help=what)
        switch.add_argument("code")
    council.set_defaults(func=cmd_council)


def cmd_council(args: argparse.Namespace) -> None:
    settings = settings_for(args)
    try:
        if args.action == "add":
            _add(args, settings)
        elif args.action == "list":
            _list(settings)
        elif not registry(settings).set_enabled(args.code, args.action == "enable"):
            raise UnknownCouncil(args.code)
        else:
            print(t(f"cli.council.{args.action}d", code=args.code))
    except NoDeployment:
        raise CommandError(t("cli.council.no_deployment")) from None
    except CouncilExists as exc:
        raise CommandError(t("cli.council.exists", code=exc.code)) from None
    except UnknownCouncil as exc:
        raise CommandError(t("cli.council.unknown", code=exc.code)) from None
    except CouncilError as exc:
        raise CommandError(t("cli.council.bad_code", code=exc.code)) from None


def _check_files(args: argparse.Namespace) -> None:
    """Refuse what would make a council that cannot start: a taxonomy that does not load, a token that is not one."""
    if args.taxonomy is not None:
        if not args.taxonomy.is_file():
            raise CommandError(t("cli.council.no_file", path=args.taxonomy))
        load_taxonomy(args.taxonomy)  # a TaxonomyError names the file and the problem
    if args.token_file is not None:
        if not args.token_file.is_file():
            raise CommandError(t("cli.council.no_file", path=args.token_file))
        if not TOKEN_SHAPE.match(args.token_file.read_text(encoding="utf-8").strip()):
            raise CommandError(t("cli.council.bad_token", path=args.token_file))


def _add(args: argparse.Namespace, settings: Settings) -> None:
    code = check_code(args.code)
    register = registry(settings)
    if register.get(code) is not None:
        raise CouncilExists(code)
    if args.parent is not None and register.get(args.parent) is None:
        raise UnknownCouncil(args.parent)
    _check_files(args)
    own = parse_own(args.set)
    secrets = _lineworks(args, own)
    load_settings(
        _env_file=None, **{key.lower(): value for key, value in own.items()}
    )  # checked before anything is made
    if folder(settings, code).exists():
        raise CommandError(t("cli.council.folder_exists", path=folder(settings, code)))
    where = make_folder(settings, code, taxonomy=args.taxonomy, token=args.token_file)
    try:
        if own:
            write_own(where, own)
        for setting, value in secrets.items():
            save_secret(where, setting, value)
        mine = council_settings(settings, code)
        asyncio.run(_create_database(mine))
        council = Council(
            code=code, name=args.name.strip(), short_name=args.short.strip(), parent=args.parent, enabled=True
        )
        register.add(council, clock_of(args).now())
    except BaseException:
        shutil.rmtree(where, ignore_errors=True)  # nothing half-made is left to trip the next `add`
        raise
    print(t("cli.council.added", code=code, name=council.name, path=where))


def _secret(args: argparse.Namespace, name: str) -> bytes | None:
    """A LINE WORKS secret from its file or its environment variable (never a value on the command line)."""
    path: Path | None = getattr(args, f"lineworks_{name}_file")
    variable: str | None = getattr(args, f"lineworks_{name}_from", None)
    if path is not None and variable is not None:
        raise CommandError(t("cli.council.lineworks_twice", name=name.replace("_", "-")))
    if path is not None:
        if not path.is_file():
            raise CommandError(t("cli.council.no_file", path=path))
        return path.read_bytes().strip()
    if variable is not None:
        value = os.environ.get(variable, "").strip()
        if not value:
            raise CommandError(t("cli.council.no_variable", name=variable))
        return value.encode("utf-8")
    return None


def _lineworks(args: argparse.Namespace, own: dict[str, str]) -> dict[str, bytes]:
    """The council's LINE WORKS bot from the options: its plain settings go into `own`, its secrets are returned
    (setting -> bytes, each to a file of the folder). All or nothing: a partial bot would not start."""
    plain = {
        "LINEWORKS_BOT_ID": args.lineworks_bot_id,
        "LINEWORKS_CLIENT_ID": args.lineworks_client_id,
        "LINEWORKS_SERVICE_ACCOUNT": args.lineworks_service_account,
    }
    secrets = {
        "lineworks_bot_secret": _secret(args, "bot_secret"),
        "lineworks_client_secret": _secret(args, "client_secret"),
        "lineworks_private_key_file": _secret(args, "private_key"),
    }
    given = [k for k, v in plain.items() if v] + [k for k, v in secrets.items() if v is not None]
    if not given:
        return {}
    missing = [k for k, v in plain.items() if not v] + [k.upper() for k, v in secrets.items() if v is None]
    if missing:
        raise CommandError(t("cli.council.lineworks_missing", missing=", ".join(missing)))
    try:
        load_private_key(secrets["lineworks_private_key_file"] or b"")
    except (ValueError, TypeError):
        raise CommandError(t("cli.council.lineworks_bad_key", path=args.lineworks_private_key_file)) from None
    own.update({k: str(v).strip() for k, v in plain.items()})
    return {k: v for k, v in secrets.items() if v is not None}


async def _create_database(settings: Settings) -> None:
    store = await open_council_store(settings, settings.sealer())
    await store.close()


def _list(settings: Settings) -> None:
    councils = registry(settings).all()
    if not councils:
        print(t("cli.council.none"))
        return
    for council in councils:
        state = t("cli.council.state_on" if council.enabled else "cli.council.state_off")
        parent = t("cli.council.under", parent=council.parent) if council.parent else ""
        print(t("cli.council.line", code=council.code, name=council.name, parent=parent, state=state))
