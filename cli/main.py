"""The `fieldbot` command: run the bot, and the admin tools around it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.app import FieldBot
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings, readable_by_others
from cli import admin as admincli
from cli import report as reportcli
from core.i18n import t
from core.models import Role
from core.taxonomy import TaxonomyError, load_taxonomy
from demo import DEFAULT_DATA, DemoError
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
    if isinstance(exc, Conflict):
        return "another process polls with the same TELEGRAM_BOT_TOKEN; only one may run"
    if isinstance(exc, RetryAfter):
        return f"the Bot API asks to wait {exc.retry_after} s (flood limit); start again later"
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest | Forbidden):
        return (
            f"cannot reach the Bot API at {settings.telegram_api_base_url} ({type(exc).__name__}); "
            "check the network, then the setting TELEGRAM_API_BASE_URL"
        )
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
    finally:
        await bot.stop()


def cmd_run(args: argparse.Namespace) -> None:
    settings = _settings()
    configure_logging(settings.log_level, secrets=[settings.token()] if settings.telegram_bot_token else [])
    settings.token()  # a missing token is a start-up error, named
    for path in readable_by_others(Path(".env")):
        log.warning("%s holds the bot's token and key and is readable by other users: run `chmod 600 %s`", path, path)
    asyncio.run(_run(settings))


def cmd_demo(args: argparse.Namespace) -> None:
    try:
        # Imported here: the demo brings the Bot API simulator (aiohttp), which the production bot never loads.
        from demo import terminal

        terminal.run(terminal.DemoOptions(data=args.data, role=Role(args.role), reset=args.reset))
    except DemoError as exc:
        raise StartupError(str(exc)) from None


def cmd_start(args: argparse.Namespace) -> None:
    """`make run`: the real bot when a token is set (environment or .env), else the demo."""
    if _settings().telegram_bot_token is not None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldbot", description="Telegram bot for area staff of a welfare council")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the bot (long polling)")
    run.set_defaults(func=cmd_run)
    check = commands.add_parser("check", help="check the settings and the taxonomy file, then exit")
    check.set_defaults(func=cmd_check)
    demo_parser = commands.add_parser(
        "demo", help="try the bot without Telegram: a chat in this terminal, with synthetic data"
    )
    _demo_options(demo_parser)
    demo_parser.set_defaults(func=cmd_demo)
    start = commands.add_parser(
        "start", help="run the bot if TELEGRAM_BOT_TOKEN is set, else the demo (the demo options apply then)"
    )
    _demo_options(start)
    start.set_defaults(func=cmd_start)
    reportcli.add_parser(commands).set_defaults(func=cmd_report)
    admincli.add_parsers(commands)
    return parser


def cmd_report(args: argparse.Namespace) -> None:
    reportcli.run(args, _settings())


def cmd_check(args: argparse.Namespace) -> None:
    settings = _settings()
    taxonomy = load_taxonomy(settings.taxonomy_file)
    print(f"settings: ok; taxonomy {taxonomy.origin}: {len(taxonomy.zones)} zones, {len(taxonomy.areas())} areas")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
        args.func(args)
    except (
        StartupError,
        SettingsError,
        TaxonomyError,
        StorageError,
        reportcli.UsageError,
        admincli.CommandError,
    ) as exc:
        print(f"fieldbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
