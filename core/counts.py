"""The counts a report is built from: what storage's GROUP BY queries return for one period."""

from __future__ import annotations

from dataclasses import dataclass, field

# The report dimensions in display order; the JSON uses these names.
DIMENSIONS = ("activity", "destination", "channel", "consulter", "topic", "agency", "referral")
# The code counted where a record does not say (an agency consultation saved before the agency that consulted was
# asked, an imported row without a topic): shown as 不明. No taxonomy code can be it (see CODE_PATTERN).
UNKNOWN = "?"


@dataclass(slots=True)
class Counts:
    """Counts of one period (and optionally one zone). Keys are taxonomy codes, never labels.

    activity / destination count outings; channel / consulter count consultations; consulter_category counts
    consultations per (group, category). agency and topic count the consultations of the group that came from an
    agency, by the agency that consulted and by topic (UNKNOWN where a record does not say): both add up to that
    group's count. referral counts consultation-agency pairs of any group (one consultation connected to two
    agencies counts once for each).
    """

    activity: dict[str, int] = field(default_factory=dict)
    destination: dict[str, int] = field(default_factory=dict)
    channel: dict[str, int] = field(default_factory=dict)
    consulter: dict[str, int] = field(default_factory=dict)
    consulter_category: dict[tuple[str, str], int] = field(default_factory=dict)
    topic: dict[str, int] = field(default_factory=dict)
    agency: dict[str, int] = field(default_factory=dict)
    referral: dict[str, int] = field(default_factory=dict)
    outings: int = 0
    consultations: int = 0
    at_outing: int = 0  # consultations received at outings

    def dimension(self, name: str) -> dict[str, int]:
        if name not in DIMENSIONS:
            raise KeyError(name)
        found: dict[str, int] = getattr(self, name)
        return found

    def add(self, other: Counts) -> Counts:
        """The sum of two counts (records plus an imported baseline, or several zones)."""

        def merge(a: dict, b: dict) -> dict:  # type: ignore[type-arg]
            out = dict(a)
            for key, value in b.items():
                out[key] = out.get(key, 0) + value
            return out

        return Counts(
            activity=merge(self.activity, other.activity),
            destination=merge(self.destination, other.destination),
            channel=merge(self.channel, other.channel),
            consulter=merge(self.consulter, other.consulter),
            consulter_category=merge(self.consulter_category, other.consulter_category),
            topic=merge(self.topic, other.topic),
            agency=merge(self.agency, other.agency),
            referral=merge(self.referral, other.referral),
            outings=self.outings + other.outings,
            consultations=self.consultations + other.consultations,
            at_outing=self.at_outing + other.at_outing,
        )
