"""The note form: personal text (a follow-up's nickname, reason and notes, an outing's memo) written on a page
of fieldbot's own instead of typed into the chat, and a follow-up's details read there instead of in the chat.

A link (core/webapp.py) names what it opens and for whom; the page shows the question (nothing personal), and
what it posts is sealed and stored in the transaction that marks the link used, so a link stores at most once.
The chat then gets only a receipt and the next question. A front end that carries the page (bot/notes.py for
HTTP) tells who opened it when it can (Telegram's Mini App launch data, checked there) and delivers the reply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo

from core import dates, flow
from core.i18n import t
from core.models import Staff
from core.webapp import LINK_TTL, USED_KEPT, LinkClaims, LinkError, link_token_hash
from services.access import can_see
from services.deps import Deps
from services.flow import FlowService, LinkUsed
from services.followups import NOTE_MAX, FollowUpService
from services.screens import Reply
from services.staff import StaffService
from storage.types import FollowUp, Note

log = logging.getLogger(__name__)

PageKind = Literal["form", "read", "shown", "done", "refused"]
# Why a link opens nothing, as the page says it (each has its catalogue text in [form.refused]) and its status.
REFUSALS = {
    "malformed": 404,
    "forged": 403,
    "expired": 410,
    "used": 410,
    "foreign": 403,
    "moved": 409,
    "closed": 409,
    "unavailable": 503,
}


@dataclass(frozen=True, slots=True)
class Page:
    """What the form's page shows: a question to answer (`form`), a button to show the details (`read`), the
    details (`shown`), a receipt (`done`) or a refusal saying what to do next (`refused`, with `reason`)."""

    kind: PageKind
    title: str
    message: str
    limit: int = 0
    multiline: bool = True
    hint: str = ""  # why the text posted was not taken (the form is shown again, the link still unused)
    lines: tuple[str, ...] = ()  # the details
    reason: str = ""
    status: int = 200
    # Opened as a plain link (no Mini App launch data, which only the page's script sees), it is expired already:
    # the script says so at once instead of letting the person type into a form that will be refused.
    plain_expired: bool = False


@dataclass(frozen=True, slots=True)
class Posted:
    """What a post did: the page to answer with and, when something was stored, the reply for the chat."""

    page: Page
    chat_id: int | None = None
    reply: Reply | None = None


def refused(reason: str) -> Page:
    return Page("refused", t("form.title.refused"), t(f"form.refused.{reason}"), reason=reason, status=REFUSALS[reason])


class NoteFormService:
    def __init__(self, deps: Deps, flows: FlowService, followups: FollowUpService, staff: StaffService) -> None:
        self.deps = deps
        self.store = deps.store
        self.flows = flows
        self.followups = followups
        self.staff = staff

    async def _claims(self, token: str, launched_by: int | None, *, launched: bool) -> LinkClaims | Page:
        """The link's claims, its person still active and, when Telegram said who opened it, that person."""
        forms = self.deps.forms
        if forms is None:
            return refused("unavailable")
        try:
            claims = forms.links.read(token, self.deps.now(), launched=launched)
        except LinkError as exc:
            log.info("form link refused (%s)", exc.reason)
            return refused(exc.reason)
        if launched_by is not None and launched_by != claims.user_id:
            log.warning("form link opened by another messenger user than its own")
            return refused("foreign")
        if await self.store.used_links.used(link_token_hash(token)):
            return refused("used")
        return claims

    async def _person(self, claims: LinkClaims) -> Staff | None:
        staff = await self.staff.identify(claims.user_id)
        return staff if staff is not None and staff.active else None

    async def _followup(self, staff: Staff, claims: LinkClaims) -> FollowUp | Page:
        found = await self.store.followups.get(claims.subject)
        if found is None or not can_see(staff, self.deps.taxonomy, found.area, found.owner_id):
            return refused("foreign")
        if claims.purpose == "note" and found.status != "open":
            return refused("closed")
        return found

    # --- the page, as opened (GET: nothing is stored, nothing personal is shown) --------------------------------

    async def page(self, token: str) -> Page:
        claims = await self._claims(token, None, launched=True)
        if isinstance(claims, Page):
            return claims
        page = await self._page(claims)
        if page.kind != "refused" and self.deps.now() - claims.issued() > LINK_TTL:
            return replace(page, plain_expired=True)
        return page

    async def _page(self, claims: LinkClaims) -> Page:
        staff = await self._person(claims)
        if staff is None:
            return refused("foreign")
        if claims.purpose == "draft":
            question = await self.flows.form_question(staff, claims)
            if question is None:
                return refused("moved")
            field = question.field
            return Page("form", t("form.title.draft"), field.question, field.limit, field.multiline)
        found = await self._followup(staff, claims)
        if isinstance(found, Page):
            return found
        if claims.purpose == "note":
            return Page("form", t("form.title.note"), t("form.note", label=found.label, limit=NOTE_MAX), NOTE_MAX)
        return Page("read", t("form.title.read"), t("form.read", label=found.label))

    # --- what the page posts ------------------------------------------------------------------------------------

    async def submit(self, token: str, launched_by: int | None, text: str | None) -> Posted:
        """The form posted (`text`; None for the details' page). `launched_by`: the messenger user Telegram's
        checked launch data names (a Mini App); None: a plain link, which lives 10 minutes."""
        claims = await self._claims(token, launched_by, launched=launched_by is not None)
        if isinstance(claims, Page):
            return Posted(claims)
        staff = await self._person(claims)
        if staff is None:
            return Posted(refused("foreign"))
        token_hash = link_token_hash(token)
        if claims.purpose == "draft":
            return await self._answer(staff, claims, token_hash, text or "")
        found = await self._followup(staff, claims)
        if isinstance(found, Page):
            return Posted(found)
        if claims.purpose == "note":
            return await self._note(staff, found, token_hash, text or "")
        return await self._read(staff, found, token_hash)

    async def _answer(self, staff: Staff, claims: LinkClaims, token_hash: str, text: str) -> Posted:
        question = await self.flows.form_question(staff, claims)
        if question is None:
            return Posted(refused("moved"))
        answer = await self.flows.form_answer(staff, question, token_hash, text)
        if answer.outcome == "invalid":
            field = question.field
            hint = answer.hint or t("form.invalid")
            return Posted(Page("form", t("form.title.draft"), field.question, field.limit, field.multiline, hint))
        if answer.outcome != "stored":
            return Posted(refused(answer.outcome))
        log.info("staff %s answered draft %s through the note form", staff.id, claims.subject)
        return Posted(Page("done", t("form.title.done"), t("form.done")), answer.chat_id, answer.reply)

    async def _note(self, staff: Staff, followup: FollowUp, token_hash: str, text: str) -> Posted:
        text = text.strip()
        problem = flow.check_free_text(text, NOTE_MAX)
        if problem:
            form = t("form.note", label=followup.label, limit=NOTE_MAX)
            return Posted(Page("form", t("form.title.note"), form, NOTE_MAX, hint=problem))
        now = self.deps.now()
        try:
            async with self.store.unit(None, now) as tx:
                if not await self.store.used_links.use(tx, token_hash, "note", staff.id, now):
                    raise LinkUsed
                added = await self.store.followups.add_note(followup.id, staff.id, text, now, tx=tx)
        except LinkUsed:
            return Posted(refused("used"))
        if not added:
            return Posted(refused("closed"))
        log.info("staff %s added a note to follow-up %s through the note form", staff.id, followup.id)
        reply = await self.followups.after_note(staff, followup.id, t("form.note_saved"))
        return Posted(Page("done", t("form.title.done"), t("form.done")), staff.telegram_id, reply)

    async def _read(self, staff: Staff, followup: FollowUp, token_hash: str) -> Posted:
        now = self.deps.now()
        try:
            async with self.store.unit(None, now) as tx:
                if not await self.store.used_links.use(tx, token_hash, "read", staff.id, now):
                    raise LinkUsed
        except LinkUsed:
            return Posted(refused("used"))
        detail = await self.store.followups.detail(followup.id, staff.id, now)  # the reading is audited
        if detail is None:
            return Posted(refused("foreign"))
        log.info("staff %s viewed follow-up %s on the note form", staff.id, followup.id)
        tz, today = self.deps.tz, self.deps.today()
        lines = [t("form.reason", reason=detail.reason or t("flow.none"))]
        lines += [_note_line(n, tz, today) for n in detail.notes] or [t("followup.no_notes")]
        return Posted(Page("shown", t("form.title.read"), t("form.read", label=followup.label), lines=tuple(lines)))

    async def prune(self) -> int:
        """Forget used links older than any link lives (a scheduled job); returns how many."""
        return await self.store.used_links.prune(self.deps.now() - USED_KEPT)


def _note_line(note: Note, tz: ZoneInfo, today: date) -> str:
    when = dates.short_for(note.created_at.astimezone(tz).date(), today)
    return t("form.note_line", when=when, author=note.author, body=note.body)
