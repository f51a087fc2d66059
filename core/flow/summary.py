"""A draft in words (the summary card, the saved confirmation) and as the records it saves."""

from __future__ import annotations

from core import dates
from core.flow.state import DraftState, FlowContext, given
from core.i18n import t
from core.models import NewConsultation, NewFollowUp, NewOuting, Submission


def _who(state: DraftState, ctx: FlowContext, i: int) -> str:
    tax = ctx.taxonomy
    c = state.consultations[i]
    who = tax.consulter.label(c.consulter) if c.consulter else t("flow.unanswered")
    if c.category and c.consulter:
        category = tax.categories_of(c.consulter).label(c.category)
        who = t("flow.summary.group_category", group=who, category=category)
    return who


def consultation_summary(state: DraftState, ctx: FlowContext, i: int) -> str:
    """The i-th consultation's answers, one per line."""
    tax = ctx.taxonomy
    c = state.consultations[i]
    lines = []
    if state.kind == "consult" and c.channel:
        lines.append(t("flow.summary.channel", channel=tax.channel.label(c.channel)))
    lines.append(t("flow.summary.consulter", consulter=_who(state, ctx, i)))
    if c.consulter is not None and c.consulter == tax.agency_group:
        agency = tax.agency.label(c.from_agency) if c.from_agency else t("flow.unanswered")
        lines.append(t("flow.summary.from_agency", agency=agency))
        topic = given(c.topic)
        lines.append(t("flow.summary.topic", topic=tax.topic.label(topic) if topic else t("flow.none")))
    agencies = t("flow.list_separator").join(tax.agency.label(a) for a in c.agencies) if c.agencies else t("flow.none")
    lines.append(t("flow.summary.agencies", agencies=agencies))
    followup = c.flagged
    if followup is not None and followup.label and followup.due:
        due = dates.short_for(followup.due, ctx.today)
        lines.append(t("flow.summary.followup", label=followup.label, due=due))
        if given(followup.reason):
            lines.append(t("flow.summary.followup_reason"))  # that there is one, never the text
    else:
        lines.append(t("flow.summary.followup_none"))
    return "\n".join(lines)


def render_summary_text(state: DraftState, ctx: FlowContext) -> str:
    """Every answer, one per line: the body of the summary card and of the saved confirmation."""
    tax = ctx.taxonomy
    lines = [t("flow.summary.date", date=dates.long(state.date))]
    lines.append(t("flow.summary.area", area=tax.area_label(state.area)))
    if state.kind == "visit":
        lines.append(t("flow.summary.activity", activity=tax.activity.label(state.activity or "")))
        if state.new_place:
            lines.append(t("flow.summary.new_place", place=state.new_place))
        elif state.place_name:
            lines.append(t("flow.summary.place", place=state.place_name))
        lines.append(t("flow.summary.destination", destination=tax.destination.label(state.destination or "")))
        count = given(state.headcount)
        headcount = t("flow.people", count=count) if count is not None else t("flow.not_given")
        lines.append(t("flow.summary.headcount", headcount=headcount))
    lines.append(t("flow.summary.consultations", count=len(state.consultations)))
    for i in range(len(state.consultations)):
        body = consultation_summary(state, ctx, i).replace("\n", "\n    ")
        lines.append(t("flow.summary.consultation_item", number=i + 1, body=body))
    if state.memo:
        lines.append(t("flow.summary.memo", length=len(state.memo)))  # that there is one, never the text
    return "\n".join(lines)


def to_submission(state: DraftState, ctx: FlowContext, staff_id: int) -> Submission:
    """The records a complete draft saves. Call only when `missing_step` is None."""
    outing = None
    if state.kind == "visit":
        assert state.activity and state.destination
        place = state.place if isinstance(state.place, int) else None
        outing = NewOuting(state.activity, state.destination, given(state.headcount), place, state.new_place)
    consultations = []
    for c in state.consultations:
        assert c.consulter is not None
        channel = ctx.taxonomy.outing_channel if state.kind == "visit" else c.channel
        assert channel is not None
        agency_group = c.consulter == ctx.taxonomy.agency_group  # only its consultations name an agency and topic
        followup = None
        if c.flagged is not None:
            assert c.flagged.label and c.flagged.due
            followup = NewFollowUp(c.flagged.label, c.flagged.due, given(c.flagged.reason))
        consultations.append(
            NewConsultation(
                channel=channel,
                consulter=c.consulter,
                consulter_category=c.category,
                topic=given(c.topic) if agency_group else None,
                agencies=tuple(c.agencies),
                at_outing=channel == ctx.taxonomy.outing_channel,
                followup=followup,
                from_agency=c.from_agency if agency_group else None,
            )
        )
    return Submission(
        staff_id=staff_id,
        date=state.date,
        area=state.area,
        outing=outing,
        consultations=tuple(consultations),
        memo=state.memo,
    )
