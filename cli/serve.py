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
from bot.councils import council_settings, registry
from bot.lineworks.client import MinuteBudget
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


def _councils(args: argparse.Namespace, settings: Settings) -> list[Settings]:
    """Whose bots this process serves: the one council (no COUNCILS_DIR, or `--council CODE`), else every enabled
    council of COUNCILS_DIR that has a bot token, each with its own settings, database, key and taxonomy."""
    if settings.councils_dir is None or getattr(args, "council_code", None) is not None:
        return [of_council(args, settings)]
    found = [council_settings(settings, c.code) for c in registry(settings).all() if c.enabled]
    with_bots = [own for own in found if own.telegram_bot_token is not None or own.lineworks_bot_id is not None]
    if not with_bots:
        raise CommandError(t("cli.council.no_bots"))
    return with_bots


def _prepare(args: argparse.Namespace) -> tuple[Settings, list[Settings], int]:
    """The deployment's settings, those of each council served, logging set up, and the number of workers (per
    council)."""
    deployment = load_settings()
    councils = _councils(args, deployment)
    for own in councils:
        if own.lineworks_bot_id is None:
            own.token()  # a council with neither bot: its missing token is a start-up error, named
    secrets = [secret for own in councils for secret in own.log_secrets()]
    configure_logging(deployment.log_level, secrets=secrets)  # a missing token was a start-up error, named
    for path in readable_by_others(Path(".env")):
        log.warning("%s holds the bot's token and key and is readable by other users: run `chmod 600 %s`", path, path)
    workers = deployment.serve_workers if args.workers is None else args.workers
    if not 0 <= workers <= 64:
        raise CommandError("--workers: 0 to 64")
    return deployment, councils, workers


def _workers(settings: Settings, loops: int, *, publishes_boot: bool) -> InboxWorkers:
    return InboxWorkers(
        loops,
        timedelta(seconds=settings.worker_lease_seconds),
        settings.worker_poll_seconds,
        publishes_boot=publishes_boot,
    )


def budget_of(own: Settings, budgets: dict[str, MinuteBudget]) -> MinuteBudget | None:
    """The per-minute budget of a council's LINE WORKS domain: LINE WORKS limits calls per domain, and the councils
    of one domain (a city's ward councils in one tenant) use one app, so one budget per app's client id."""
    if own.lineworks_bot_id is None or own.lineworks_client_id is None:
        return None
    return budgets.setdefault(own.lineworks_client_id, MinuteBudget(own.lineworks_per_minute))


def cmd_serve(args: argparse.Namespace) -> None:
    deployment, councils, loops = _prepare(args)
    if args.delete_webhook:
        for own in councils:
            asyncio.run(_delete_webhook(own))
        return
    if deployment.public_url is None:
        raise CommandError(
            "setting PUBLIC_URL is missing: the https:// address Telegram posts webhooks to (a proxy in front of "
            f"{deployment.serve_host}:{deployment.serve_port}); without one, run `fieldbot run` (long polling)"
        )
    # One listener for every council's bot: a path per bot, each with its own secret, inbox and workers.
    listener = Listener(deployment.serve_host, deployment.serve_port)
    budgets: dict[str, MinuteBudget] = {}
    bots = [
        FieldBot(
            own,
            taxonomy=load_taxonomy(own.taxonomy_file),
            runtime=WebhookServer(
                listener, _workers(own, loops, publishes_boot=True), own.webhook_secret_token(), deployment.public_url
            ),
            lineworks_budget=budget_of(own, budgets),
        )
        for own in councils
    ]
    asyncio.run(_run(bots, deployment))


def cmd_work(args: argparse.Namespace) -> None:
    deployment, councils, loops = _prepare(args)
    if loops == 0:
        raise CommandError("--workers: a `fieldbot work` process needs at least 1")
    # The scheduled jobs run in `fieldbot serve` only: one scheduler per deployment.
    bots = [
        FieldBot(
            own,
            taxonomy=load_taxonomy(own.taxonomy_file),
            runtime=_workers(own, loops, publishes_boot=False),
            schedules=False,
        )
        for own in councils
    ]
    asyncio.run(_run(bots, deployment))


async def _delete_webhook(settings: Settings) -> None:
    try:
        async with Bot(settings.token(), base_url=settings.telegram_api_base_url) as bot:
            await bot.delete_webhook()
    except TelegramError as exc:
        raise CommandError(_why(exc, settings)) from None
    log.info("webhook removed: `fieldbot run` can poll again")


async def _run(bots: list[FieldBot], settings: Settings) -> None:
    """The bots until SIGINT or SIGTERM, or until one of them stops; anything that stops them is one line
    (CommandError). They stop together: a council whose bot could not start stops the process, which a service
    manager restarts, rather than leave it silently unserved."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    started: list[FieldBot] = []
    try:
        for bot in bots:
            started.append(bot)
            await bot.start()
        waiters = {asyncio.create_task(bot.wait()) for bot in bots}
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({*waiters, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*waiters, stopper):
                task.cancel()
    except TelegramError as exc:
        raise CommandError(_why(exc, started[-1].settings if started else settings)) from None
    except ListenerError as exc:
        raise CommandError(f"{exc}; check the settings SERVE_HOST and SERVE_PORT") from None
    finally:
        for bot in reversed(started):
            await bot.stop()


def _why(exc: TelegramError, settings: Settings) -> str:
    if isinstance(exc, InvalidToken):
        return "setting TELEGRAM_BOT_TOKEN: the Bot API refused the token (revoked or mistyped?)"
    if isinstance(exc, BadRequest):
        return f"the Bot API refused the webhook ({exc.message}); check the setting PUBLIC_URL"
    if isinstance(exc, NetworkError):
        return f"cannot reach the Bot API at {settings.telegram_api_base_url} ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"
