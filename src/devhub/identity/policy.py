"""Who may do what: the portal's access rules, declared in one table.

Every service function that reads or changes something calls `require(principal, action, resource)` or
filters with `visible_entities(principal)`; routes never decide on their own. A rule is a plain function
of the principal and the resource, so the whole policy reads top to bottom in this file (policy as code,
without a DSL to learn). Tokens narrow it further: a read-only token cannot write, whatever its owner may.

Roles, from least to most: anonymous, external developer (an approved account in no team), team member,
team owner, portal admin. Visibility of an entity: public (anyone), internal (organisation members: anyone
in a team, and admins), private (the owner team and the teams named in `devhub.io/visible-to`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, or_, true
from sqlalchemy.sql.elements import ColumnElement

from devhub.catalog.models import Entity, EntityAccess
from devhub.problems import Problem

ANONYMOUS_ROLE = "anonymous"
EXTERNAL = "external_developer"
MEMBER = "team_member"
OWNER = "team_owner"
ADMIN = "portal_admin"
ROLES = (ANONYMOUS_ROLE, EXTERNAL, MEMBER, OWNER, ADMIN)
VISIBILITIES = ("public", "internal", "private")


@dataclass(frozen=True)
class Principal:
    user_id: int | None = None
    email: str | None = None
    status: str | None = None
    is_admin: bool = False
    teams: frozenset[str] = frozenset()  # team refs the user belongs to (any role)
    owned_teams: frozenset[str] = frozenset()  # team refs where the user is an owner
    scopes: frozenset[str] | None = None  # a token's scopes; None for a browser session (no narrowing)
    token_id: int | None = field(default=None, compare=False)

    @property
    def signed_in(self) -> bool:
        """Signed in with an approved account (pending accounts browse as anonymous)."""
        return self.user_id is not None and self.status == "approved"

    @property
    def is_member(self) -> bool:
        """A member of the organisation: sees internal entities."""
        return self.signed_in and (self.is_admin or bool(self.teams))

    @property
    def role(self) -> str:
        if not self.signed_in:
            return ANONYMOUS_ROLE
        if self.is_admin:
            return ADMIN
        if self.owned_teams:
            return OWNER
        return MEMBER if self.teams else EXTERNAL

    @property
    def visibility_key(self) -> tuple:
        """What visibility depends on; caches of visible data are keyed by it."""
        return (self.is_admin and self.signed_in, self.is_member, tuple(sorted(self.teams)))


ANONYMOUS = Principal()
# The CLI on the portal's own host: the operator sees and may do everything.
OPERATOR = Principal(user_id=0, email="operator", status="approved", is_admin=True)


# --- Visibility -----------------------------------------------------------------------------------------


def can_see(principal: Principal, visibility: str, owner_ref: str | None, access_teams: set[str] | None = None) -> bool:
    if principal.is_admin and principal.signed_in:
        return True
    if visibility == "public":
        return True
    if visibility == "internal":
        return principal.is_member
    teams = principal.teams if principal.signed_in else frozenset()
    return bool(owner_ref and owner_ref in teams) or bool(access_teams and access_teams & teams)


def visible_entities(principal: Principal) -> ColumnElement[bool]:
    """The SQL condition on `Entity` for what this principal may see: used by every list, count and search.

    A per-row test, so the planner keeps walking the page's sort index and stops after one page: the level
    is a column comparison, and a private row is kept when one of the viewer's teams owns it or is named on
    it (a primary-key probe into `catalog_entity_access`). An `id IN (union of team ids)` form made both
    back-ends materialise the union and sort every visible row first (bench/permissions.py).
    """
    if principal.is_admin and principal.signed_in:
        return true()
    levels = ["public", "internal"] if principal.is_member else ["public"]
    condition: ColumnElement[bool] = Entity.visibility.in_(levels)
    teams = sorted(principal.teams) if principal.signed_in else []
    if teams:
        named = exists().where(EntityAccess.entity_id == Entity.id, EntityAccess.team_ref.in_(teams))
        private = and_(Entity.visibility == "private", or_(Entity.owner_ref.in_(teams), named))
        condition = or_(condition, private)
    return condition


def entity_visible(principal: Principal, entity: Entity, access_teams: set[str] | None = None) -> bool:
    return can_see(principal, entity.visibility, entity.owner_ref, access_teams)


# --- Actions --------------------------------------------------------------------------------------------


def _admin(p: Principal, _: Any) -> bool:
    return p.signed_in and p.is_admin


def _signed_in(p: Principal, _: Any) -> bool:
    return p.signed_in


def _anyone(p: Principal, _: Any) -> bool:
    return True


def _has_account(p: Principal, _: Any) -> bool:
    return p.user_id is not None


def _owner_team_member(p: Principal, owner_ref: str | None) -> bool:
    """Admins, and members of the team that owns the thing (an API's owner publishes its versions)."""
    return p.signed_in and (p.is_admin or (owner_ref is not None and owner_ref in p.teams))


def _owner_team_owner(p: Principal, owner_ref: str | None) -> bool:
    return p.signed_in and (p.is_admin or (owner_ref is not None and owner_ref in p.owned_teams))


def _team_owner(p: Principal, team_ref: str | None) -> bool:
    return p.signed_in and (p.is_admin or (team_ref is not None and team_ref in p.owned_teams))


def owns_app(p: Principal, app: Any) -> bool:
    """Admins, the user who owns the application, or members of the team that owns it."""
    if not p.signed_in:
        return False
    owner_team = getattr(app, "owner_team_ref", None)
    return (
        p.is_admin
        or getattr(app, "owner_user_id", None) == p.user_id
        or (owner_team is not None and owner_team in p.teams)
    )


@dataclass(frozen=True)
class Rule:
    check: Callable[[Principal, Any], bool]
    scope: str  # the token scope the action needs: read, write, admin or scim
    describe: str


# The resource each rule receives is noted in its description.
RULES: dict[str, Rule] = {
    # Reading the catalog and docs: visibility filters do the work; these gate the surface itself.
    "catalog.read": Rule(_anyone, "read", "browse what one may see (filtered by visibility)"),
    "search.read": Rule(_anyone, "read", "search what one may see (filtered by visibility)"),
    # Catalog administration: locations name files and hosts of the server.
    "catalog.locations.read": Rule(_admin, "admin", "see registered locations and their errors"),
    "catalog.import": Rule(_admin, "admin", "register a location"),
    "catalog.refresh": Rule(_admin, "admin", "read a location again"),
    "catalog.locations.delete": Rule(_admin, "admin", "unregister a location"),
    "entity.visibility.set": Rule(_owner_team_owner, "write", "change an entity's visibility (resource: owner ref)"),
    # API definitions and guides belong to the owner team.
    "specs.publish": Rule(_owner_team_member, "write", "publish a version (resource: the API's owner ref)"),
    "specs.lifecycle": Rule(_owner_team_member, "write", "change a version's lifecycle (resource: owner ref)"),
    # Governance: findings follow the API's visibility; the owner team deprecates.
    "governance.read": Rule(_anyone, "read", "read lint findings, changes and scorecards (filtered by visibility)"),
    "governance.deprecate": Rule(
        _owner_team_member, "write", "deprecate a version or operation, set its sunset (resource: owner ref)"
    ),
    "guides.write": Rule(_owner_team_member, "write", "write or delete a guide (resource: owner ref)"),
    # Self-serve access: products belong to the owner team; applications to their user or team.
    "products.read": Rule(_anyone, "read", "browse products and plans (filtered by visibility)"),
    "products.manage": Rule(_owner_team_member, "write", "create and change products and plans (resource: owner ref)"),
    "subscriptions.decide": Rule(
        _owner_team_member, "write", "approve, reject, suspend or revoke subscriptions (resource: product owner ref)"
    ),
    "apps.create": Rule(_signed_in, "write", "register applications and see one's own"),
    "apps.manage": Rule(owns_app, "write", "change an application, its subscriptions and credentials (resource: app)"),
    "signing_keys.manage": Rule(_admin, "admin", "rotate and retire the OAuth2 token signing keys"),
    "console.call": Rule(owns_app, "write", "call an API from its docs with an app's credential (resource: app)"),
    "sandbox.reset": Rule(_signed_in, "write", "forget the sandbox data of one's applications' credentials"),
    # Service level objectives: readers of the API see them; its owner team sets them and the alert webhook.
    "slo.read": Rule(_anyone, "read", "see an API's objectives, compliance and alerts (filtered by visibility)"),
    "slo.manage": Rule(_owner_team_member, "write", "set an API's objectives and alert webhook (resource: owner ref)"),
    "usage.read": Rule(owns_app, "read", "see an application's usage, quotas and latest errors (resource: app)"),
    "usage.api.read": Rule(_owner_team_member, "read", "see an API's consumers and traffic (resource: owner ref)"),
    "usage.export": Rule(_signed_in, "read", "export monthly usage of one's and one's teams' apps (admins: all)"),
    "usage.funnel": Rule(_admin, "admin", "see every developer's time to first call"),
    "usage.rollup": Rule(_admin, "admin", "run a usage roll-up pass and see its progress"),
    "notifications.read": Rule(_signed_in, "read", "read and dismiss one's notifications"),
    # Accounts.
    "account.read": Rule(_has_account, "read", "see one's own account, even while pending"),
    "tokens.manage": Rule(_signed_in, "write", "create and revoke one's own access tokens"),
    "users.read": Rule(_admin, "admin", "list accounts"),
    "users.manage": Rule(_admin, "admin", "approve, reject, revoke, invite, make admin"),
    "teams.read": Rule(_signed_in, "read", "see team members"),
    "teams.manage": Rule(_team_owner, "write", "add, remove and change members (resource: team ref)"),
    "audit.read": Rule(_admin, "admin", "read and export the audit log"),
    "outbox.read": Rule(_admin, "admin", "read the mail outbox"),
    "scim": Rule(_admin, "scim", "provision users and groups through SCIM"),
}


def can(principal: Principal, action: str, resource: Any = None) -> bool:
    rule = RULES[action]  # an unknown action is a programming error, not a denial
    if principal.scopes is not None and not _scope_allows(principal.scopes, rule.scope):
        return False
    return rule.check(principal, resource)


def _scope_allows(scopes: frozenset[str], needed: str) -> bool:
    """admin covers everything; write covers read; scim is only scim."""
    return needed in scopes or "admin" in scopes or (needed == "read" and "write" in scopes)


class Unauthorized(Problem):
    def __init__(self, detail: str = "sign in to do this") -> None:
        super().__init__(401, "Sign-in required", detail)


class Forbidden(Problem):
    def __init__(self, detail: str = "you may not do this") -> None:
        super().__init__(403, "Forbidden", detail)


def require(principal: Principal, action: str, resource: Any = None) -> None:
    """Raise 401 for the anonymous and 403 for the signed-in when the rule says no."""
    if can(principal, action, resource):
        return
    if not principal.signed_in:
        raise Unauthorized()
    raise Forbidden(f"{RULES[action].describe}: not allowed for you")
