"""Logging set-up: one format, httpx kept quiet, and secrets removed from every record of every logger."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

_SECRETS: list[str] = []
# Libraries that put whole updates and request parameters in their log records (python-telegram-bot logs every
# update and every Bot API call's parameters at DEBUG): their arguments may hold what a person typed.
_VERBOSE_LIBRARIES = ("telegram", "apscheduler")
_PLAIN = re.compile(r"^([A-Za-z0-9_.:/-]{0,40}|https?://[!-~]{1,300})$")  # a name, an id, or a URL (token redacted)
_ORIGINAL_FACTORY: Callable[..., logging.LogRecord] | None = None


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "<redacted>")
    return text


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record, from any library, is cleaned when it is created: before any handler or filter sees it.

    PTB logs the Bot API URL (which contains the token) at DEBUG, and a traceback may carry a URL too.
    """
    assert _ORIGINAL_FACTORY is not None
    record = _ORIGINAL_FACTORY(*args, **kwargs)
    if record.args and record.name.startswith(_VERBOSE_LIBRARIES):
        # Keep what says which call or which update (a method name, an id), hide anything else: personal text
        # (reasons, notes, memos, invite codes) never reaches a log line, at any level.
        if isinstance(record.args, dict):
            record.args = {k: _plain_or_hidden(v) for k, v in record.args.items()}
        else:
            record.args = tuple(_plain_or_hidden(a) for a in _as_tuple(record.args))
    if not _SECRETS:
        return record
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    cleaned = redact(message)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def _as_tuple(args: Any) -> tuple[Any, ...]:
    return args if isinstance(args, tuple) else (args,)


def _plain_or_hidden(value: Any) -> Any:
    if isinstance(value, bool | int | float) or (isinstance(value, str) and _PLAIN.match(value)):
        return value
    return "<hidden>"


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    global _ORIGINAL_FACTORY
    _SECRETS[:] = [s for s in secrets if s]
    if _ORIGINAL_FACTORY is None:
        _ORIGINAL_FACTORY = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_factory)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_fieldbot", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._fieldbot = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token; aiosqlite logs every query.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
