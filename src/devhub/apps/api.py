"""Self-serve access JSON API: products and plans, applications, subscriptions and the owners' queue,
API keys and OAuth2 client credentials, token signing keys. Every route calls `apps.service` or
`apps.credentials`; the token endpoint and the well-known documents are in `apps.oauth_api`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from devhub.apps import credentials, oauth, service
from devhub.apps.deps import CALLER, Caller
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
from devhub.deps import get_page
from devhub.identity.policy import Principal, require
from devhub.pagination import PageMeta, PageRequest

router = APIRouter(prefix="/api/v1", tags=["access"])


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
        last_used_at=credential.last_used_at,
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
    caller: Caller = CALLER,
) -> ProductList:
    require(caller.viewer, "products.read")
    result = service.list_products(caller.session, caller.viewer, page, q, mine)
    return ProductList(items=[product_out(p, caller.viewer) for p in result.items], meta=PageMeta.of(result))


@router.post("/products", status_code=201, summary="Offer APIs as a product (for a team you belong to)")
def create_product(body: ProductIn, caller: Caller = CALLER) -> ProductOut:
    return product_out(service.create_product(caller.session, caller.viewer, body, caller.actor), caller.viewer)


@router.get("/products/{slug}", summary="A product and its plans")
def get_product(slug: str, caller: Caller = CALLER) -> ProductOut:
    return product_out(caller.product(slug), caller.viewer)


@router.patch("/products/{slug}", summary="Change a product (its owners)")
def update_product(slug: str, body: ProductUpdate, caller: Caller = CALLER) -> ProductOut:
    product = caller.product(slug)
    service.update_product(caller.session, caller.viewer, product, body, caller.actor)
    return product_out(product, caller.viewer)


@router.post("/products/{slug}/plans", status_code=201, summary="Add a plan to a product (its owners)")
def create_plan(slug: str, body: PlanIn, caller: Caller = CALLER) -> PlanOut:
    product = caller.product(slug)
    return PlanOut.model_validate(service.create_plan(caller.session, caller.viewer, product, body, caller.actor))


@router.patch("/products/{slug}/plans/{plan}", summary="Change a plan's limits, approval or visibility")
def update_plan(slug: str, plan: str, body: PlanUpdate, caller: Caller = CALLER) -> PlanOut:
    found = service.get_plan(caller.product(slug), plan, caller.viewer)
    service.update_plan(caller.session, caller.viewer, found, body, caller.actor)
    return PlanOut.model_validate(found)


# --- applications ---------------------------------------------------------------------------------------


@router.get("/apps", summary="Your applications and your teams'")
def list_apps(page: PageRequest = Depends(get_page), caller: Caller = CALLER) -> ApplicationList:
    result = service.list_apps(caller.session, caller.viewer, page)
    return ApplicationList(items=[app_out(caller.session, a) for a in result.items], meta=PageMeta.of(result))


@router.post("/apps", status_code=201, summary="Register an application; its sandbox key and client come back, once")
def create_app(body: ApplicationIn, caller: Caller = CALLER) -> CreatedApplicationOut:
    registered = credentials.register_app(caller.session, caller.viewer, body, caller.actor)
    return CreatedApplicationOut(
        **app_out(caller.session, registered.app).model_dump(),
        sandbox_key=issued_key_out(registered.key),
        sandbox_client=issued_client_out(registered.client),
    )


@router.get("/apps/{app_id}", summary="An application with its subscriptions and credentials")
def get_app(app_id: str, caller: Caller = CALLER) -> ApplicationOut:
    return app_out(caller.session, caller.app(app_id))


@router.patch("/apps/{app_id}", summary="Rename an application or change its callback URLs")
def update_app(app_id: str, body: ApplicationUpdate, caller: Caller = CALLER) -> ApplicationOut:
    app = caller.app(app_id)
    service.update_app(caller.session, app, body, caller.actor)
    return app_out(caller.session, app)


@router.delete("/apps/{app_id}", status_code=204, summary="Delete an application: its credentials stop at once")
def delete_app(app_id: str, caller: Caller = CALLER) -> Response:
    service.delete_app(caller.session, caller.app(app_id), caller.actor)
    return Response(status_code=204)


@router.post("/apps/{app_id}/subscriptions", status_code=201, summary="Request a plan for an application")
def subscribe(app_id: str, body: SubscriptionIn, caller: Caller = CALLER) -> SubscriptionOut:
    app = caller.app(app_id)
    plan = service.get_plan(caller.product(body.product), body.plan, caller.viewer)
    return subscription_out(service.subscribe(caller.session, caller.settings, caller.viewer, app, plan, caller.actor))


def _app_key(caller: Caller, app_id: str, key_id: str) -> tuple[Application, ApiKey]:
    """One of the application's keys: the application is looked up (and refused) first, as for every route."""
    app = caller.app(app_id)
    return app, credentials.get_key(caller.session, app, key_id)


def _app_client(caller: Caller, app_id: str, client_id: str) -> tuple[Application, ClientCredential]:
    """One of the application's OAuth2 clients, looked up like `_app_key`."""
    app = caller.app(app_id)
    return app, credentials.get_client(caller.session, app, client_id)


@router.post("/apps/{app_id}/keys", status_code=201, summary="Create an API key (shown once)")
def create_key(app_id: str, body: KeyIn, caller: Caller = CALLER) -> IssuedKeyOut:
    app = caller.app(app_id)
    return issued_key_out(
        credentials.create_key(caller.session, app, body.environment, body.name, caller.actor, body.expires_in_days)
    )


@router.post(
    "/apps/{app_id}/keys/{key_id}/rotate",
    status_code=201,
    summary="Replace a key; the old one works through the grace period",
)
def rotate_key(app_id: str, key_id: str, caller: Caller = CALLER) -> IssuedKeyOut:
    app, key = _app_key(caller, app_id, key_id)
    return issued_key_out(credentials.rotate_key(caller.session, caller.settings, app, key, caller.actor))


@router.delete("/apps/{app_id}/keys/{key_id}", status_code=204, summary="Revoke a key at once")
def revoke_key(app_id: str, key_id: str, caller: Caller = CALLER) -> Response:
    app, key = _app_key(caller, app_id, key_id)
    credentials.revoke_key(caller.session, caller.settings, app, key, caller.actor)
    return Response(status_code=204)


@router.post("/apps/{app_id}/clients", status_code=201, summary="Create OAuth2 client credentials (secret shown once)")
def create_client(app_id: str, body: ClientIn, caller: Caller = CALLER) -> IssuedClientOut:
    app = caller.app(app_id)
    return issued_client_out(credentials.create_client(caller.session, app, body.environment, caller.actor))


@router.post(
    "/apps/{app_id}/clients/{client_id}/rotate",
    status_code=201,
    summary="New client secret; the old one works through the grace period",
)
def rotate_client(app_id: str, client_id: str, caller: Caller = CALLER) -> IssuedClientOut:
    app, client = _app_client(caller, app_id, client_id)
    return issued_client_out(
        credentials.rotate_client_secret(caller.session, caller.settings, app, client, caller.actor)
    )


@router.delete("/apps/{app_id}/clients/{client_id}", status_code=204, summary="Revoke client credentials at once")
def revoke_client(app_id: str, client_id: str, caller: Caller = CALLER) -> Response:
    app, client = _app_client(caller, app_id, client_id)
    credentials.revoke_client(caller.session, caller.settings, app, client, caller.actor)
    return Response(status_code=204)


# --- subscriptions: the owners' queue -------------------------------------------------------------------


@router.get("/subscriptions", summary="Requests to your teams' products (pending by default)")
def subscription_queue(
    state: str | None = Query(
        "pending", pattern="^(pending|approved|rejected|suspended|revoked|all)$", description="all for every state."
    ),
    page: PageRequest = Depends(get_page),
    caller: Caller = CALLER,
) -> SubscriptionList:
    require(caller.viewer, "apps.create")
    result = service.subscription_queue(caller.session, caller.viewer, page, None if state == "all" else state)
    return SubscriptionList(items=[subscription_out(s) for s in result.items], meta=PageMeta.of(result))


@router.get("/subscriptions/{subscription_id}", summary="A subscription (its product's or application's owners)")
def get_subscription(subscription_id: str, caller: Caller = CALLER) -> SubscriptionOut:
    return subscription_out(service.get_subscription(caller.session, subscription_id, caller.viewer))


@router.post(
    "/subscriptions/{subscription_id}/decision",
    summary="Approve, reject, suspend, resume or revoke (reason required to refuse); developers may revoke theirs",
)
def decide(subscription_id: str, body: DecisionIn, caller: Caller = CALLER) -> SubscriptionOut:
    subscription = service.get_subscription(caller.session, subscription_id, caller.viewer)
    service.decide(caller.session, caller.settings, caller.viewer, subscription, body.action, body.reason, caller.actor)
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
def list_signing_keys(caller: Caller = CALLER) -> list[SigningKeyOut]:
    require(caller.viewer, "signing_keys.manage")
    return _signing_keys(caller.session)


@router.post("/admin/signing-keys", status_code=201, summary="Rotate: a new key signs from now on")
def rotate_signing_key(caller: Caller = CALLER) -> list[SigningKeyOut]:
    require(caller.viewer, "signing_keys.manage")
    oauth.create_signing_key(caller.session, caller.settings, caller.actor)
    return _signing_keys(caller.session)


@router.delete("/admin/signing-keys/{kid}", status_code=204, summary="Retire a key: tokens it signed stop verifying")
def retire_signing_key(kid: str, caller: Caller = CALLER) -> Response:
    require(caller.viewer, "signing_keys.manage")
    oauth.retire_signing_key(caller.session, kid, caller.actor)
    return Response(status_code=204)
