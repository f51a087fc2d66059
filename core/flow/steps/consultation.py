"""A consultation's questions with one pick each: how it came, who consulted, about what."""

from __future__ import annotations

from core.flow.navigation import answered_here
from core.flow.screen import Screen, choices, consultation_heading, date_area_row, nav, skip_button
from core.flow.state import SKIPPED, DraftState, FlowContext, given
from core.flow.step import Outcome, Step, refuse, register, valid
from core.i18n import t
from core.taxonomy import Taxonomy


def has_categories(taxonomy: Taxonomy, consulter: str | None) -> bool:
    """Whether the consulter group has sub-categories to ask about."""
    return consulter is not None and len(taxonomy.categories_of(consulter).active()) > 0


@register
class Channel(Step):
    name = "channel"

    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.kind == "consult"  # a consultation at an outing came by the outing

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.consultations[i].channel is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if not valid(ctx.taxonomy.channel, code):
            return refuse(state)
        state.consultations[i].channel = code
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        rows = choices(ctx.taxonomy.channel.active(), state.consultations[i].channel)
        if len(state.stack) == 1:
            rows.append(date_area_row())
        back = nav(state)
        text = f"{consultation_heading(i)}\n{t('flow.ask.channel')}"
        return Screen(text, [*rows, back] if back else rows)


@register
class Consulter(Step):
    name = "consulter"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.consultations[i].consulter is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if not valid(ctx.taxonomy.consulter, code):
            return refuse(state)
        c = state.consultations[i]
        if c.consulter != code:
            c.category = None  # another group's sub-category: asked next
        c.consulter = code
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        rows = choices(ctx.taxonomy.consulter.active(), state.consultations[i].consulter)
        return Screen(f"{consultation_heading(i)}\n{t('flow.ask.consulter')}", [*rows, nav(state)])


@register
class Category(Step):
    """The consulter group's sub-category; groups without any skip the question."""

    name = "category"

    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        consulter = state.consultations[i].consulter
        return consulter is None or has_categories(ctx.taxonomy, consulter)

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        c = state.consultations[i]
        return c.category is not None or (c.consulter is not None and not has_categories(ctx.taxonomy, c.consulter))

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        c = state.consultations[i]
        if c.consulter is None or not valid(ctx.taxonomy.categories_of(c.consulter), code):
            return refuse(state)
        c.category = code
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        tax = ctx.taxonomy
        c = state.consultations[i]
        assert c.consulter is not None  # the consulter is asked first, and a menu offers this only after
        rows = choices(tax.categories_of(c.consulter).active(), c.category)
        text = t("flow.ask.category", group=tax.consulter.label(c.consulter))
        return Screen(f"{consultation_heading(i)}\n{text}", [*rows, nav(state)])


@register
class Topic(Step):
    """What the consultation was about: optional."""

    name = "topic"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.consultations[i].topic is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if not valid(ctx.taxonomy.topic, code):
            return refuse(state)
        state.consultations[i].topic = code
        return answered_here(state, ctx)

    def on_skip(self, state: DraftState, ctx: FlowContext, i: int) -> Outcome:
        state.consultations[i].topic = SKIPPED
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        rows = choices(ctx.taxonomy.topic.active(), given(state.consultations[i].topic))
        rows.append(nav(state, skip_button()))
        return Screen(f"{consultation_heading(i)}\n{t('flow.ask.topic')}", rows)
