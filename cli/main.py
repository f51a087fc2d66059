"""The `fieldbot` command: run the bot, and the admin tools around it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.app import FieldBot
from bot.lineworks.client import load_private_key
from bot.logs import configure_logging
from bot.settings import (
    DEFAULT_API_BASE_URL,
    Settings,
    SettingsError,
    lineworks_settings,
    load_settings,
    readable_by_others,
)
from bot.webhook import ListenerError
from cli import admin as admincli
from cli import council as councilcli
from cli import migrate as migratecli
from cli import places as placescli
from cli import report as reportcli
from cli import serve as servecli
from cli import tallies as talliescli
from cli.common import (
    PER_COUNCIL,
    CommandError,
    add_council_option,
    existing_database,
    of_council,
    open_database,
    settings_for,
)
from core.clock import Clock, SystemClock
from core.i18n import t
from core.models import Role
from core.taxonomy import TaxonomyError, load_taxonomy
from demo import DEFAULT_DATA, DemoError, Messenger
from storage.sqlite.seal import key_opens
from storage.types import StorageError

log = logging.getLogger("fieldbot")


class StartupError(Exception):
    """A problem that stops start-up: printed as one line, never a traceback."""


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise StartupError(str(exc)) from None


def _why(exc: BaseException, settings: Settings) -> str:
    """One line for what stopped the bot, naming the setting to look at when there is one."""
    if isinstance(exc, InvalidToken):
        return "setting TELEGRAM_BOT_TOKEN: the Bot API refused the token (revoked or mistyped?)"
    if isinstance(exc, Conflict) and "webhook" in str(exc).lower():
        return "the bot has a webhook (fieldbot serve): stop serve and run `fieldbot serve --delete-webhook` first"
    if isinstance(exc, Conflict):
        return "another process polls with the same TELEGRAM_BOT_TOKEN; only one may run"
    if isinstance(exc, RetryAfter):
        return f"the Bot API asks to wait {exc.retry_after} s (flood limit); start again later"
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest | Forbidden):
        where = f"cannot reach the Bot API at {settings.telegram_api_base_url} ({type(exc).__name__})"
        if settings.telegram_api_base_url != DEFAULT_API_BASE_URL:
            return f"{where}; check the network, then the setting TELEGRAM_API_BASE_URL"
        return f"{where}; check this machine's network connection"  # the default address is not the problem
    return f"{type(exc).__name__}: {exc}"


async def _run(settings: Settings) -> None:
    """The bot until a signal, or until polling ends; anything that ends it is one line (StartupError)."""
    taxonomy = load_taxonomy(settings.taxonomy_file)
    bot = FieldBot(settings, taxonomy=taxonomy)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await bot.start()
        waiter = asyncio.create_task(bot.wait())
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if waiter in done and waiter.exception() is not None:
                raise StartupError(f"polling stopped: {_why(waiter.exception(), settings)}")  # type: ignore[arg-type]
        finally:
            for task in (waiter, stopper):
                task.cancel()
    except (StartupError, StorageError):
        raise
    except TelegramError as exc:
        raise StartupError(_why(exc, settings)) from None
    except ListenerError as exc:  # PUBLIC_URL set: the note form's pages could not be served
        raise StartupError(f"{exc}; check the settings SERVE_HOST and SERVE_PORT (the note form, PUBLIC_URL)") from None
    finally:
        await bot.stop()


def cmd_run(args: argparse.Namespace) -> None:
    try:
        settings = of_council(args, _settings())
    except CommandError as exc:
        raise StartupError(str(exc)) from None
    configure_logging(settings.log_level, secrets=settings.log_secrets())
    if settings.lineworks_bot_id is None:
        settings.token()  # a missing token is a start-up error, named (LINE WORKS alone needs none)
    for path in readable_by_others(Path(".env")):
        log.warning("%s holds the bot's token and key and is readable by other users: run `chmod 600 %s`", path, path)
    asyncio.run(_run(settings))


def cmd_demo(args: argparse.Namespace) -> None:
    try:
        # Imported here: the demo brings the Bot API simulator (aiohttp), which the production bot never loads.
        from demo import terminal

        options = terminal.DemoOptions(
            data=args.data, role=Role(args.role), reset=args.reset, messenger=Messenger(args.messenger)
        )
        terminal.run(options)
    except DemoError as exc:
        raise StartupError(str(exc)) from None


def cmd_start(args: argparse.Namespace) -> None:
    """`make run`: the real bot when a bot is set (a Telegram token or a LINE WORKS bot), else the demo."""
    settings = _settings()
    if settings.telegram_bot_token is not None or settings.lineworks_bot_id is not None:
        cmd_run(args)
        return
    print(t("demo.no_token"))
    cmd_demo(args)


def _demo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as",
        dest="role",
        choices=[role.value for role in Role],
        default=Role.ADMIN.value,
        help="the demo user's role (default: admin, so every feature can be tried)",
    )
    parser.add_argument("--reset", action="store_true", help="delete the demo data and start over")
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        metavar="DIR",
        help=f"where the demo keeps its database, key, log and received files (default: ./{DEFAULT_DATA}/)",
    )


# Commands that run a bot, or touch no data: --demo has no meaning for them.
NOT_WITH_DEMO = frozenset({"run", "start", "demo", "keygen", "council", "serve", "work"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldbot", description="Telegram bot for area staff of a welfare council")
    parser.add_argument(
        "--demo",
        action="store_true",
        help=f"use the demo's data (./{DEFAULT_DATA}/, made by `make run` without a token) instead of "
        "DATABASE_PATH, FIELD_ENCRYPTION_KEY and TAXONOMY_FILE: `fieldbot --demo report --fy 2025`",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the bot (long polling)")
    run.set_defaults(func=cmd_run)
    check = commands.add_parser(
        "check",
        help="check the settings, the taxonomy file, the encryption key and the database, then exit "
        "(non-zero when something needs attention)",
    )
    check.set_defaults(func=cmd_check)
    demo_parser = commands.add_parser(
        "demo", help="try the bot without Telegram: a chat in this terminal, with synthetic data"
    )
    _demo_options(demo_parser)
    demo_parser.add_argument(
        "--messenger",
        choices=[m.value for m in Messenger],
        default=Messenger.TELEGRAM.value,
        help="where the chat happens: a simulated Telegram (default) or a simulated LINE WORKS, no account needed",
    )
    demo_parser.set_defaults(func=cmd_demo)
    start = commands.add_parser(
        "start", help="run the bot if TELEGRAM_BOT_TOKEN is set, else the demo (the demo options apply then)"
    )
    _demo_options(start)
    start.set_defaults(func=cmd_start, messenger=Messenger.TELEGRAM.value)
    reportcli.add_parser(commands).set_defaults(func=cmd_report)
    admincli.add_parsers(commands)
    placescli.add_parser(commands)
    councilcli.add_parser(commands)
    servecli.add_parsers(commands)
    talliescli.add_parser(commands)
    migratecli.add_parser(commands)
    for name in PER_COUNCIL:
        add_council_option(commands.choices[name])
    return parser


def cmd_report(args: argparse.Namespace) -> None:
    reportcli.run(args, settings_for(args))


def cmd_check(args: argparse.Namespace) -> None:
    """What is fine on standard output, what needs attention on standard error (one line each), then exit
    non-zero if anything does: a missing key, a key other than the database's, no database, a readable .env."""
    settings = settings_for(args)
    taxonomy = load_taxonomy(settings.taxonomy_file)
    print(t("cli.check.settings"))
    print(t("cli.check.taxonomy", origin=taxonomy.origin, zones=len(taxonomy.zones), areas=len(taxonomy.areas())))
    problems: list[str] = []
    if settings.field_encryption_key is None:
        problems.append(t("cli.check.no_key"))
    try:
        database = existing_database(args, settings)
    except CommandError as exc:
        problems.append(str(exc))
    else:
        problem = _key_problem(database, settings)
        if problem is None and settings.field_encryption_key is not None:
            print(t("cli.check.database", path=database))
        elif problem is not None:
            problems.append(problem)
    problems += _lineworks_problems(settings)
    if not args.demo:
        problems += [t("cli.check.readable", path=path) for path in readable_by_others(Path(".env"))]
    for problem in problems:
        print(f"fieldbot: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)


def _lineworks_problems(settings: Settings) -> list[str]:
    """A LINE WORKS bot set but incomplete, or whose private key does not load (none set: nothing to say)."""
    try:
        lineworks = lineworks_settings(settings)
    except SettingsError as exc:
        return [str(exc)]
    if lineworks is None:
        return []
    try:
        load_private_key(lineworks.private_key)
    except (ValueError, TypeError):
        return [t("cli.check.lineworks_key", path=settings.lineworks_private_key_file)]
    print(t("cli.check.lineworks", bot=lineworks.bot_id))
    return []


def _key_problem(database: Path, settings: Settings) -> str | None:
    """Whether the key opens this database (None: it does, or there is no key to try)."""
    if settings.field_encryption_key is None:
        return None
    if settings.postgres_url() is not None:
        return asyncio.run(_postgres_key_problem(settings))
    try:
        opens = key_opens(database, settings.sealer())
    except sqlite3.Error as exc:
        return t("cli.check.unreadable", path=database, error=exc)
    return None if opens else t("cli.check.wrong_key", path=database)


async def _postgres_key_problem(settings: Settings) -> str | None:
    """Whether the PostgreSQL database of DATABASE_URL opens with the key (opening it checks the key)."""
    try:
        store = await open_database(settings, settings.database_path, settings.sealer())
    except StorageError as exc:
        return str(exc)
    await store.close()
    return None


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.clock = clock or SystemClock()
    os.umask(0o077)  # the database, its journal, backups and keys: readable by this user only
    code = _dispatch(args)
    _exit_if_stuck(code)
    return code


def _exit_if_stuck(code: int, grace: float = 5.0) -> None:
    """The last resort against a silent outage: a thread left running (an unclosed database connection) would
    keep the process alive after its work or its error, and a service manager would see it running. Threads
    that are ending (a connection just closed) get a few seconds."""
    deadline = time.monotonic() + grace
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    lingering = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if lingering:
        log.error("thread(s) still running at exit: %s; exiting anyway", ", ".join(lingering))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.demo and args.command in NOT_WITH_DEMO:
            raise CommandError(t("cli.demo_not_here", command=args.command))
        args.func(args)
    except (
        StartupError,
        SettingsError,
        TaxonomyError,
        StorageError,
        reportcli.UsageError,
        CommandError,
    ) as exc:
        print(f"fieldbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
