"""Self-serve access JSON API: products and plans, applications, subscriptions and the owners' queue,
API keys and OAuth2 client credentials, token signing keys. Every route calls `apps.service` or
`apps.credentials`; the token endpoint and the well-known documents are in `apps.oauth_api`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from devhub.apps import credentials, oauth, service
from devhub.apps.models import ApiKey, Application, ClientCredential, Product, Subscription
from devhub.apps.schemas import (
    ApplicationIn,
    ApplicationList,
    ApplicationOut,
    ApplicationUpdate,
    ClientIn,
    ClientOut,
    CreatedApplicationOut,
    DecisionIn,
    IssuedClientOut,
    IssuedKeyOut,
    KeyIn,
    KeyOut,
    PlanIn,
    PlanOut,
    PlanUpdate,
    ProductIn,
    ProductList,
    ProductOut,
    ProductUpdate,
    SigningKeyOut,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
)
from devhub.audit.service import Actor
from devhub.deps import get_page, get_session, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, require
from devhub.pagination import PageMeta, PageRequest
from devhub.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["access"])
SESSION = Depends(get_session, scope="function")


# --- what the routes return -----------------------------------------------------------------------------


def product_out(product: Product, viewer: Principal) -> ProductOut:
    out = ProductOut.model_validate(product, from_attributes=True)
    for entry, api in zip(product.apis, out.apis, strict=True):
        api.gateway_prefix = service.api_prefix(product, entry)
    out.plans = [PlanOut.model_validate(plan) for plan in service.visible_plans(viewer, product)]
    return out


def subscription_out(subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=subscription.uid,
        application=subscription.application.uid,
        application_name=subscription.application.name,
        product=subscription.plan.product.slug,
        plan=subscription.plan.slug,
        state=subscription.state,
        reason=subscription.reason,
        requested_by=subscription.requested_by,
        decided_by=subscription.decided_by,
        created_at=subscription.created_at,
        decided_at=subscription.decided_at,
    )


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=key.key_id,
        prefix=key.prefix,
        name=key.name,
        environment=key.environment,
        status=credentials.key_status(key),
        created_at=key.created_at,
        expires_at=key.expires_at,
        grace_until=key.grace_until,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


def issued_key_out(issued: credentials.IssuedKey) -> IssuedKeyOut:
    return IssuedKeyOut(**key_out(issued.key).model_dump(), key=issued.secret)


def client_out(credential: ClientCredential) -> ClientOut:
    return ClientOut(
        client_id=credential.client_id,
        environment=credential.environment,
        status=credentials.client_status(credential),
        created_at=credential.created_at,
        rotated_at=credential.rotated_at,
        previous_secret_valid_until=credential.previous_valid_until,
    )


def issued_client_out(issued: credentials.IssuedClient) -> IssuedClientOut:
    return IssuedClientOut(**client_out(issued.credential).model_dump(), client_secret=issued.secret)


def app_out(session: Session, app: Application) -> ApplicationOut:
    return ApplicationOut(
        id=app.uid,
        name=app.name,
        description=app.description,
        owner=service.app_owner_label(session, app),
        callback_urls=list(app.callback_urls or []),
        created_at=app.created_at,
        subscriptions=[subscription_out(s) for s in app.subscriptions],
        keys=[key_out(k) for k in credentials.app_keys(session, app)],
        clients=[client_out(c) for c in credentials.app_clients(session, app)],
    )


# --- products and plans ---------------------------------------------------------------------------------


@router.get("/products", summary="Products you may see, with the plans you may choose")
def list_products(
    q: str | None = Query(None, max_length=200, description="Text in the name, slug or description."),
    mine: bool = Query(False, description="Only the products of your teams."),
    page: PageRequest = Depends(get_page),
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
) -> ProductList:
    require(viewer, "products.read")
    result = service.list_products(session, viewer, page, q, mine)
    return ProductList(items=[product_out(p, viewer) for p in result.items], meta=PageMeta.of(result))


@router.post("/products", status_code=201, summary="Offer APIs as a product (for a team you belong to)")
def create_product(
    body: ProductIn,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> ProductOut:
    return product_out(service.create_product(session, viewer, body, actor), viewer)


@router.get("/products/{slug}", summary="A product and its plans")
def get_product(slug: str, session: Session = SESSION, viewer: Principal = Depends(get_principal)) -> ProductOut:
    return product_out(service.get_product(session, slug, viewer), viewer)


@router.patch("/products/{slug}", summary="Change a product (its owners)")
def update_product(
    slug: str,
    body: ProductUpdate,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> ProductOut:
    product = service.get_product(session, slug, viewer)
    service.update_product(session, viewer, product, body, actor)
    return product_out(product, viewer)


@router.post("/products/{slug}/plans", status_code=201, summary="Add a plan to a product (its owners)")
def create_plan(
    slug: str,
    body: PlanIn,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> PlanOut:
    product = service.get_product(session, slug, viewer)
    return PlanOut.model_validate(service.create_plan(session, viewer, product, body, actor))


@router.patch("/products/{slug}/plans/{plan}", summary="Change a plan's limits, approval or visibility")
def update_plan(
    slug: str,
    plan: str,
    body: PlanUpdate,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> PlanOut:
    found = service.get_plan(service.get_product(session, slug, viewer), plan, viewer)
    service.update_plan(session, viewer, found, body, actor)
    return PlanOut.model_validate(found)


# --- applications ---------------------------------------------------------------------------------------


@router.get("/apps", summary="Your applications and your teams'")
def list_apps(
    page: PageRequest = Depends(get_page), session: Session = SESSION, viewer: Principal = Depends(get_principal)
) -> ApplicationList:
    result = service.list_apps(session, viewer, page)
    return ApplicationList(items=[app_out(session, a) for a in result.items], meta=PageMeta.of(result))


@router.post("/apps", status_code=201, summary="Register an application; its sandbox key and client come back, once")
def create_app(
    body: ApplicationIn,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> CreatedApplicationOut:
    registered = credentials.register_app(session, viewer, body, actor)
    return CreatedApplicationOut(
        **app_out(session, registered.app).model_dump(),
        sandbox_key=issued_key_out(registered.key),
        sandbox_client=issued_client_out(registered.client),
    )


@router.get("/apps/{app_id}", summary="An application with its subscriptions and credentials")
def get_app(app_id: str, session: Session = SESSION, viewer: Principal = Depends(get_principal)) -> ApplicationOut:
    return app_out(session, service.get_app(session, app_id, viewer))


@router.patch("/apps/{app_id}", summary="Rename an application or change its callback URLs")
def update_app(
    app_id: str,
    body: ApplicationUpdate,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> ApplicationOut:
    app = service.get_app(session, app_id, viewer)
    service.update_app(session, app, body, actor)
    return app_out(session, app)


@router.delete("/apps/{app_id}", status_code=204, summary="Delete an application: its credentials stop at once")
def delete_app(
    app_id: str,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> Response:
    service.delete_app(session, service.get_app(session, app_id, viewer), actor)
    return Response(status_code=204)


@router.post("/apps/{app_id}/subscriptions", status_code=201, summary="Request a plan for an application")
def subscribe(
    app_id: str,
    body: SubscriptionIn,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> SubscriptionOut:
    app = service.get_app(session, app_id, viewer)
    plan = service.get_plan(service.get_product(session, body.product, viewer), body.plan, viewer)
    return subscription_out(service.subscribe(session, settings, viewer, app, plan, actor))


@router.post("/apps/{app_id}/keys", status_code=201, summary="Create an API key (shown once)")
def create_key(
    app_id: str,
    body: KeyIn,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> IssuedKeyOut:
    app = service.get_app(session, app_id, viewer)
    issued = credentials.create_key(session, app, body.environment, body.name, actor, body.expires_in_days)
    return issued_key_out(issued)


@router.post(
    "/apps/{app_id}/keys/{key_id}/rotate",
    status_code=201,
    summary="Replace a key; the old one works through the grace period",
)
def rotate_key(
    app_id: str,
    key_id: str,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> IssuedKeyOut:
    app = service.get_app(session, app_id, viewer)
    key = credentials.get_key(session, app, key_id)
    return issued_key_out(credentials.rotate_key(session, settings, app, key, actor))


@router.delete("/apps/{app_id}/keys/{key_id}", status_code=204, summary="Revoke a key at once")
def revoke_key(
    app_id: str,
    key_id: str,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> Response:
    app = service.get_app(session, app_id, viewer)
    credentials.revoke_key(session, settings, app, credentials.get_key(session, app, key_id), actor)
    return Response(status_code=204)


@router.post("/apps/{app_id}/clients", status_code=201, summary="Create OAuth2 client credentials (secret shown once)")
def create_client(
    app_id: str,
    body: ClientIn,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> IssuedClientOut:
    app = service.get_app(session, app_id, viewer)
    return issued_client_out(credentials.create_client(session, app, body.environment, actor))


@router.post(
    "/apps/{app_id}/clients/{client_id}/rotate",
    status_code=201,
    summary="New client secret; the old one works through the grace period",
)
def rotate_client(
    app_id: str,
    client_id: str,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> IssuedClientOut:
    app = service.get_app(session, app_id, viewer)
    credential = credentials.get_client(session, app, client_id)
    return issued_client_out(credentials.rotate_client_secret(session, settings, app, credential, actor))


@router.delete("/apps/{app_id}/clients/{client_id}", status_code=204, summary="Revoke client credentials at once")
def revoke_client(
    app_id: str,
    client_id: str,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> Response:
    app = service.get_app(session, app_id, viewer)
    credentials.revoke_client(session, settings, app, credentials.get_client(session, app, client_id), actor)
    return Response(status_code=204)


# --- subscriptions: the owners' queue -------------------------------------------------------------------


@router.get("/subscriptions", summary="Requests to your teams' products (pending by default)")
def subscription_queue(
    state: str | None = Query(
        "pending", pattern="^(pending|approved|rejected|suspended|revoked|all)$", description="all for every state."
    ),
    page: PageRequest = Depends(get_page),
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
) -> SubscriptionList:
    require(viewer, "apps.create")
    result = service.subscription_queue(session, viewer, page, None if state == "all" else state)
    return SubscriptionList(items=[subscription_out(s) for s in result.items], meta=PageMeta.of(result))


@router.get("/subscriptions/{subscription_id}", summary="A subscription (its product's or application's owners)")
def get_subscription(
    subscription_id: str, session: Session = SESSION, viewer: Principal = Depends(get_principal)
) -> SubscriptionOut:
    return subscription_out(service.get_subscription(session, subscription_id, viewer))


@router.post(
    "/subscriptions/{subscription_id}/decision",
    summary="Approve, reject, suspend, resume or revoke (reason required to refuse); developers may revoke theirs",
)
def decide(
    subscription_id: str,
    body: DecisionIn,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> SubscriptionOut:
    subscription = service.get_subscription(session, subscription_id, viewer)
    service.decide(session, settings, viewer, subscription, body.action, body.reason, actor)
    return subscription_out(subscription)


# --- token signing keys (administrators) ----------------------------------------------------------------


def _signing_keys(session: Session) -> list[SigningKeyOut]:
    current = oauth.current_key(session)
    return [
        SigningKeyOut(
            kid=k.kid, algorithm=k.algorithm, created_at=k.created_at, retired_at=k.retired_at, current=k is current
        )
        for k in oauth.signing_keys(session)
    ]


@router.get("/admin/signing-keys", summary="OAuth2 token signing keys, newest first")
def list_signing_keys(session: Session = SESSION, viewer: Principal = Depends(get_principal)) -> list[SigningKeyOut]:
    require(viewer, "signing_keys.manage")
    return _signing_keys(session)


@router.post("/admin/signing-keys", status_code=201, summary="Rotate: a new key signs from now on")
def rotate_signing_key(
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> list[SigningKeyOut]:
    require(viewer, "signing_keys.manage")
    oauth.create_signing_key(session, settings, actor)
    return _signing_keys(session)


@router.delete("/admin/signing-keys/{kid}", status_code=204, summary="Retire a key: tokens it signed stop verifying")
def retire_signing_key(
    kid: str, session: Session = SESSION, viewer: Principal = Depends(get_principal), actor: Actor = Depends(get_actor)
) -> Response:
    require(viewer, "signing_keys.manage")
    oauth.retire_signing_key(session, kid, actor)
    return Response(status_code=204)
