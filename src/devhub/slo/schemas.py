"""SLO JSON shapes: the owners' settings in, an API's status and alert history out.

Percentages are percent (99.9), budget left is percent of the window's budget (negative once missed), burn
rates are multiples of the rate that would spend the budget exactly over the window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from devhub.pagination import PageMeta
from devhub.slo.models import SloAlert
from devhub.slo.service import ApiStatus, ObjectiveStatus, previous_secret_signs_until


class SloSettingsIn(BaseModel):
    """Fields left out stay as they are; a field given as null is cleared (its annotation applies again)."""

    availability_target: float | None = Field(None, description="Percent of calls not answered 5xx, e.g. 99.9.")
    latency_target: float | None = Field(None, description="Percent of calls within latency_ms, e.g. 99.")
    latency_ms: float | None = Field(None, description="The latency threshold in milliseconds, e.g. 300.")
    window_days: int | None = Field(None, description="The rolling window in days (1-90; default 28).")
    environment: Literal["production", "sandbox", "all"] | None = Field(None, description="Which calls count.")
    webhook_url: str | None = Field(
        None,
        max_length=2048,
        description="Where alerts are POSTed as JSON, signed (Standard Webhooks). Setting the first URL makes "
        "the signing secret, returned once as `webhook_secret`; null removes the webhook and its secret.",
    )


class ObjectiveOut(BaseModel):
    kind: str
    description: str
    target: float
    latency_ms: float | None
    source: str = Field(description="portal or annotation: where this objective is set.")
    calls: int = Field(description="Calls in the window.")
    bad_calls: int = Field(description="Calls in the window that missed the objective.")
    compliance: float | None = Field(description="Percent of good calls in the window; null without calls.")
    budget_left: float = Field(description="Percent of the error budget not spent (negative once missed).")
    burn_rate_1h: float
    burn_rate_6h: float
    alerting: bool = Field(description="An alert episode is open.")
    alert_started_at: datetime | None

    @classmethod
    def of(cls, item: ObjectiveStatus) -> ObjectiveOut:
        objective = item.objective
        return cls(
            kind=objective.kind,
            description=objective.describe(),
            target=objective.target,
            latency_ms=objective.latency_ms,
            source=objective.source,
            calls=item.window.calls,
            bad_calls=item.window.bad,
            compliance=round(item.compliance, 4) if item.compliance is not None else None,
            budget_left=round(item.budget_left, 2),
            burn_rate_1h=round(item.burn_rate_1h, 3),
            burn_rate_6h=round(item.burn_rate_6h, 3),
            alerting=item.open_alert is not None,
            alert_started_at=item.open_alert.started_at if item.open_alert else None,
        )


class PortalSettingsOut(BaseModel):
    """What the owners set in the portal (null: not set there)."""

    availability_target: float | None = None
    latency_target: float | None = None
    latency_ms: float | None = None
    window_days: int | None = None
    environment: str | None = None
    webhook_url: str | None = Field(None, description="Shown to the API's owners only (it may hold a token).")
    webhook_secret_created_at: datetime | None = Field(
        None, description="When the webhook's signing secret was made (owners only; the secret is never shown again)."
    )
    webhook_previous_secret_signs_until: datetime | None = Field(
        None,
        description="After a rotation: until when the replaced secret still signs deliveries beside the new one "
        "(owners only; null once it no longer does).",
    )
    updated_by: str | None = None
    updated_at: datetime | None = None


class SloStatusOut(BaseModel):
    api: str
    defined: bool
    objectives: list[ObjectiveOut]
    window_days: int
    window_source: str
    environment: str
    environment_source: str
    burn_rate_threshold: float
    webhook_set: bool
    webhook_signed: bool = Field(description="The webhook has a signing secret (webhooks saved before signing do not).")
    webhook_secret: str | None = Field(
        None,
        description="The webhook's new signing secret (whsec_...), in the answer that made it only: store it now.",
    )
    free_text: str | None = Field(description="The free-text devhub.io/slo annotation, when present.")
    annotation_problems: list[str]
    portal: PortalSettingsOut
    evaluated_at: datetime

    @classmethod
    def of(cls, current: ApiStatus, row, show_webhook: bool, webhook_secret: str | None = None) -> SloStatusOut:
        spec = current.spec
        portal = PortalSettingsOut()
        if row is not None:
            portal = PortalSettingsOut(
                availability_target=row.availability_target,
                latency_target=row.latency_target,
                latency_ms=row.latency_ms,
                window_days=row.window_days,
                environment=row.environment,
                webhook_url=row.webhook_url if show_webhook else None,
                webhook_secret_created_at=row.webhook_secret_created_at if show_webhook else None,
                webhook_previous_secret_signs_until=previous_secret_signs_until(row) if show_webhook else None,
                updated_by=row.updated_by,
                updated_at=row.updated_at,
            )
        return cls(
            api=current.api_ref,
            defined=spec.defined,
            objectives=[ObjectiveOut.of(item) for item in current.objectives],
            window_days=spec.window_days,
            window_source=spec.window_source,
            environment=spec.environment,
            environment_source=spec.environment_source,
            burn_rate_threshold=current.threshold,
            webhook_set=bool(spec.webhook_url),
            webhook_signed=bool(spec.webhook_url and row is not None and row.webhook_secret_encrypted),
            webhook_secret=webhook_secret,
            free_text=spec.free_text,
            annotation_problems=list(spec.problems),
            portal=portal,
            evaluated_at=current.evaluated_at,
        )


class WebhookSecretOut(BaseModel):
    api: str
    webhook_secret: str = Field(description="The new signing secret (whsec_...): shown this once, store it now.")
    created_at: datetime
    previous_secret_signs_until: datetime | None = Field(
        description="Until when the secret this one replaced still signs deliveries beside it "
        "(DEVHUB_WEBHOOK_ROTATION_GRACE_HOURS); null when it stopped at once (no grace, or no secret before)."
    )


class AlertOut(BaseModel):
    id: int
    objective: str
    target: float
    latency_ms: float | None
    started_at: datetime
    resolved_at: datetime | None
    burn_rate_1h: float = Field(description="At the start of the episode.")
    burn_rate_6h: float
    peak_burn_rate_1h: float
    budget_left: float | None
    notified: int = Field(description="People told in the portal and by mail.")
    webhook_result: str | None = Field(description="The last webhook delivery's outcome (owners only).")

    @classmethod
    def of(cls, row: SloAlert, show_webhook: bool = False) -> AlertOut:
        return cls(
            id=row.id,
            objective=row.objective,
            target=row.target,
            latency_ms=row.latency_ms,
            started_at=row.started_at,
            resolved_at=row.resolved_at,
            burn_rate_1h=round(row.burn_rate_1h, 3),
            burn_rate_6h=round(row.burn_rate_6h, 3),
            peak_burn_rate_1h=round(row.peak_burn_rate_1h, 3),
            budget_left=round(row.budget_left, 2) if row.budget_left is not None else None,
            notified=row.notified,
            webhook_result=row.webhook_result if show_webhook else None,
        )


class AlertList(BaseModel):
    items: list[AlertOut]
    meta: PageMeta


class SloSummary(BaseModel):
    api: str
    title: str
    owner: str | None
    objectives: list[ObjectiveOut]
    window_days: int


class SloSummaryList(BaseModel):
    items: list[SloSummary]
    meta: PageMeta
