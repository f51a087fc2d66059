"""`fieldbot serve` and `fieldbot work`: the bot behind webhooks (bot/webhook.py, bot/worker.py).

`fieldbot serve` listens for Telegram's webhooks, sets the bot's webhook to PUBLIC_URL, keeps each update in the
inbox before answering 200, and handles updates with workers inside the process (asyncio tasks, SERVE_WORKERS);
it also runs the scheduled jobs. `fieldbot work` handles updates only: start any number of them beside one
`fieldbot serve`, on the same machine and database. `fieldbot run` (long polling) stays the default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from datetime import timedelta
from pathlib import Path

from telegram import Bot
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError

from bot.app import FieldBot
from bot.logs import configure_logging
from bot.settings import Settings, load_settings, readable_by_others
from bot.webhook import Listener, ListenerError, WebhookServer
from bot.worker import InboxWorkers
from cli.common import CommandError, add_council_option, of_council
from core.i18n import t
from core.taxonomy import load_taxonomy

log = logging.getLogger("fieldbot")


def add_parsers(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser(
        "serve",
        help="run the bot behind a webhook: Telegram posts to PUBLIC_URL (an HTTPS proxy in front of "
        "SERVE_HOST:SERVE_PORT); updates are kept in the inbox, then handled in order",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="updates handled at once inside this process (default: SERVE_WORKERS, 4); 0: only `fieldbot work` "
        "processes handle them",
    )
    serve.add_argument(
        "--delete-webhook",
        action="store_true",
        help="remove the bot's webhook and exit (before going back to long polling with `fieldbot run`)",
    )
    add_council_option(serve)
    serve.set_defaults(func=cmd_serve)
    work = commands.add_parser(
        "work", help="handle updates `fieldbot serve` received (any number of these, on the same database)"
    )
    work.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="updates handled at once by this process (default: SERVE_WORKERS, 4)",
    )
    add_council_option(work)
    work.set_defaults(func=cmd_work)


def _prepare(args: argparse.Namespace) -> tuple[Settings, int]:
    """The settings (of the council `--council` names, with COUNCILS_DIR: one council's bot per `fieldbot serve`
    for now), logging set up, and the number of workers."""
    settings = load_settings()
    if settings.councils_dir is not None and getattr(args, "council_code", None) is None:
        raise CommandError(t("cli.council.which", command=args.command))
    settings = of_council(args, settings)
    token = settings.token()  # a missing token is a start-up error, named
    configure_logging(settings.log_level, secrets=[token, settings.webhook_secret_token()])
    for path in readable_by_others(Path(".env")):
        log.warning("%s holds the bot's token and key and is readable by other users: run `chmod 600 %s`", path, path)
    workers = settings.serve_workers if args.workers is None else args.workers
    if not 0 <= workers <= 64:
        raise CommandError("--workers: 0 to 64")
    return settings, workers


def _workers(settings: Settings, loops: int, *, publishes_boot: bool) -> InboxWorkers:
    return InboxWorkers(
        loops,
        timedelta(seconds=settings.worker_lease_seconds),
        settings.worker_poll_seconds,
        publishes_boot=publishes_boot,
    )


def cmd_serve(args: argparse.Namespace) -> None:
    settings, loops = _prepare(args)
    if args.delete_webhook:
        asyncio.run(_delete_webhook(settings))
        return
    if settings.public_url is None:
        raise CommandError(
            "setting PUBLIC_URL is missing: the https:// address Telegram posts webhooks to (a proxy in front of "
            f"{settings.serve_host}:{settings.serve_port}); without one, run `fieldbot run` (long polling)"
        )
    server = WebhookServer(
        Listener(settings.serve_host, settings.serve_port),
        _workers(settings, loops, publishes_boot=True),
        settings.webhook_secret_token(),
        settings.public_url,
    )
    asyncio.run(_run(FieldBot(settings, taxonomy=load_taxonomy(settings.taxonomy_file), runtime=server), settings))


def cmd_work(args: argparse.Namespace) -> None:
    settings, loops = _prepare(args)
    if loops == 0:
        raise CommandError("--workers: a `fieldbot work` process needs at least 1")
    workers = _workers(settings, loops, publishes_boot=False)
    # The scheduled jobs run in `fieldbot serve` only: one scheduler per deployment.
    bot = FieldBot(settings, taxonomy=load_taxonomy(settings.taxonomy_file), runtime=workers, schedules=False)
    asyncio.run(_run(bot, settings))


async def _delete_webhook(settings: Settings) -> None:
    try:
        async with Bot(settings.token(), base_url=settings.telegram_api_base_url) as bot:
            await bot.delete_webhook()
    except TelegramError as exc:
        raise CommandError(_why(exc, settings)) from None
    log.info("webhook removed: `fieldbot run` can poll again")


async def _run(bot: FieldBot, settings: Settings) -> None:
    """The bot until SIGINT or SIGTERM; anything that stops it is one line (CommandError)."""
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
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, stopper):
                task.cancel()
    except TelegramError as exc:
        raise CommandError(_why(exc, settings)) from None
    except ListenerError as exc:
        raise CommandError(f"{exc}; check the settings SERVE_HOST and SERVE_PORT") from None
    finally:
        await bot.stop()


def _why(exc: TelegramError, settings: Settings) -> str:
    if isinstance(exc, InvalidToken):
        return "setting TELEGRAM_BOT_TOKEN: the Bot API refused the token (revoked or mistyped?)"
    if isinstance(exc, BadRequest):
        return f"the Bot API refused the webhook ({exc.message}); check the setting PUBLIC_URL"
    if isinstance(exc, NetworkError):
        return f"cannot reach the Bot API at {settings.telegram_api_base_url} ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"
