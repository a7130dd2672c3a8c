"""Products, plans, applications and subscriptions: the rules of self-serve access (no HTTP here).

Who may do what is declared in `identity.policy` (products.manage, apps.manage, subscriptions.decide);
visibility of products and plans uses the same `can_see` as the catalog. Applications are seen only by
their owners (the user, or the members of the owning team) and admins; a product's owners see the
subscription requests made to it, never the applications' credentials.

Subscription states (production access; sandbox access needs no approval and holds in pending too):

    request --(auto plan)--> approved          request --(manual plan)--> pending
    pending --approve--> approved              pending --reject(reason)--> rejected
    approved --suspend(reason)--> suspended    suspended --resume--> approved
    pending|approved|suspended --revoke(reason)--> revoked     rejected|revoked --request--> again
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from devhub.apps.models import Application, Plan, Product, ProductApi, Subscription
from devhub.apps.schemas import ApplicationIn, ApplicationUpdate, PlanIn, PlanUpdate, ProductIn, ProductUpdate
from devhub.audit import service as audit
from devhub.audit.service import Actor
from devhub.catalog.kinds import RefError, parse_ref
from devhub.catalog.models import Entity, Relation
from devhub.db import utcnow
from devhub.identity.models import Membership, User
from devhub.identity.policy import Principal, can, can_see, owns_app, require
from devhub.notify.service import notify
from devhub.pagination import Page, PageRequest
from devhub.problems import NotFound, Problem
from devhub.settings import Settings

LIVE_STATES = ("pending", "approved", "suspended")  # a subscription that still holds the plan
SANDBOX_STATES = ("pending", "approved")  # sandbox credentials work while the request is open or granted


def keyless_environment(production_url: str | None) -> str:
    """The environment of a call without credential on a keyless plan: production when the product has a
    production upstream, else sandbox. The gateway routes by it and the try-it console lists the choice there."""
    return "production" if production_url else "sandbox"


class Invalid(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(422, "Invalid request", detail)


class Conflict(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(409, "Conflict", detail)


def new_uid(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def team_ref(value: str) -> str:
    try:
        return str(parse_ref(value.strip(), default_kind="group"))
    except RefError as exc:
        raise Invalid(f"{value!r} is not a team: {exc}") from None


# --- products and plans -------------------------------------------------------------------------------


def product_visible(viewer: Principal, product: Product) -> bool:
    return can_see(viewer, product.visibility, product.owner_ref, set(product.access_teams or []))


def plan_visible(viewer: Principal, plan: Plan) -> bool:
    return product_visible(viewer, plan.product) and can_see(
        viewer, plan.visibility, plan.product.owner_ref, set(plan.access_teams or [])
    )


def visible_plans(viewer: Principal, product: Product) -> list[Plan]:
    managing = can(viewer, "products.manage", product.owner_ref)
    return [plan for plan in product.plans if managing or (plan.status == "active" and plan_visible(viewer, plan))]


def list_products(
    session: Session, viewer: Principal, page: PageRequest, text: str | None = None, mine: bool = False
) -> Page[Product]:
    """Products the viewer may see (retired ones only to their owners), by name. Products number in the
    tens or hundreds, so visibility is checked here rather than in SQL."""
    query = select(Product).options(selectinload(Product.apis), selectinload(Product.plans)).order_by(Product.name)
    products = [
        product
        for product in session.scalars(query)
        if product_visible(viewer, product)
        and (product.status == "active" or can(viewer, "products.manage", product.owner_ref))
        and (not mine or product.owner_ref in viewer.teams)
        and (not text or text.lower() in f"{product.name} {product.slug} {product.description}".lower())
    ]
    return Page(products[page.offset : page.offset + page.size], len(products), page)


def get_product(session: Session, slug: str, viewer: Principal) -> Product:
    product = session.scalar(select(Product).where(Product.slug == slug.lower()))
    if product is None or not product_visible(viewer, product):
        raise NotFound(f"no product {slug!r}")
    return product


def get_plan(product: Product, slug: str, viewer: Principal) -> Plan:
    for plan in visible_plans(viewer, product):
        if plan.slug == slug.lower():
            return plan
    raise NotFound(f"no plan {slug!r} in product {product.slug!r}")


def _api_links(session: Session, apis: list, existing: list[ProductApi] | None = None) -> list[ProductApi]:
    """The product's API entries: each API version once, and an API once per path (two versions at one
    path would match the same calls, so a second version needs its own path). Unchanged entries are kept
    as they are (their ids stay)."""
    links: dict[tuple[str, str | None], ProductApi] = {}
    paths: dict[str | None, set[str]] = {}
    kept = {(row.api_ref, row.version, row.path): row for row in existing or ()}
    for item in apis:
        try:
            ref = str(parse_ref(item.api.strip(), default_kind="api"))
        except RefError as exc:
            raise Invalid(f"{item.api!r} is not an API: {exc}") from None
        if session.scalar(select(Entity.id).where(Entity.ref == ref, func.lower(Entity.kind) == "api")) is None:
            raise Invalid(f"there is no API {ref} in the catalog")
        version = (item.version or "").strip() or None
        path = _api_path(item.path)
        if (ref, version) in links:
            raise Invalid(f"{ref} {version or '(newest)'} is offered twice")
        if ref in paths.setdefault(path, set()):
            where = f"the path /{path}" if path else "the product's prefix"
            raise Invalid(f"{where} serves {ref} already; give each version of an API its own path")
        paths[path].add(ref)
        links[(ref, version)] = kept.get((ref, version, path)) or ProductApi(api_ref=ref, version=version, path=path)
    return list(links.values())


def _segments_ok(path: str) -> bool:
    return all(part and all(c.isalnum() or c in "-._~" for c in part) for part in path.split("/"))


def _api_path(value: str | None) -> str | None:
    """An API entry's path under the product prefix, without outer slashes ("v1", "v2/beta")."""
    path = (value or "").strip().strip("/").lower()
    if not path:
        return None
    if len(path) > 255 or not _segments_ok(path):
        raise Invalid(f"{value!r} is not a usable API path (letters, digits, - . _ ~ between slashes)")
    return path


def _gateway_path(value: str | None, slug: str) -> str:
    path = "/" + (value or slug).strip().strip("/")
    if not _segments_ok(path[1:]):
        raise Invalid(f"{value!r} is not a usable gateway path (letters, digits, - . _ ~ between slashes)")
    return path.lower()


def _check_hosts(session: Session, hosts: list[str], product_id: int | None) -> list[str]:
    """Each host name routes to one product only."""
    if hosts:
        for other_id, slug, taken in session.execute(select(Product.id, Product.slug, Product.hosts)).all():
            clash = sorted(set(hosts) & set(taken or ()))
            if other_id != product_id and clash:
                raise Conflict(f"the host {clash[0]} routes to the product {slug!r} already")
    return hosts


def _check_prefixes_free(session: Session, product: Product) -> None:
    """No two products claim one gateway prefix: a product's prefix, or its prefix plus an API's path."""
    mine = {product.gateway_path} | {api_prefix(product, entry) for entry in product.apis}
    for other in session.scalars(select(Product).where(Product.id != product.id) if product.id else select(Product)):
        theirs = {other.gateway_path} | {api_prefix(other, entry) for entry in other.apis}
        clash = sorted(mine & theirs)
        if clash:
            raise Conflict(f"the gateway path {clash[0]} is taken by the product {other.slug!r}")


def api_prefix(product: Product, entry: ProductApi) -> str:
    """Where the gateway serves an API entry's spec paths: the product's prefix, plus the entry's path."""
    return product.gateway_path + (f"/{entry.path}" if entry.path else "")


def create_product(session: Session, viewer: Principal, data: ProductIn, actor: Actor) -> Product:
    owner = team_ref(data.owner)
    require(viewer, "products.manage", owner)
    if session.scalar(select(Product.id).where(Product.slug == data.slug)) is not None:
        raise Conflict(f"a product {data.slug!r} exists already")
    path = _gateway_path(data.gateway_path, data.slug)
    product = Product(
        slug=data.slug,
        name=data.name.strip(),
        description=data.description,
        owner_ref=owner,
        visibility=data.visibility,
        access_teams=[team_ref(t) for t in data.access_teams] if data.visibility == "private" else [],
        gateway_path=path,
        hosts=_check_hosts(session, data.hosts, None),
        sandbox_url=data.sandbox_url,
        production_url=data.production_url,
        created_by=actor.name,
        apis=_api_links(session, data.apis),
    )
    _check_prefixes_free(session, product)
    session.add(product)
    session.flush()
    audit.record(session, actor, "product.create", product.slug, owner=owner, visibility=product.visibility)
    return product


def update_product(session: Session, viewer: Principal, product: Product, data: ProductUpdate, actor: Actor) -> None:
    require(viewer, "products.manage", product.owner_ref)
    changes = data.model_dump(exclude_unset=True)
    if "apis" in changes:
        with session.no_autoflush:
            product.apis = _api_links(session, data.apis or [], product.apis)
            _check_prefixes_free(session, product)
    if "hosts" in changes:
        product.hosts = _check_hosts(session, data.hosts or [], product.id)
    for field in ("name", "description", "visibility", "sandbox_url", "production_url", "status"):
        if field in changes and (changes[field] is not None or field.endswith("_url")):  # a URL may be cleared
            setattr(product, field, changes[field])
    if "access_teams" in changes or "visibility" in changes:
        teams = data.access_teams if data.access_teams is not None else product.access_teams
        product.access_teams = [team_ref(t) for t in teams] if product.visibility == "private" else []
    session.flush()
    audit.record(session, actor, "product.update", product.slug, fields=sorted(changes))


def create_plan(session: Session, viewer: Principal, product: Product, data: PlanIn, actor: Actor) -> Plan:
    require(viewer, "products.manage", product.owner_ref)
    if any(plan.slug == data.slug for plan in product.plans):
        raise Conflict(f"product {product.slug!r} has a plan {data.slug!r} already")
    values = data.model_dump()
    values["access_teams"] = [team_ref(t) for t in data.access_teams] if data.visibility == "private" else []
    plan = Plan(**values)
    product.plans.append(plan)
    session.flush()
    audit.record(session, actor, "plan.create", f"{product.slug}/{plan.slug}", approval=plan.approval)
    return plan


def update_plan(session: Session, viewer: Principal, plan: Plan, data: PlanUpdate, actor: Actor) -> None:
    """Change a plan; limits take effect for every subscription on it (the gateway reads them per call)."""
    require(viewer, "products.manage", plan.product.owner_ref)
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if field == "access_teams":
            continue
        if value is None and field not in LIMIT_FIELDS:
            continue
        setattr(plan, field, value)
    if "access_teams" in changes or "visibility" in changes:
        teams = data.access_teams if data.access_teams is not None else plan.access_teams
        plan.access_teams = [team_ref(t) for t in teams] if plan.visibility == "private" else []
    session.flush()
    audit.record(session, actor, "plan.update", f"{plan.product.slug}/{plan.slug}", fields=sorted(changes))


LIMIT_FIELDS = ("rate_per_second", "rate_per_minute", "rate_per_hour", "quota_per_day", "quota_per_month")


# --- applications ---------------------------------------------------------------------------------------


def list_apps(session: Session, viewer: Principal, page: PageRequest) -> Page[Application]:
    """The viewer's applications: their own and their teams' (an admin's list is every application)."""
    require(viewer, "apps.create")
    query = select(Application)
    if not viewer.is_admin:
        mine = Application.owner_user_id == viewer.user_id
        query = query.where(mine | Application.owner_team_ref.in_(sorted(viewer.teams)) if viewer.teams else mine)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Application.name, Application.id).offset(page.offset).limit(page.size))
    return Page(list(rows), total, page)


def get_app(session: Session, uid: str, viewer: Principal) -> Application:
    """An application its owner may manage; anyone else (signed in or not) is told it does not exist."""
    app = session.scalar(select(Application).where(Application.uid == uid))
    if app is None or not owns_app(viewer, app):
        raise NotFound(f"no application {uid!r}")
    require(viewer, "apps.manage", app)
    return app


def create_app(session: Session, viewer: Principal, data: ApplicationIn, actor: Actor) -> Application:
    require(viewer, "apps.create")
    owner_team = None
    if data.team:
        owner_team = team_ref(data.team)
        if owner_team not in viewer.teams and not viewer.is_admin:
            raise Problem(403, "Forbidden", f"you are not a member of {owner_team}")
    app = Application(
        uid=new_uid("app"),
        name=data.name.strip(),
        description=data.description,
        owner_user_id=None if owner_team else viewer.user_id,
        owner_team_ref=owner_team,
        callback_urls=data.callback_urls,
        created_by=actor.name,
    )
    session.add(app)
    session.flush()
    audit.record(session, actor, "app.create", app.uid, name=app.name, team=owner_team)
    return app


def update_app(session: Session, app: Application, data: ApplicationUpdate, actor: Actor) -> None:
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for field, value in changes.items():
        setattr(app, field, value.strip() if isinstance(value, str) and field == "name" else value)
    session.flush()
    audit.record(session, actor, "app.update", app.uid, fields=sorted(changes))


def delete_app(session: Session, app: Application, actor: Actor) -> None:
    """Delete an application with its subscriptions and credentials: its keys stop working at once."""
    audit.record(session, actor, "app.delete", app.uid, name=app.name)
    session.delete(app)
    session.flush()


def app_owner_label(session: Session, app: Application) -> str:
    if app.owner_team_ref:
        return app.owner_team_ref
    return session.scalar(select(User.email).where(User.id == app.owner_user_id)) or "unknown"


# --- subscriptions --------------------------------------------------------------------------------------


def subscribe(
    session: Session, settings: Settings, viewer: Principal, app: Application, plan: Plan, actor: Actor
) -> Subscription:
    """Request a plan for an application: granted at once on an automatic plan, else queued for the owners."""
    product = plan.product
    if plan.status != "active" or product.status != "active":
        raise Conflict(f"the plan {product.slug}/{plan.slug} is retired")
    held = session.scalar(
        select(Subscription).where(
            Subscription.application_id == app.id,
            Subscription.product_id == product.id,
            Subscription.state.in_(LIVE_STATES),
        )
    )
    if held is not None:
        raise Conflict(f"{app.name} already holds the {held.plan.name} plan of {product.name} ({held.state})")
    state = "approved" if plan.approval == "auto" else "pending"
    subscription = session.scalar(
        select(Subscription).where(Subscription.application_id == app.id, Subscription.plan_id == plan.id)
    )
    if subscription is None:
        subscription = Subscription(uid=new_uid("sub"), application_id=app.id, plan_id=plan.id, product_id=product.id)
        session.add(subscription)
    subscription.state, subscription.reason, subscription.requested_by = state, None, actor.name
    subscription.decided_by = "automatic" if state == "approved" else None
    subscription.decided_at = utcnow() if state == "approved" else None
    subscription.created_at = utcnow()
    session.flush()
    session.refresh(subscription)
    audit.record(
        session, actor, "subscription.request", subscription.uid, plan=f"{product.slug}/{plan.slug}", state=state
    )
    what = f"{app.name} → {product.name} ({plan.name})"
    if state == "approved":
        _tell_app(session, settings, app, f"Access granted: {what}", "The plan grants access at once.")
    else:
        _tell_app(session, settings, app, f"Access requested: {what}", "The API's owners will review it.")
        notify(
            session,
            settings,
            team_users(session, product.owner_ref),
            f"Access request: {what}",
            f"{actor.name} asks for the {plan.name} plan of {product.name}.",
            "/requests",
        )
    return subscription


TRANSITIONS = {
    "approve": (("pending", "rejected", "suspended"), "approved"),
    "reject": (("pending",), "rejected"),
    "suspend": (("approved",), "suspended"),
    "resume": (("suspended",), "approved"),
    "revoke": (LIVE_STATES, "revoked"),
}
NEEDS_REASON = ("reject", "suspend", "revoke")


def get_subscription(session: Session, uid: str, viewer: Principal) -> Subscription:
    """A subscription seen by its product's owners or its application's owners; no one else."""
    subscription = session.scalar(select(Subscription).where(Subscription.uid == uid))
    if subscription is None or not (
        can(viewer, "subscriptions.decide", subscription.plan.product.owner_ref)
        or owns_app(viewer, subscription.application)
    ):
        raise NotFound(f"no subscription {uid!r}")
    return subscription


def decide(
    session: Session,
    settings: Settings,
    viewer: Principal,
    subscription: Subscription,
    action: str,
    reason: str | None,
    actor: Actor,
) -> None:
    """Move a subscription along (see the module docstring); the application's owners may only revoke
    (cancel) their own, the product's owners may do everything."""
    product = subscription.plan.product
    cancelling = action == "revoke" and owns_app(viewer, subscription.application)
    if not cancelling:
        require(viewer, "subscriptions.decide", product.owner_ref)
    sources, target = TRANSITIONS[action]
    if subscription.state not in sources:
        raise Conflict(f"a {subscription.state} subscription cannot be {target} (allowed from {', '.join(sources)})")
    reason = (reason or "").strip() or (f"cancelled by {actor.name}" if cancelling else None)
    if action in NEEDS_REASON and not reason:
        raise Invalid(f"give a reason to {action} a subscription; the developer reads it")
    subscription.state, subscription.reason = target, reason
    subscription.decided_by, subscription.decided_at = actor.name, utcnow()
    session.flush()
    audit.record(session, actor, f"subscription.{action}", subscription.uid, reason=reason)
    app = subscription.application
    subject = f"Access {target}: {app.name} → {product.name} ({subscription.plan.name})"
    _tell_app(session, settings, app, subject, f"Reason: {reason}" if reason else "")


def subscription_queue(
    session: Session, viewer: Principal, page: PageRequest, state: str | None = "pending"
) -> Page[Subscription]:
    """Requests to the products the viewer's teams own (every product for an admin), oldest first."""
    if not viewer.signed_in:
        return Page([], 0, page)
    query = select(Subscription).join(Product, Product.id == Subscription.product_id)
    if not viewer.is_admin:
        query = query.where(Product.owner_ref.in_(sorted(viewer.teams)))
    if state:
        query = query.where(Subscription.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Subscription.created_at, Subscription.id).offset(page.offset).limit(page.size)
    )
    return Page(list(rows), total, page)


def has_approved_subscription(session: Session, app: Application) -> bool:
    query = select(Subscription.id).where(Subscription.application_id == app.id, Subscription.state == "approved")
    return session.scalar(query.limit(1)) is not None


# --- who is told ----------------------------------------------------------------------------------------


def team_users(session: Session, ref: str) -> list[User]:
    """A team's accounts: memberships granted in the portal, SCIM or SSO, and catalog memberOf."""
    granted = select(Membership.user_id).where(Membership.team_ref == ref)
    catalog_names = select(Relation.source_ref).where(Relation.target_ref == ref, Relation.type == "memberOf")
    names = [source.split("/", 1)[-1] for source in session.scalars(catalog_names) if source.startswith("user:")]
    query = select(User).where(User.id.in_(granted) | (User.catalog_name.in_(names) if names else False))
    return list(session.scalars(query.order_by(User.email)))


def app_users(session: Session, app: Application) -> list[User]:
    if app.owner_team_ref:
        return team_users(session, app.owner_team_ref)
    user = session.get(User, app.owner_user_id) if app.owner_user_id else None
    return [user] if user else []


def _tell_app(session: Session, settings: Settings, app: Application, subject: str, body: str) -> None:
    notify(session, settings, app_users(session, app), subject, body, f"/apps/{app.uid}")


@dataclass
class Access:
    """What an application may call in one environment: the gateway's question, answered from the rows."""

    subscription: Subscription
    plan: Plan
    product: Product


def access_for(session: Session, app: Application, environment: str) -> list[Access]:
    states = SANDBOX_STATES if environment == "sandbox" else ("approved",)
    query = select(Subscription).where(Subscription.application_id == app.id, Subscription.state.in_(states))
    return [Access(s, s.plan, s.plan.product) for s in session.scalars(query)]
