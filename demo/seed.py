"""Synthetic demo data: the demo user, a few staff across the zones and two fiscal years of plausible records.

Everything is written through the repositories the bot itself uses (staff are registered with invites, records
saved as submissions, follow-ups noted and closed through the follow-up repository), so the demo exercises the
same paths as real use. The data is deterministic for a given day: a seeded `random.Random`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.clock import utc_iso
from core.i18n import t
from core.models import NewConsultation, NewFollowUp, NewOuting, Role, Staff, Submission
from core.periods import fiscal_year, fiscal_year_of
from core.taxonomy import Category, Taxonomy
from storage.sqlite.store import Store
from storage.types import FollowUpScope

DEMO_USER_ID = 7_000_001  # the person at the terminal (a simulated Telegram user)
STAFF_TELEGRAM_BASE = 7_000_100  # the synthetic staff: simulated users nobody types for
DEMO_ZONE = "west"
DEMO_AREA = "kyonan"
SEED = 20_240_401
SEEDED_KEY = "demo_seeded"  # meta key written when seeding finished


@dataclass(frozen=True, slots=True)
class StaffPlan:
    """Who a synthetic staff member is and how busy they are."""

    role: Role
    zone: str
    area: str  # home area
    areas: tuple[str, ...]  # where they record, the home area most often
    pace: float  # outings on an ordinary weekday, on average


# In the order of the names in the catalogue (demo.staff_names): 8 people, 2 supervisors, 3 zones.
STAFF_PLANS = (
    StaffPlan(Role.STAFF, "east", "honcho-e", ("honcho-e", "honcho-s"), 0.8),
    StaffPlan(Role.STAFF, "east", "kitahara", ("kitahara", "wakaba"), 0.75),
    StaffPlan(Role.SUPERVISOR, "east", "honcho-s", ("honcho-s", "wakaba"), 0.25),
    StaffPlan(Role.STAFF, "central", "chuo", ("chuo", "nishikubo"), 0.85),
    StaffPlan(Role.STAFF, "central", "midori", ("midori", "yawata", "sekine"), 0.8),
    StaffPlan(Role.SUPERVISOR, "central", "nishikubo", ("nishikubo", "sekine"), 0.25),
    StaffPlan(Role.STAFF, "west", "sakaino", ("sakaino", "sakurazutsumi"), 0.8),
    StaffPlan(Role.STAFF, "west", "gotenyama", ("gotenyama", "sakurazutsumi"), 0.7),
)
DEMO_PLAN = StaffPlan(Role.STAFF, DEMO_ZONE, DEMO_AREA, (DEMO_AREA, "sakurazutsumi"), 0.8)

Weights = Mapping[str, float]

ACTIVITY: Weights = {
    "outing": 52,
    "meeting": 24,
    "info": 8,
    "liaison": 7,
    "outreach": 5,
    "consult": 2,
    "other": 2,
}
DESTINATION_BY_ACTIVITY: Mapping[str, Weights] = {
    "outing": {
        "salon-elderly": 26,
        "ibasho": 14,
        "salon-parent": 10,
        "kodomo-shokudo": 10,
        "area-council": 8,
        "tenmillion": 8,
        "community-group": 8,
        "volunteer-group": 6,
        "foodbank": 5,
        "other": 3,
        "individual": 2,
    },
    "meeting": {
        "area-council": 40,
        "volunteer-group": 15,
        "community-group": 15,
        "agency": 12,
        "kodomo-shokudo": 5,
        "ibasho": 5,
        "salon-elderly": 4,
        "other": 4,
    },
}
DESTINATION_OTHERWISE: Weights = {
    "area-council": 15,
    "agency": 15,
    "salon-elderly": 12,
    "individual": 10,
    "volunteer-group": 10,
    "community-group": 10,
    "ibasho": 8,
    "kodomo-shokudo": 6,
    "tenmillion": 4,
    "foodbank": 4,
    "salon-parent": 4,
    "other": 5,
}
HEADCOUNT: Mapping[str, tuple[int, int]] = {
    "salon-elderly": (8, 30),
    "salon-parent": (5, 20),
    "ibasho": (5, 25),
    "tenmillion": (8, 25),
    "kodomo-shokudo": (20, 60),
    "foodbank": (5, 20),
    "area-council": (8, 20),
    "volunteer-group": (5, 15),
    "community-group": (5, 20),
}
CHANNEL_ELSEWHERE: Weights = {"phone": 40, "office": 25, "mail": 15, "home-visit": 15, "other": 5}
CONSULTER_AT_OUTING: Weights = {"individual": 45, "group": 30, "volunteer": 12, "council": 8, "agency": 5}
CONSULTER_ELSEWHERE: Weights = {"individual": 35, "group": 25, "agency": 18, "volunteer": 12, "council": 10}
CATEGORY: Mapping[str, Weights] = {
    "individual": {"services": 10, "news": 7, "specific": 5, "join-place": 4, "other": 2},
    "volunteer": {"volunteer": 10, "donate": 7, "worries": 5, "visit": 4, "other": 2},
    "group": {
        "funds": 10,
        "news": 9,
        "council": 8,
        "rules": 6,
        "recruit": 6,
        "pr": 5,
        "partners": 4,
        "room": 4,
        "case": 4,
        "new-place": 3,
        "members": 3,
        "city": 3,
        "insurance": 3,
        "vision": 2,
        "records": 2,
        "others": 2,
        "donation": 2,
        "training": 2,
        "other": 2,
        "covid": 1,
    },
}
# The topics of consultations from agencies (関係機関からの相談); no other group is asked one.
AGENCY_TOPIC: Weights = {
    "case": 8,
    "care-meeting": 6,
    "area-council": 3,
    "ibasho": 3,
    "tenmillion": 2,
    "kodomo-shokudo": 2,
    "foodbank": 1,
    "donation": 1,
    "other": 2,
}
# How often a consultation is connected to an agency (a referral, つなぎ先), by group; an agency that consulted
# is seldom referred on.
REFERRAL_CHANCE: Mapping[str, float] = {"individual": 0.45, "agency": 0.15, "group": 0.2, "volunteer": 0.1}
AGENCY: Mapping[str, Weights] = {
    "individual": {
        "houkatsu": 10,
        "elderly": 8,
        "livelihood": 6,
        "disability": 4,
        "children": 4,
        "health": 3,
        "kosha": 3,
        "elderly-care": 3,
        "welfare-medical": 2,
        "education": 2,
    },
    "agency": {
        "houkatsu": 6,
        "elderly": 5,
        "children": 5,
        "community": 4,
        "livelihood": 3,
        "education": 2,
        "kosha": 2,
        "city-other": 1,
    },
    "group": {"community": 5, "civic": 5, "children": 3, "city-other": 2, "environment": 1, "corporate": 1},
    "other": {"civic": 4, "community": 3, "corporate": 2, "city-other": 1},
}
OUTCOME: Weights = {"connected": 35, "watching": 30, "resolved": 20, "unreachable": 5, "other": 5}
WEEKDAY = (0.9, 1.1, 1.1, 1.0, 0.9, 0.12, 0.04)  # Monday .. Sunday
SEASON = {1: 0.85, 3: 0.9, 4: 0.95, 8: 0.75, 12: 0.9}
LAST_FY_PACE = 0.9  # a little less than this year: the fiscal-year comparison shows growth


@dataclass(slots=True)
class FollowUpPlan:
    """What happens to a flagged person after the consultation: notes, and maybe closing."""

    label: str
    owner_id: int
    created: date
    closed_on: date | None
    outcome: str | None
    notes: list[tuple[date, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SeedSummary:
    staff: int
    outings: int
    consultations: int
    followups: int
    first: date
    last: date


def lines(key: str) -> list[str]:
    """A catalogue entry that lists one item per line."""
    return [line.strip() for line in t(key).splitlines() if line.strip()]


def day_factor(day: date) -> float:
    """How busy an ordinary staff member is on `day`: weekdays, the new-year break, Obon, Golden Week."""
    if (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3):
        return 0.0
    if (day.month == 8 and 13 <= day.day <= 16) or (day.month, day.day) in ((4, 29), (5, 3), (5, 4), (5, 5)):
        return 0.2 * WEEKDAY[day.weekday()]
    return WEEKDAY[day.weekday()] * SEASON.get(day.month, 1.0)


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def letters(number: int) -> str:
    """A, B, … Z, then A2, B2, …: the letter that tells apart people with the same description."""
    return chr(ord("A") + number % 26) + (str(number // 26 + 1) if number >= 26 else "")


class Generator:
    """Draws the records day by day; every choice comes from one seeded random source."""

    def __init__(self, rng: random.Random, taxonomy: Taxonomy, today: date, demo_id: int) -> None:
        self.rng = rng
        self.taxonomy = taxonomy
        self.today = today
        self.last = today - timedelta(days=1)
        self.demo_id = demo_id
        self.this_fy = fiscal_year_of(today)
        self.followups: list[FollowUpPlan] = []
        self.outings = 0
        self.consultations = 0
        self._letters: dict[str, int] = {}
        self._cases = [tuple(line.split("|", 1)) for line in lines("demo.followup_cases")]

    def pick(self, weights: Weights, offered: Sequence[Category]) -> str:
        """A weighted choice among the offered categories; categories without a weight are rare but possible."""
        codes = [c.code for c in offered]
        if not codes:
            raise ValueError("nothing to choose from")
        chances = [weights.get(code, 0.3) for code in codes]
        return self.rng.choices(codes, chances)[0]

    def count(self, mean: float, most: int = 3) -> int:
        """A small count with the given mean (binomial over `most` tries)."""
        chance = min(1.0, mean / most)
        return sum(1 for _ in range(most) if self.rng.random() < chance)

    def moment(self, day: date, tz: ZoneInfo) -> datetime:
        """When a record of `day` was saved: in the afternoon, after the outing."""
        minutes = self.rng.randint(11 * 60, 18 * 60)
        return datetime.combine(day, time(minutes // 60, minutes % 60), tz)

    def day(self, staff_id: int, plan: StaffPlan, day: date) -> list[tuple[Submission, str]]:
        factor = day_factor(day) * plan.pace * (1.0 if day in self.this_fy else LAST_FY_PACE)
        if factor <= 0:
            return []
        made: list[tuple[Submission, str]] = []
        for _ in range(self.count(factor)):
            area = plan.areas[0] if self.rng.random() < 0.6 else self.rng.choice(plan.areas)
            outing = self.outing()
            consultations: list[NewConsultation] = []
            if self.rng.random() < 0.24:
                for _ in range(2 if self.rng.random() < 0.15 else 1):
                    consultations.append(self.consultation(staff_id, area, day, at_outing=True))
            made.append((Submission(staff_id, day, area, outing, tuple(consultations)), "visit"))
            self.outings += 1
        for _ in range(self.count(factor * 0.45, 2)):
            area = plan.areas[0] if self.rng.random() < 0.7 else self.rng.choice(plan.areas)
            items = [self.consultation(staff_id, area, day, at_outing=False)]
            if self.rng.random() < 0.1:
                items.append(self.consultation(staff_id, area, day, at_outing=False))
            made.append((Submission(staff_id, day, area, None, tuple(items)), "consult"))
        return made

    def outing(self) -> NewOuting:
        taxonomy = self.taxonomy
        activity = self.pick(ACTIVITY, taxonomy.activity.active())
        weights = DESTINATION_BY_ACTIVITY.get(activity, DESTINATION_OTHERWISE)
        destination = self.pick(weights, taxonomy.destination.active())
        headcount = None
        span = HEADCOUNT.get(destination)
        if span is not None and activity in ("outing", "meeting") and self.rng.random() < 0.75:
            low, high = span if activity == "outing" else (4, 15)
            headcount = self.rng.randint(low, high)
        return NewOuting(activity, destination, headcount)

    def consultation(self, staff_id: int, area: str, day: date, *, at_outing: bool) -> NewConsultation:
        taxonomy = self.taxonomy
        self.consultations += 1
        if at_outing:
            channel = taxonomy.outing_channel
        else:
            offered = [c for c in taxonomy.channel.active() if c.code != taxonomy.outing_channel]
            channel = self.pick(CHANNEL_ELSEWHERE, offered)
        consulter = self.pick(CONSULTER_AT_OUTING if at_outing else CONSULTER_ELSEWHERE, taxonomy.consulter.active())
        categories = taxonomy.categories_of(consulter).active()
        category = self.pick(CATEGORY.get(consulter, {}), categories) if categories else None
        topic = from_agency = None
        if consulter == taxonomy.agency_group:
            # Who consulted (the agencies that consult most: 包括, 高齢者支援課, 子ども政策課 …) and about what.
            from_agency = self.pick(AGENCY["agency"], taxonomy.agency.active())
            topic = self.pick(AGENCY_TOPIC, taxonomy.topic.active())
        agencies: list[str] = []
        if self.rng.random() < REFERRAL_CHANCE.get(consulter, 0.1):
            wanted = 1 if self.rng.random() < 0.75 else (2 if self.rng.random() < 0.8 else 3)
            weights = AGENCY.get(consulter, AGENCY["other"])
            offered = [c for c in taxonomy.agency.active() if c.code != from_agency]
            while offered and len(agencies) < wanted:
                chosen = self.pick(weights, offered)
                agencies.append(chosen)
                offered = [c for c in offered if c.code != chosen]
        followup = None
        if consulter == "individual" or topic == "case":
            recent = (self.today - day).days <= 60
            chance = 0.08 if not recent else (0.4 if staff_id == self.demo_id else 0.2)
            if self.rng.random() < chance:
                followup = self.followup(staff_id, area, day)
        return NewConsultation(
            channel, consulter, category, topic, tuple(agencies), at_outing, followup, from_agency=from_agency
        )

    def followup(self, staff_id: int, area: str, day: date) -> NewFollowUp:
        number = self._letters.get(area, 0)
        self._letters[area] = number + 1
        who, reason = self.rng.choice(self._cases)
        label = t("demo.followup_label", area=self.taxonomy.area_label(area), who=who, letter=letters(number))
        due = day + timedelta(days=self.rng.choice((7, 7, 14, 14, 14, 30, 30)))
        age = (self.last - day).days
        closed_on: date | None = None
        outcome: str | None = None
        # Most older cases were closed within three months; most of the last two months' are still open (all of
        # the demo user's, so that their own /followups has something to try).
        recent_closed = age >= 3 and staff_id != self.demo_id and self.rng.random() < 0.3
        if (age > 60 and self.rng.random() < 0.96) or (age <= 60 and recent_closed):
            closed_on = day + timedelta(days=self.rng.randint(3, min(age, 90)))
            outcome = self.pick(OUTCOME, self.taxonomy.outcome.active())
        elif staff_id == self.demo_id and due < self.today + timedelta(days=2):
            # The demo user's open follow-ups are due ahead: no reminder interrupts the first minutes.
            due = self.today + timedelta(days=self.rng.randint(2, 21))
        self.followups.append(FollowUpPlan(label, staff_id, day, closed_on, outcome))
        return NewFollowUp(label, due, reason if self.rng.random() < 0.8 else None)

    def add_notes(self) -> None:
        """A couple of follow-ups carry notes: two of the demo user's open ones and two closed ones."""
        notes = lines("demo.followup_notes")
        mine_open = [f for f in self.followups if f.owner_id == self.demo_id and f.closed_on is None]
        closed = [f for f in self.followups if f.closed_on is not None]
        chosen = mine_open[-2:] + closed[-3:-1]
        for number, plan in enumerate(chosen):
            end = plan.closed_on - timedelta(days=1) if plan.closed_on is not None else self.last
            for k in range(1 + number % 2):
                span = max(0, (end - plan.created).days)
                when = plan.created + timedelta(days=min(span, 1 + k * 3 + self.rng.randint(0, 2)))
                plan.notes.append((when, notes[(number + k) % len(notes)]))


async def is_seeded(store: Store) -> bool:
    return await store.meta.get(SEEDED_KEY) is not None


async def is_empty(store: Store) -> bool:
    return not await store.staff.all(include_imported=True)


def demo_user_name() -> str:
    return f"{t('demo.user_last_name')} {t('demo.user_first_name')}"


async def ensure_demo_user(
    store: Store, role: Role, now: datetime, *, account: int = DEMO_USER_ID, name: str | None = None
) -> Staff:
    """The demo user's staff row with the chosen role, in the west zone, with a home area (flows start at once).

    An admin is made the way ADMIN_TELEGRAM_IDS makes one; another role is an admin's role change (audited),
    as an admin would make it for a colleague. `account`: the demo user's account number (by default the
    Telegram demo user's; the LINE WORKS demo gives its own), `name` their name (by default the demo user's).
    """
    name = name or demo_user_name()
    current = await store.staff.by_telegram_id(account)
    if current is None or role is Role.ADMIN:
        current = await store.staff.ensure_admin(account, now)
    if role is not Role.ADMIN and (current.role is not role or current.zone != DEMO_ZONE or not current.active):
        await store.staff.change_role(current.id, role, DEMO_ZONE, now, actor_id=current.id)
        changed = await store.staff.by_telegram_id(account)
        assert changed is not None
        current = changed
    if current.name != name:
        await store.staff.rename(current.id, name)
    if current.area != DEMO_AREA:
        await store.staff.set_area(current.id, DEMO_AREA)
    staff = await store.staff.by_telegram_id(account)
    assert staff is not None
    return staff


async def register_staff(store: Store, creator_id: int, joined: datetime) -> list[int]:
    """The synthetic staff, registered as real staff are: each redeems an invite. Returns their staff ids."""
    ids: list[int] = []
    names = lines("demo.staff_names")
    for number, (name, plan) in enumerate(zip(names, STAFF_PLANS, strict=True)):
        code_hash = hashlib.sha256(f"fieldbot demo staff {number}".encode()).hexdigest()
        await store.invites.create(code_hash, plan.role, plan.zone, creator_id, joined, joined + timedelta(hours=72))
        staff = await store.invites.redeem(code_hash, STAFF_TELEGRAM_BASE + number, name, joined)
        if isinstance(staff, str):
            raise RuntimeError(f"a demo invite was refused: {staff}")
        await store.staff.set_area(staff.id, plan.area)
        ids.append(staff.id)
    return ids


async def seed(store: Store, taxonomy: Taxonomy, today: date, tz: ZoneInfo) -> SeedSummary:
    """Fill an empty database: the previous fiscal year whole and the current one up to yesterday."""
    rng = random.Random(SEED)
    first = fiscal_year(fiscal_year_of(today).fiscal_year - 1).start
    last = today - timedelta(days=1)
    joined = datetime.combine(first - timedelta(days=14), time(10), tz)
    demo = await ensure_demo_user(store, Role.ADMIN, joined)
    staff_ids = [demo.id, *await register_staff(store, demo.id, joined)]
    plans = [DEMO_PLAN, *STAFF_PLANS]
    generator = Generator(rng, taxonomy, today, demo.id)
    async with store.db.transaction() as tx:
        for day in days(first, last):
            for staff_id, plan in zip(staff_ids, plans, strict=True):
                for submission, kind in generator.day(staff_id, plan, day):
                    await store.records.save_submission(tx, submission, kind, generator.moment(day, tz))
    generator.add_notes()
    await apply_followup_history(store, generator.followups, today, tz)
    await store.meta.put(SEEDED_KEY, utc_iso(datetime.now(tz)))
    return SeedSummary(
        len(staff_ids), generator.outings, generator.consultations, len(generator.followups), first, last
    )


async def apply_followup_history(store: Store, plans: list[FollowUpPlan], today: date, tz: ZoneInfo) -> None:
    """Notes and closings, each at its own past moment (and audited then, as the bot would have)."""
    opened = await store.followups.open_list(FollowUpScope(), today, limit=len(plans) + 1)
    ids = {f.label: f.id for f in opened}
    at = time(16, 30)
    for plan in plans:
        followup_id = ids[plan.label]
        for when, body in plan.notes:
            await store.followups.add_note(followup_id, plan.owner_id, body, datetime.combine(when, at, tz))
        if plan.closed_on is not None and plan.outcome is not None:
            closed_at = datetime.combine(plan.closed_on, time(17, 0), tz)
            await store.followups.close(followup_id, plan.outcome, plan.owner_id, closed_at)
