"""A consultation's questions with one pick each: how it came, who consulted, about what."""

from __future__ import annotations

from core.flow.navigation import answered_here
from core.flow.screen import Screen, choices, consultation_heading, date_area_row, nav
from core.flow.state import DraftState, FlowContext, given
from core.flow.step import Outcome, Step, refuse, register, valid
from core.i18n import t
from core.taxonomy import Taxonomy


def has_categories(taxonomy: Taxonomy, consulter: str | None) -> bool:
    """Whether the consulter group has sub-categories to ask about."""
    return consulter is not None and len(taxonomy.categories_of(consulter).active()) > 0


def from_agency(taxonomy: Taxonomy, consulter: str | None) -> bool:
    """Whether the consultation came from an agency: then the agency that consulted and its topic are asked."""
    return consulter is not None and consulter == taxonomy.agency_group


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
            c.from_agency, c.topic = None, None  # asked again if the new group came from an agency
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
class FromAgency(Step):
    """Which agency consulted (関係機関別): one, required, for the group that came from an agency."""

    name = "from_agency"

    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return from_agency(ctx.taxonomy, state.consultations[i].consulter)

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return not self.asked(state, ctx, i) or state.consultations[i].from_agency is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if not self.asked(state, ctx, i) or not valid(ctx.taxonomy.agency, code):
            return refuse(state)
        state.consultations[i].from_agency = code
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        rows = choices(ctx.taxonomy.agency.active(), state.consultations[i].from_agency)
        return Screen(f"{consultation_heading(i)}\n{t('flow.ask.from_agency')}", [*rows, nav(state)])


@register
class Topic(Step):
    """What a consultation from an agency was about (相談内容別): one, required."""

    name = "topic"

    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return from_agency(ctx.taxonomy, state.consultations[i].consulter)

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return not self.asked(state, ctx, i) or state.consultations[i].topic is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if not self.asked(state, ctx, i) or not valid(ctx.taxonomy.topic, code):
            return refuse(state)
        state.consultations[i].topic = code
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        rows = choices(ctx.taxonomy.topic.active(), given(state.consultations[i].topic))
        return Screen(f"{consultation_heading(i)}\n{t('flow.ask.topic')}", [*rows, nav(state)])
