"""Follow-ups (要フォロー) as use cases: lists by scope (or of one owner), a card per person, the audited 🔒
details, notes, due dates, closing (and its undo) and reassigning; and the typed note or date a button asked for."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core import dates, flow
from core.buttons import (
    Button,
    DuePreset,
    FollowUpCard,
    FollowUpClose,
    FollowUpCloseMenu,
    FollowUpDetails,
    FollowUpDueDate,
    FollowUpDueMenu,
    FollowUpDuePreset,
    FollowUpDueTyped,
    FollowUpNote,
    FollowUpOwner,
    FollowUpOwnerMenu,
    FollowUpOwnerPage,
    FollowUpPage,
    FollowUpReopen,
)
from core.flow.steps.followup import due_problem
from core.i18n import t
from core.models import Role, Staff
from core.taxonomy import Taxonomy
from core.webapp import LinkClaims, Purpose
from services.access import SUPERVISORS, can_see, scope_label, scope_of
from services.deps import Deps
from services.screens import Choice, FormLink, Press, Reply, Rows, View, expired, pager, rows
from storage.types import AlreadyProcessed, FollowUp, FollowUpScope, IdempotencyKey, PendingInput

log = logging.getLogger(__name__)

PAGE = 8
NOTE_MAX = 500
INPUT_WAIT = timedelta(minutes=30)  # a typed answer to a follow-up button is expected this long
# Room for the card (label, area, due date, owner) and the buttons' text within Telegram's 4,096 characters.
DETAILS_PAGE_CHARS = 3000
DUE_CHOICES: tuple[DuePreset, ...] = ("1w", "2w", "1m")  # the keys of flow.DUE_PRESETS, in button order
# 完了 can be undone this long after it was pressed (by the clock, from the stored closing time): the same window
# as the undo of a saved record, and it holds across restarts and on messengers whose old buttons stay pressable.
UNDO_WINDOW = timedelta(minutes=10)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def paginate(lines: Sequence[str], limit: int) -> list[list[str]]:
    """Lines in pages of at most `limit` characters (a line longer than that is a page of its own)."""
    pages: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if pages[-1] and size + len(line) + 1 > limit:
            pages.append([])
            size = 0
        pages[-1].append(line)
        size += len(line) + 1
    return pages


# ---------------------------------------------------------------------------------------------------------------
# What a follow-up looks like (lists, cards, reminders): a label and a date, never the reason or the notes.


def owner_label(followup: FollowUp) -> str:
    """The owner's name, marked 【停止中】 when the owner was deactivated (the follow-up waits for a new owner)."""
    return followup.owner_name if followup.owner_active else t("followup.owner.inactive", name=followup.owner_name)


def summary_line(followup: FollowUp, taxonomy: Taxonomy, today: date, *, with_owner: bool) -> str:
    """One line of a list: overdue marked, no reason, no notes."""
    key = "followup.line_overdue" if followup.due < today else "followup.line"
    due = dates.short_for(followup.due, today)
    line = t(key, label=followup.label, area=taxonomy.area_label(followup.area), due=due)
    return t("followup.line_owner", line=line, owner=owner_label(followup)) if with_owner else line


def card_text(followup: FollowUp, taxonomy: Taxonomy, today: date) -> str:
    overdue = t("followup.overdue_days", days=(today - followup.due).days) if followup.due < today else ""
    return t(
        "followup.card",
        label=followup.label,
        area=taxonomy.area_label(followup.area),
        due=dates.long(followup.due),
        overdue=overdue,
        owner=owner_label(followup),
    )


def card_buttons(followup: FollowUp, *, reassign: bool, forms: tuple[FormLink, FormLink] | None = None) -> Rows:
    """The actions on one follow-up (the same on its card and on its reminder). `forms`: the note form's pages
    that read the details and add a note, opened by the two buttons instead of the chat."""
    last = [Choice(t("followup.button.close"), FollowUpCloseMenu(followup.id))]
    if reassign:
        last.append(Choice(t("followup.button.reassign"), FollowUpOwnerMenu(followup.id)))
    read, note = forms or (FollowUpDetails(followup.id), FollowUpNote(followup.id))
    return rows(
        [Choice(t("followup.button.details"), read)],
        [Choice(t("followup.button.note"), note), Choice(t("followup.button.due"), FollowUpDueMenu(followup.id))],
        last,
    )


def can_reassign(staff: Staff, followup: FollowUp, taxonomy: Taxonomy) -> bool:
    return staff.role in SUPERVISORS and can_see(staff, taxonomy, followup.area, followup.owner_id)


def reassign_candidates(staff: Sequence[Staff], followup: FollowUp, taxonomy: Taxonomy) -> list[Staff]:
    area = taxonomy.area(followup.area)
    zone = area.zone if area else None
    return [
        p
        for p in staff
        if p.active and not p.imported and p.role is not Role.ADMIN and p.zone == zone and p.id != followup.owner_id
    ]


def closing_stamp(closed_at: datetime) -> int:
    """A closing's time as a number a button carries (microseconds since the epoch: two closings differ)."""
    return (closed_at - _EPOCH) // timedelta(microseconds=1)


def _back(followup: FollowUp) -> Choice:
    return Choice(t("followup.button.back"), FollowUpCard(followup.id))


def _to_list() -> Choice:
    return Choice(t("followup.button.list"), FollowUpPage(0))


# Every button kind of a follow-up (a front end routes them all to FollowUpService.press).
BUTTON_KINDS: tuple[type[Button], ...] = (
    FollowUpPage,
    FollowUpCard,
    FollowUpDetails,
    FollowUpNote,
    FollowUpDueTyped,
    FollowUpDueMenu,
    FollowUpDuePreset,
    FollowUpCloseMenu,
    FollowUpClose,
    FollowUpOwnerMenu,
    FollowUpOwner,
    FollowUpDueDate,
    FollowUpReopen,
    FollowUpOwnerPage,
)


class FollowUpService:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.store = deps.store
        self.taxonomy = deps.taxonomy

    async def press(self, staff: Staff, button: Button, press: Press) -> Reply:
        """A follow-up button, whatever its kind (a stale or foreign one is answered as expired)."""
        action = self._actions().get(type(button))
        return expired() if action is None else await action(staff, button, press)

    def _actions(self) -> dict[type[Button], Callable[[Staff, Any, Press], Awaitable[Reply]]]:
        return {
            FollowUpPage: self.page,
            FollowUpCard: self.card,
            FollowUpDetails: self.details,
            FollowUpNote: self.ask_note,
            FollowUpDueTyped: self.ask_due,
            FollowUpDueMenu: self.due_menu,
            FollowUpDuePreset: self.due_preset,
            FollowUpCloseMenu: self.close_menu,
            FollowUpClose: self.close,
            FollowUpOwnerMenu: self.owner_menu,
            FollowUpOwner: self.reassign,
            FollowUpDueDate: self.due_date,
            FollowUpReopen: self.reopen,
            FollowUpOwnerPage: self.owner_page,
        }

    # --- lists and cards ----------------------------------------------------------------------------------------

    async def list_command(self, staff: Staff) -> Reply:
        return Reply(send=[await self._page(staff, 0)])

    async def page(self, staff: Staff, button: FollowUpPage, press: Press | None = None) -> Reply:
        return Reply(edit=await self._page(staff, button.page))

    async def owner_page(self, staff: Staff, button: FollowUpOwnerPage, press: Press | None = None) -> Reply:
        """One person's open follow-ups within the supervisor's scope (the button of a deactivation's note)."""
        if staff.role not in SUPERVISORS or scope_of(staff).staff_id is not None:
            return Reply(toast=t("access.not_allowed"))
        owner = await self.store.staff.get(button.staff)
        if owner is None:
            return expired()
        return Reply(edit=await self._page(staff, button.page, owner))

    async def _page(self, staff: Staff, page: int, owner: Staff | None = None) -> View:
        scope = scope_of(staff)
        where = FollowUpScope(owner_id=owner.id if owner else scope.staff_id, areas=scope.areas(self.taxonomy))
        total = await self.store.followups.open_count(where)
        pages = max(1, -(-total // PAGE))
        page = max(0, min(page, pages - 1))
        today = self.deps.today()
        found = await self.store.followups.open_list(where, today, offset=page * PAGE, limit=PAGE)
        title = t("followup.list_title", whose=self._whose(staff, owner), count=total, page=page + 1, pages=pages)
        with_owner = staff.role is not Role.STAFF
        lines = [title, *(summary_line(f, self.taxonomy, today, with_owner=with_owner) for f in found)]
        if not found:
            lines.append(t("followup.none"))
        opens = [[Choice(t("followup.open_button", label=f.label), FollowUpCard(f.id))] for f in found]
        turn = pager(page, pages, FollowUpOwnerPage, staff=owner.id) if owner else pager(page, pages, FollowUpPage)
        return View("\n".join(lines), rows(*opens, turn))

    def _whose(self, staff: Staff, owner: Staff | None) -> str:
        if owner is None:
            return scope_label(staff, self.taxonomy)
        name = owner.name if owner.active else t("followup.owner.inactive", name=owner.name)
        return t("followup.owner.whose", owner=name)

    def _card(self, staff: Staff, followup: FollowUp, note: str = "") -> View:
        text = card_text(followup, self.taxonomy, self.deps.today())
        if note:
            text = f"{note}\n\n{text}"
        reassign = can_reassign(staff, followup, self.taxonomy)
        read, note_form = self.form_link(staff, "read", followup), self.form_link(staff, "note", followup)
        forms = (read, note_form) if read is not None and note_form is not None else None
        buttons = card_buttons(followup, reassign=reassign, forms=forms)
        return View(text, (*buttons, (_to_list(),)))

    def form_link(self, staff: Staff, purpose: Purpose, followup: FollowUp) -> FormLink | None:
        """The note form's page reading this follow-up's details or adding a note (None: no form here)."""
        forms = self.deps.forms
        if forms is None or staff.telegram_id is None:
            return None
        issued = int(self.deps.now().timestamp())
        return FormLink(forms.links.url(LinkClaims(purpose, staff.telegram_id, followup.id, issued)))

    async def _visible(self, staff: Staff, followup_id: int, *, closed_ok: bool = False) -> FollowUp | Reply:
        """The follow-up, if this person may see it and it is still open (else what to answer)."""
        followup = await self.store.followups.get(followup_id)
        if followup is None or not can_see(staff, self.taxonomy, followup.area, followup.owner_id):
            return expired()
        if followup.status != "open" and not closed_ok:
            return Reply(toast=t("followup.already_closed"))
        return followup

    async def card(self, staff: Staff, button: FollowUpCard, press: Press | None = None) -> Reply:
        found = await self._visible(staff, button.followup)
        return found if isinstance(found, Reply) else Reply(edit=self._card(staff, found))

    async def details(self, staff: Staff, button: FollowUpDetails, press: Press | None = None) -> Reply:
        """The reason and the notes, opened, a page at a time (a message holds 4,096 characters, and a note up
        to 500): each page read is recorded in the audit log."""
        found = await self._visible(staff, button.followup, closed_ok=True)
        if isinstance(found, Reply):
            return found
        link = self.form_link(staff, "read", found)
        if link is not None:  # the council has the form: the details open on its page, never in the chat
            text = f"{card_text(found, self.taxonomy, self.deps.today())}\n\n{t('followup.form.read_here')}"
            return Reply(edit=View(text, rows([Choice(t("followup.button.details"), link)], [_back(found)])))
        detail = await self.store.followups.detail(found.id, staff.id, self.deps.now())
        assert detail is not None
        tz, today = self.deps.tz, self.deps.today()
        lines = [t("followup.reason", reason=detail.reason or t("flow.none"))]
        lines += [
            t(
                "followup.note_line",
                when=dates.short_for(n.created_at.astimezone(tz).date(), today),
                author=n.author,
                body=n.body,
            )
            for n in detail.notes
        ] or [t("followup.no_notes")]
        pages = paginate(lines, DETAILS_PAGE_CHARS)
        page = max(0, min(button.page, len(pages) - 1))
        card = self._card(staff, found)
        log.info("staff %s viewed follow-up %s (page %s)", staff.id, found.id, page + 1)
        text = f"{card.text}\n\n" + "\n".join(pages[page])
        if len(pages) > 1:
            text += "\n" + t("followup.details_page", page=page + 1, pages=len(pages))
        turn = pager(page, len(pages), FollowUpDetails, followup=found.id)
        return Reply(edit=View(text, (*card.rows[:-1], turn, card.rows[-1]) if turn else card.rows))

    # --- notes and due dates ------------------------------------------------------------------------------------

    async def ask_note(self, staff: Staff, button: FollowUpNote, press: Press) -> Reply:
        return await self._expect(staff, button.followup, "note", press)

    async def ask_due(self, staff: Staff, button: FollowUpDueTyped, press: Press) -> Reply:
        return await self._expect(staff, button.followup, "due", press)

    async def _expect(self, staff: Staff, followup_id: int, kind: str, press: Press) -> Reply:
        found = await self._visible(staff, followup_id)
        if isinstance(found, Reply):
            return found
        link = self.form_link(staff, "note", found) if kind == "note" else None
        forms = self.deps.forms
        if link is not None and forms is not None and not forms.typing_allowed(staff.telegram_id):
            text = f"{t('followup.form.note_here')}\n\n{card_text(found, self.taxonomy, self.deps.today())}"
            return Reply(edit=View(text, rows([Choice(t("flow.form.button"), link)], [_back(found)])))
        now = self.deps.now()
        try:
            async with self.store.unit(press.key, now) as tx:
                await self.store.pending.expect(staff.id, kind, found.id, press.message_id, now, tx=tx)
        except AlreadyProcessed:
            return Reply()
        prompt = t("followup.ask_note", limit=NOTE_MAX) if kind == "note" else t("followup.ask_due")
        text = f"{prompt}\n\n{card_text(found, self.taxonomy, self.deps.today())}"
        form = [Choice(t("flow.form.button"), link)] if link is not None else []
        return Reply(edit=View(text, rows(form, [_back(found)]), personal_text=kind == "note"))

    async def due_menu(self, staff: Staff, button: FollowUpDueMenu, press: Press | None = None) -> Reply:
        found = await self._visible(staff, button.followup)
        if isinstance(found, Reply):
            return found
        today = self.deps.today()
        # Each preset shows the date it sets (it may be earlier than the current due date) and carries that date.
        presets = []
        for code in DUE_CHOICES:
            day = today + timedelta(days=flow.DUE_PRESETS[code])
            label = t("followup.due.preset", span=t(f"flow.due.{code}"), date=dates.short_for(day, today))
            presets.append([Choice(label, FollowUpDuePreset(found.id, code, dates.as_number(day)))])
        typed = Choice(t("flow.due.date"), FollowUpDueTyped(found.id))
        text = f"{t('followup.ask_due_menu')}\n\n{card_text(found, self.taxonomy, today)}"
        return Reply(edit=View(text, rows(*presets, [typed, _back(found)])))

    async def due_preset(self, staff: Staff, button: FollowUpDuePreset, press: Press) -> Reply:
        """The date its label showed; a button sent before labels showed dates counts from today."""
        if button.day:
            return await self._set_shown_day(staff, button.followup, button.day, press)
        found = await self._visible(staff, button.followup)
        if isinstance(found, Reply):
            return found
        due = self.deps.today() + timedelta(days=flow.DUE_PRESETS[button.preset])
        return await self._set_due(staff, found, due, press.key, edit=True)

    async def _set_due(self, staff: Staff, followup: FollowUp, due: date, key: IdempotencyKey, *, edit: bool) -> Reply:
        try:
            async with self.store.unit(key, self.deps.now()) as tx:
                await self.store.followups.set_due(followup.id, due, staff.id, self.deps.now(), tx=tx)
        except AlreadyProcessed:
            return Reply()
        return await self._after(staff, followup.id, t("followup.due_changed"), edit=edit)

    async def after_note(self, staff: Staff, followup_id: int, note: str) -> Reply:
        """The card again, as a new message, after a note was added elsewhere (the note form)."""
        return await self._after(staff, followup_id, note, edit=False)

    async def _after(self, staff: Staff, followup_id: int, note: str, *, edit: bool) -> Reply:
        changed = await self.store.followups.get(followup_id)
        assert changed is not None
        card = self._card(staff, changed, note)
        return Reply(edit=card, toast=note) if edit else Reply(send=[card])

    # --- closing and reassigning --------------------------------------------------------------------------------

    async def close_menu(self, staff: Staff, button: FollowUpCloseMenu, press: Press | None = None) -> Reply:
        found = await self._visible(staff, button.followup)
        if isinstance(found, Reply):
            return found
        outcomes = [[Choice(o.label, FollowUpClose(found.id, o.code))] for o in self.taxonomy.outcome.active()]
        text = f"{t('followup.ask_outcome')}\n\n{card_text(found, self.taxonomy, self.deps.today())}"
        return Reply(edit=View(text, rows(*outcomes, [_back(found)])))

    async def close(self, staff: Staff, button: FollowUpClose, press: Press) -> Reply:
        found = await self._visible(staff, button.followup)
        if isinstance(found, Reply):
            return found
        outcome = self.taxonomy.outcome.get(button.outcome)
        if outcome is None or outcome.retired:
            return expired()
        now = self.deps.now()
        try:
            async with self.store.unit(press.key, now) as tx:
                closed = await self.store.followups.close(found.id, outcome.code, staff.id, now, tx=tx)
        except AlreadyProcessed:
            return Reply()
        if not closed:
            return Reply(toast=t("followup.already_closed"))
        log.info("staff %s closed follow-up %s (%s)", staff.id, found.id, outcome.code)
        undo = FollowUpReopen(found.id, closing_stamp(now))
        return Reply(edit=self._closed(found, outcome.label, undo), toast=t("followup.closed_toast"))

    @staticmethod
    def _closed(followup: FollowUp, outcome: str, undo: FollowUpReopen | None) -> View:
        """The message after 完了: with 元に戻す while the undo window lasts."""
        minutes = UNDO_WINDOW // timedelta(minutes=1)
        again = [Choice(t("followup.undo.button", minutes=minutes), undo)] if undo else []
        text = t("followup.closed", label=followup.label, outcome=outcome)
        return View(text, rows(again, [_to_list()]))

    async def reopen(self, staff: Staff, button: FollowUpReopen, press: Press) -> Reply:
        """元に戻す: the follow-up is open again, audited. Idempotent: only the closing this button was made for is
        undone (a second press finds it open; a later closing has another time), and only within UNDO_WINDOW."""
        found = await self._visible(staff, button.followup, closed_ok=True)
        if isinstance(found, Reply):
            return found
        if found.status == "open":
            return Reply(toast=t("followup.undo.already"))
        if found.closed_at is None or closing_stamp(found.closed_at) != button.closed:
            return expired()
        now = self.deps.now()
        if now - found.closed_at > UNDO_WINDOW:
            label = self.taxonomy.outcome.get(found.outcome or "")
            closed = self._closed(found, label.label if label else found.outcome or "", None)
            return Reply(edit=closed, toast=t("followup.undo.too_late", minutes=UNDO_WINDOW // timedelta(minutes=1)))
        try:
            async with self.store.unit(press.key, now) as tx:
                undone = await self.store.followups.reopen(found.id, found.closed_at, staff.id, now, tx=tx)
        except AlreadyProcessed:
            return Reply()
        if undone is None:
            return expired()
        log.info("staff %s reopened follow-up %s (was %s)", staff.id, found.id, undone)
        return await self._after(staff, found.id, t("followup.undo.done"), edit=True)

    async def _owners(self, staff: Staff, followup_id: int) -> tuple[FollowUp, list[Staff]] | Reply:
        """The follow-up and who may take it over, if this person may reassign it (else what to answer)."""
        found = await self._visible(staff, followup_id)
        if isinstance(found, Reply):
            return found
        if not can_reassign(staff, found, self.taxonomy):
            return Reply(toast=t("access.not_allowed"))
        return found, reassign_candidates(await self.store.staff.all(), found, self.taxonomy)

    async def owner_menu(self, staff: Staff, button: FollowUpOwnerMenu, press: Press | None = None) -> Reply:
        found = await self._owners(staff, button.followup)
        if isinstance(found, Reply):
            return found
        followup, people = found
        choices = [[Choice(p.name, FollowUpOwner(followup.id, p.id))] for p in people]
        text = f"{t('followup.ask_owner')}\n\n{card_text(followup, self.taxonomy, self.deps.today())}"
        return Reply(edit=View(text, rows(*choices, [_back(followup)])))

    async def reassign(self, staff: Staff, button: FollowUpOwner, press: Press) -> Reply:
        found = await self._owners(staff, button.followup)
        if isinstance(found, Reply):
            return found
        followup, people = found
        target = next((p for p in people if p.id == button.staff), None)
        if target is None:
            return expired()
        try:
            async with self.store.unit(press.key, self.deps.now()) as tx:
                await self.store.followups.reassign(followup.id, target.id, staff.id, self.deps.now(), tx=tx)
        except AlreadyProcessed:
            return Reply()
        return await self._after(staff, followup.id, t("followup.reassigned", name=target.name), edit=True)

    # --- typed answers ------------------------------------------------------------------------------------------

    async def typed(self, staff: Staff, text: str, key: IdempotencyKey) -> Reply | None:
        """A note or a due date typed after its button; None when no such answer was awaited."""
        pending = await self.store.pending.get(staff.id, self.deps.now() - INPUT_WAIT)
        if pending is None:
            return None
        followup = await self.store.followups.get(pending.followup_id)
        visible = followup is not None and can_see(staff, self.taxonomy, followup.area, followup.owner_id)
        if followup is None or followup.status != "open" or not visible:
            await self.store.pending.clear(staff.id)
            return None
        if pending.kind == "note":
            return await self._save_note(staff, pending, followup, text.strip(), key)
        return await self._typed_due(staff, followup, text, key)

    async def _save_note(
        self, staff: Staff, pending: PendingInput, followup: FollowUp, text: str, key: IdempotencyKey
    ) -> Reply:
        problem = flow.check_free_text(text, NOTE_MAX)
        if problem:
            return Reply(send=[View(t("flow.hint_prefix", hint=problem))])
        try:
            async with self.store.unit(key, self.deps.now()) as tx:
                await self.store.followups.add_note(followup.id, staff.id, text, self.deps.now(), tx=tx)
        except AlreadyProcessed:
            return Reply()
        # The note is kept sealed in the database; the copy in the chat is removed so it does not linger on the phone.
        return Reply(send=[self._card(staff, followup, t("followup.note_saved"))], forget_typed=True)

    async def _typed_due(self, staff: Staff, followup: FollowUp, text: str, key: IdempotencyKey) -> Reply:
        today = self.deps.today()
        typed = dates.read_date(text, today, prefer="future")
        hint = t("flow.hint.bad_date") if typed is None else due_problem(typed.day, today)
        if hint is not None or typed is None:
            return Reply(send=[View(t("flow.hint_prefix", hint=hint or ""))])
        if dates.year_guessed_far(typed, today):
            # 11/1 typed on 23 November is next year's: not taken silently, the date is pressed to confirm it.
            days = dates.year_choices(typed.day, today, lambda day: due_problem(day, today) is None)
            choices = [[Choice(dates.long(d), FollowUpDueDate(followup.id, dates.as_number(d)))] for d in days]
            text = f"{t('flow.ask.confirm_year')}\n\n{card_text(followup, self.taxonomy, today)}"
            return Reply(send=[View(text, rows(*choices, [_back(followup)]))])
        return await self._set_due(staff, followup, typed.day, key, edit=False)

    async def due_date(self, staff: Staff, button: FollowUpDueDate, press: Press) -> Reply:
        """A due date pressed to confirm the year of a typed one."""
        return await self._set_shown_day(staff, button.followup, button.day, press)

    async def _set_shown_day(self, staff: Staff, followup_id: int, number: int, press: Press) -> Reply:
        """Set the date a button showed (still checked: it may be pressed days later)."""
        found = await self._visible(staff, followup_id)
        if isinstance(found, Reply):
            return found
        day = dates.from_number(number)
        if day is None:
            return expired()
        hint = due_problem(day, self.deps.today())
        if hint is not None:
            return Reply(toast=hint)
        return await self._set_due(staff, found, day, press.key, edit=True)
