"""Who may do what, and whose data they see: one rule for reports, follow-ups and digests alike."""

from __future__ import annotations

from dataclasses import dataclass

from core.i18n import t
from core.models import Role, Staff
from core.taxonomy import Taxonomy


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose records: a zone's areas, one staff member's, or (both None) the whole council's."""

    zone: str | None = None
    staff_id: int | None = None

    def areas(self, taxonomy: Taxonomy) -> list[str] | None:
        if self.zone is None:
            return None
        return [a.code for a in taxonomy.areas_of(self.zone)]

    @property
    def council_wide(self) -> bool:
        return self.zone is None and self.staff_id is None

    def covers(self, taxonomy: Taxonomy, area: str, staff_id: int) -> bool:
        """Whether a record of `staff_id` in `area` is inside the scope."""
        if self.staff_id is not None and staff_id != self.staff_id:
            return False
        if self.zone is None:
            return True
        found = taxonomy.area(area)
        return found is not None and found.zone == self.zone


def scope_of(staff: Staff) -> Scope:
    """What a person sees: admins the whole council, supervisors their zone, everyone else their own records
    (a supervisor without a zone too)."""
    if staff.role is Role.ADMIN:
        return Scope()
    if staff.role is Role.SUPERVISOR and staff.zone is not None:
        return Scope(zone=staff.zone)
    return Scope(staff_id=staff.id)


def scope_label(staff: Staff, taxonomy: Taxonomy) -> str:
    """How the scope is named in titles: 全圏域, the zone, or 自分."""
    scope = scope_of(staff)
    if scope.council_wide:
        return t("common.all_zones")
    if scope.zone is not None:
        return taxonomy.zone_label(scope.zone)
    return t("followup.mine")


def can_see(staff: Staff, taxonomy: Taxonomy, area: str, owner_id: int) -> bool:
    """A record (a follow-up) of `owner_id` in `area`: its owner sees it, and whoever's scope covers it."""
    if not staff.active:
        return False
    return owner_id == staff.id or scope_of(staff).covers(taxonomy, area, owner_id)


def refusal(staff: Staff | None, roles: tuple[Role, ...] = ()) -> str | None:
    """Why this person may not use a command or button (in Japanese), or None when they may."""
    if staff is None:
        return t("access.refused")
    if not staff.active:
        return t("access.deactivated")
    if roles and staff.role not in roles:
        return t("access.not_allowed")
    return None


SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
ADMINS = (Role.ADMIN,)
