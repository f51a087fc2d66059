"""The records the program keeps: staff, invites, outings, consultations, follow-ups and drafts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Role(StrEnum):
    STAFF = "staff"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Staff:
    id: int
    # The person's chat account: a Telegram user id, or a LINE WORKS user's account number (core/accounts.py).
    telegram_id: int | None
    name: str
    role: Role
    zone: str | None  # None: every zone (admins)
    area: str | None  # home area, pre-filled in flows
    active: bool
    imported: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_supervisor(self) -> bool:
        return self.role is Role.SUPERVISOR


@dataclass(frozen=True, slots=True)
class Invite:
    id: int
    role: Role
    zone: str | None
    created_by: int
    created_at: datetime
    expires_at: datetime
    used_by: int | None
    used_at: datetime | None


class PlaceStatus(StrEnum):
    PREPARING = "preparing"  # 準備中
    ACTIVE = "active"  # 活動中
    PAUSED = "paused"  # 休止
    ENDED = "ended"  # 終了


@dataclass(frozen=True, slots=True)
class NewPlace:
    """A place (活動先) as a council registers it: public, never personal. `kind` is a destination code."""

    name: str
    kind: str
    area: str
    organiser: str | None = None
    status: PlaceStatus = PlaceStatus.ACTIVE
    started_on: date | None = None
    ended_on: date | None = None


@dataclass(frozen=True, slots=True)
class Place(NewPlace):
    id: int = 0
    confirmed: bool = True


@dataclass(frozen=True, slots=True)
class NewFollowUp:
    label: str
    due: date
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class NewConsultation:
    """One consultation. `from_agency` and `topic` are given for the group that came from an agency (the agency
    that consulted, and about what); `agencies` are the referrals (つないだ先), for any group."""

    channel: str
    consulter: str
    consulter_category: str | None
    topic: str | None
    agencies: tuple[str, ...]
    at_outing: bool
    followup: NewFollowUp | None = None
    from_agency: str | None = None


@dataclass(frozen=True, slots=True)
class NewOuting:
    activity: str
    destination: str
    headcount: int | None
    place_id: int | None = None  # the registered place (活動先) gone to; its kind is `destination`
    new_place: str | None = None  # a place named during the outing: registered at save, to be confirmed


@dataclass(frozen=True, slots=True)
class Submission:
    """What one completed flow saves at once: an optional outing and its consultations."""

    staff_id: int
    date: date
    area: str
    outing: NewOuting | None
    consultations: tuple[NewConsultation, ...] = ()
    memo: str | None = None


@dataclass(frozen=True, slots=True)
class SavedSubmission:
    id: int
    staff_id: int
    created_at: datetime
    outing_id: int | None
    consultation_ids: tuple[int, ...] = field(default_factory=tuple)
