"""The note form's pages over HTTP (services/notes.py has what they do): GET and POST /note/{bot_id}/{token},
and their own stylesheet and script at /note-assets/{name}, on the listener of `fieldbot serve`, or of
`fieldbot run` when PUBLIC_URL is set.

Every answer is a page of our own: no framework, no script, font or style from elsewhere (the Content-Security-
Policy allows this site only, and no inline script), never cached, never sending a referrer. A Mini App is framed
by Telegram's web client, so `frame-ancestors` names it and nothing else. The token is part of the path: logs show
the route's template, never the path itself (bot/webhook.py `redacted`), and no line here names a person's text.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from string import Template
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from core.clock import Clock
from core.i18n import t
from core.webapp import (
    NOTE_ROUTE,
    FormLinks,
    InitDataError,
    check_init_data,
    csrf_ok,
    csrf_token,
    link_token_hash,
)
from services.notes import NoteFormService, Page, Posted, refused
from services.screens import Reply

if TYPE_CHECKING:
    from bot.webhook import Listener

log = logging.getLogger(__name__)

ASSETS_ROUTE = "/note-assets/{name}"
ASSETS = {"note.css": "text/css", "note.js": "text/javascript"}
MAX_FORM_BODY = 64 * 1024  # a note is at most 500 characters; the launch data a few hundred bytes
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; object-src 'none'; "
        "frame-ancestors 'self' https://web.telegram.org"
    ),
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

Deliver = Callable[[int, Reply], Awaitable[None]]


def _static(name: str) -> str:
    return resources.files("bot").joinpath("static", name).read_text(encoding="utf-8")


@dataclass
class NoteSite:
    """One bot's note form: its service, its links, the bot token its Mini App launch data is signed with, and
    how a reply reaches its chat."""

    bot_id: int
    bot_token: str | None  # None: no Telegram bot (LINE WORKS alone): no Mini App launch data is taken
    service: NoteFormService
    links: FormLinks
    clock: Clock
    deliver: Deliver
    launch_max_age: timedelta = timedelta(minutes=10)
    # Called before each request when other processes write the same database (webhook workers): cached drafts
    # and people are read again.
    refresh: Callable[[], None] | None = None


@dataclass
class NotePages:
    """The routes of every bot's note form on one listener."""

    sites: dict[str, NoteSite] = field(default_factory=dict)
    _template: Template = field(default_factory=lambda: Template(_static("note.html")))
    _assets: dict[str, bytes] = field(default_factory=dict)

    def install(self, listener: Listener) -> None:
        listener.add("GET", ASSETS_ROUTE, self._asset)
        listener.add("GET", NOTE_ROUTE, self._get)
        listener.add("POST", NOTE_ROUTE, self._post)

    # --- responses ---------------------------------------------------------------------------------------------

    def respond(self, page: Page, csrf: str = "") -> web.Response:
        body = self._template.substitute(
            lang=t("form.lang"),
            title=html.escape(page.title),
            assets="../../note-assets",
            kind=page.kind,
            body=_body(page, csrf),
        )
        return web.Response(text=body, status=page.status, content_type="text/html", charset="utf-8", headers=HEADERS)

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        if name not in self._assets:
            self._assets[name] = _static(name).encode("utf-8")
        headers = {**HEADERS, "Cache-Control": "public, max-age=3600"}  # our own code, the same for everyone
        return web.Response(body=self._assets[name], content_type=ASSETS[name], charset="utf-8", headers=headers)

    def _site(self, request: web.Request) -> NoteSite | None:
        return self.sites.get(request.match_info["bot_id"])

    # --- the page, opened --------------------------------------------------------------------------------------

    async def _get(self, request: web.Request) -> web.StreamResponse:
        site = self._site(request)
        if site is None:
            return self.respond(refused("malformed"))
        if site.refresh is not None:
            site.refresh()
        token = request.match_info["token"]
        try:
            page = await site.service.page(token)
        except Exception:
            log.exception("note form of bot %d could not be shown", site.bot_id)
            return self.respond(refused("unavailable"))
        return self.respond(page, csrf_token(site.links.csrf_secret, link_token_hash(token)))

    # --- what the page posts -----------------------------------------------------------------------------------

    async def _post(self, request: web.Request) -> web.StreamResponse:
        site = self._site(request)
        if site is None:
            return self.respond(refused("malformed"))
        token = request.match_info["token"]
        token_hash = link_token_hash(token)
        form = await self._form(request, site, token_hash)
        if isinstance(form, Page):
            return self.respond(form)
        if form.get("action") == "cancel":
            return self.respond(Page("done", t("form.title.draft"), t("form.cancelled")))
        launched_by = self._launched_by(site, str(form.get("init_data", "")))
        if isinstance(launched_by, Page):
            return self.respond(launched_by)
        if site.refresh is not None:
            site.refresh()
        try:
            posted = await site.service.submit(token, launched_by, form.get("text"))
        except Exception:
            log.exception("note form post of bot %d could not be stored", site.bot_id)
            return self.respond(refused("unavailable"))
        await self._deliver(site, posted)
        return self.respond(posted.page, csrf_token(site.links.csrf_secret, token_hash))

    async def _form(self, request: web.Request, site: NoteSite, token_hash: str) -> MultiDictProxy[str] | Page:
        """The posted fields, if they came from the page this link opened (its CSRF token, our origin)."""
        if request.content_length is not None and request.content_length > MAX_FORM_BODY:
            return refused("malformed")
        if not _same_origin(request, site.links.base_url):
            log.warning("note form post of bot %d from another origin refused", site.bot_id)
            return refused("forged")
        try:
            posted = await request.post()
        except ValueError:
            return refused("malformed")
        fields: MultiDictProxy[str] = MultiDictProxy(MultiDict((k, v) for k, v in posted.items() if isinstance(v, str)))
        if not csrf_ok(site.links.csrf_secret, token_hash, fields.get("csrf", "")):
            log.warning("note form post of bot %d without its page's token refused", site.bot_id)
            return refused("forged")
        return fields

    def _launched_by(self, site: NoteSite, init_data: str) -> int | Page | None:
        """Who Telegram says opened the Mini App (None: no launch data, a plain link), or the refusal."""
        if not init_data:
            return None
        if site.bot_token is None:
            log.warning("note form launch data of bot %d refused (no Telegram bot)", site.bot_id)
            return refused("forged")
        try:
            launch = check_init_data(site.bot_token, init_data, site.clock.now(), site.launch_max_age)
        except InitDataError as exc:
            log.warning("note form launch data of bot %d refused (%s)", site.bot_id, exc.reason)
            return refused("expired" if exc.reason == "expired" else "forged")
        return launch.user_id

    async def _deliver(self, site: NoteSite, posted: Posted) -> None:
        """The receipt and the next question in the chat. What was stored stays stored if this fails: the next
        input in the chat shows the question again (the draft knows no message shows it)."""
        if posted.reply is None or posted.chat_id is None:
            return
        try:
            await site.deliver(posted.chat_id, posted.reply)
        except Exception:
            log.exception("note form receipt of bot %d not delivered to the chat", site.bot_id)


def _same_origin(request: web.Request, base_url: str) -> bool:
    """The page a form came from (Origin), when the browser names it, is ours. Under our own `Referrer-Policy:
    no-referrer` a browser sends `Origin: null` for a form post (the Fetch standard), and an old one none at all:
    then the CSRF token alone tells."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    ours = urlsplit(base_url)
    theirs = urlsplit(origin)
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)


# --- the page's body, by kind ------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _hidden(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{_e(csrf)}"><input type="hidden" name="init_data" value="">'


def _close() -> str:
    return f'<div class="buttons"><button type="button" class="hidden" data-close>{_e(t("form.close"))}</button></div>'


def _form(page: Page, csrf: str) -> str:
    counter = t("form.counter", count="{count}", limit="{limit}")
    over = t("form.counter_over", count="{count}", limit="{limit}", over="{over}")
    if page.multiline:
        field_html = '<textarea id="text" name="text" rows="7" required aria-describedby="counter"></textarea>'
    else:
        field_html = '<input type="text" id="text" name="text" required aria-describedby="counter" autocomplete="off">'
    hint = f'<p class="hint" role="alert">{_e(page.hint)}</p>' if page.hint else ""
    return (
        f'<p class="privacy">{_e(t("form.privacy"))}</p>'
        f'<form method="post" id="note-form" data-limit="{page.limit}" data-counter="{_e(counter)}" '
        f'data-counter-over="{_e(over)}">{_hidden(csrf)}'
        f'<label for="text">{_e(page.message)}</label>{hint}{field_html}'
        f'<p id="counter" class="counter" aria-live="polite">'
        f"{_e(t('form.counter', count=0, limit=page.limit))}</p>"
        '<div class="buttons">'
        f'<button type="submit" name="action" value="cancel" formnovalidate>{_e(t("form.cancel"))}</button>'
        f'<button type="submit" name="action" value="submit" class="primary">{_e(t("form.submit"))}</button>'
        "</div></form>"
    )


def _plain_expired(page: Page) -> str:
    """Shown by the script instead of the form when the page was opened as a plain link that has expired."""
    if not page.plain_expired:
        return ""
    return f'<p id="plain-expired" class="hidden" role="alert">{_e(t("form.refused.expired"))}</p>'


def _body(page: Page, csrf: str) -> str:
    if page.kind in ("form", "read"):
        return _plain_expired(page) + _question(page, csrf)
    return _answer(page)


def _question(page: Page, csrf: str) -> str:
    if page.kind == "form":
        return _form(page, csrf)
    return (
        f'<form method="post" id="read-form">{_hidden(csrf)}<p>{_e(page.message)}</p>'
        f'<div class="buttons"><button type="submit" name="action" value="read" class="primary">'
        f"{_e(t('form.show'))}</button></div></form>"
    )


def _answer(page: Page) -> str:
    if page.kind == "shown":
        items = "".join(f"<li>{_e(line)}</li>" for line in page.lines)
        note = f'<p class="note">{_e(t("form.shown_note"))}</p>'
        return f'<p>{_e(page.message)}</p><ul class="details">{items}</ul>{note}{_close()}'
    role = ' role="alert"' if page.kind == "refused" else ""
    return f"<p{role}>{_e(page.message)}</p>{_close()}"
