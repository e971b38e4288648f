"""Who is calling, and what they may do in which project."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from wildlens.common.errors import Forbidden, NotFound

__all__ = ["PERMISSIONS", "ROLES", "Principal", "Role"]

Role = Literal["viewer", "volunteer", "annotator", "manager", "admin"]
# Rank for "at least" checks, in the order the roles grant more.
ROLES: dict[str, int] = {"viewer": 1, "volunteer": 2, "annotator": 3, "manager": 4, "admin": 5}
ALL_PROJECTS = "*"
# Granted per project on top of a role; ``precise_locations`` sees sensitive species' exact
# coordinates.
PERMISSIONS: frozenset[str] = frozenset({"precise_locations"})

Kind = Literal["user", "device", "service"]


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: Kind = "user"
    roles: dict[str, str] = field(default_factory=dict)
    permissions: dict[str, list[str]] = field(default_factory=dict)
    # Device tokens: the one project and the cameras they may post for.
    project_id: str | None = None
    device_ids: tuple[str, ...] = ()
    token_id: str | None = None
    # The project roles are a copy of the catalogue's memberships when the token was issued
    # (token exchange); the catalogue reads the live memberships instead, so that a removal or
    # demotion takes effect there at once.
    roles_from_memberships: bool = False
    # When the token expires (seconds since the epoch): a token issued in exchange for this
    # one (joining a project) never outlives it.
    expires_at: int | None = None

    @property
    def is_device(self) -> bool:
        return self.kind == "device"

    @property
    def is_platform_admin(self) -> bool:
        return self.kind == "service" or self.roles.get(ALL_PROJECTS) == "admin"

    def role_in(self, project_id: str) -> str | None:
        if self.is_device:
            return None
        if self.is_platform_admin:
            return "admin"
        return self.roles.get(project_id) or self.roles.get(ALL_PROJECTS)

    def has_role(self, project_id: str, at_least: str) -> bool:
        role = self.role_in(project_id)
        return role is not None and ROLES[role] >= ROLES[at_least]

    def require(self, project_id: str, at_least: str = "viewer", *, what: str = "project") -> None:
        """Refuse unless the caller holds ``at_least`` in the project.

        Callers with no role at all get 404, so that other projects' objects stay invisible.
        """
        role = self.role_in(project_id)
        if role is None:
            raise NotFound(f"{what} not found")
        if ROLES[role] < ROLES[at_least]:
            raise Forbidden(f"this needs the {at_least} role in the project; you have {role}")

    def require_user(self) -> None:
        if self.is_device:
            raise Forbidden("a device token can only post media")

    def has_permission(self, project_id: str, permission: str) -> bool:
        if self.is_platform_admin:
            return True
        return permission in self.permissions.get(project_id, [])

    def in_project(
        self, project_id: str, role: str | None, permissions: Iterable[str] = ()
    ) -> Principal:
        """This caller with its role and permissions in one project replaced (``None``: no
        role there, so a platform-wide role, if any, applies)."""
        roles = {p: r for p, r in self.roles.items() if p != project_id}
        perms = {p: list(v) for p, v in self.permissions.items() if p != project_id}
        if role is not None:
            roles[project_id] = role
        granted = sorted(set(permissions))
        if granted:
            perms[project_id] = granted
        return replace(self, roles=roles, permissions=perms)
