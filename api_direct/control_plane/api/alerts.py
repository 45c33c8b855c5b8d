"""A consumer's usage alerts per subscription: thresholds, a webhook, a spend cap.

``PUT`` replaces the settings whole (what the CLI and the dashboard send). A
webhook's signing secret (``whsec_...``) is returned once, in the response that
registers the URL (or ``rotate_secret``); it is kept in the table to sign with and
never shown again, so a consumer who lost it registers again. A hard cap that holds
is lifted here when the consumer raises it above the month's spend, removes it or
makes it soft: the settings and the keys' ``KeyUncapped`` are written in one
transaction, and the table's stream delivers the events (:mod:`.outbox`).

What fires the alerts, and the rules for each, are in
:mod:`~api_direct.control_plane.billing.alerting`.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, field_validator

from api_direct.control_plane.api.accounts import StrictModel, timestamp
from api_direct.control_plane.api.auth import Consumer
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listings import require_plan
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.api.store import Store
from api_direct.control_plane.api.subscriptions import active_subscription
from api_direct.control_plane.billing import webhooks
from api_direct.control_plane.billing.alerting import (
    DEFAULT_THRESHOLDS,
    HARD,
    MAX_THRESHOLDS,
    SOFT,
    AlertSettings,
    alerts_key,
    month_usage,
    still_capped,
    uncap_keys,
)
from api_direct.project import PricingPlan
from api_direct.webhook_signature import new_secret

#: The largest spend cap, in the marketplace's currency: a cap above it is a typo.
MAX_SPEND_CAP = Decimal(1_000_000)

Threshold = Annotated[int, Field(ge=1, le=100, description="percent of the limit")]


class AlertsIn(StrictModel):
    """The subscription's alert settings, whole: a field left out takes its default."""

    thresholds: Annotated[list[Threshold], Field(min_length=1, max_length=MAX_THRESHOLDS)] = list(DEFAULT_THRESHOLDS)
    #: ``https`` only; ``null`` removes the webhook.
    webhook_url: Annotated[str, Field(max_length=webhooks.MAX_URL_LENGTH)] | None = None
    #: Issue a new signing secret for the same webhook URL (a new URL always gets one).
    rotate_secret: bool = False
    #: Paid plans only, in the marketplace's currency; ``null`` for no cap.
    spend_cap: Annotated[Decimal, Field(gt=0, le=MAX_SPEND_CAP, decimal_places=2)] | None = None
    #: ``soft`` alerts only; ``hard`` also stops the keys (402) until the cap is raised or the month ends.
    cap_mode: Literal["soft", "hard"] = SOFT

    @field_validator("thresholds")
    @classmethod
    def _distinct(cls, thresholds: list[int]) -> list[int]:
        if len(set(thresholds)) != len(thresholds):
            raise ValueError("thresholds must differ from each other")
        return sorted(thresholds)


class LastDelivery(BaseModel):
    """How the latest webhook call went: ``delivered``, ``retrying`` (another try is scheduled) or ``failed``."""

    event_id: str
    type: str
    status: Literal["delivered", "retrying", "failed"]
    attempts: int
    http_status: int | None
    error: str
    at: datetime


class Alerts(BaseModel):
    api_id: str
    plan: str
    thresholds: list[int]
    webhook_url: str | None
    spend_cap: Decimal | None
    cap_mode: Literal["soft", "hard"]
    #: While a hard cap holds: when it lifts by itself (the end of the UTC month).
    capped_until: datetime | None
    last_delivery: LastDelivery | None = None
    #: Only in the response that registers the webhook or rotates its secret: keep it, it is not shown again.
    webhook_secret: str | None = None


router = APIRouter(tags=["alerts"])


@router.get("/subscriptions/{api_id}/alerts", summary="Your usage alerts for a subscription (defaults if never set)")
def get_alerts(api_id: ApiId, principal: Consumer, services: ServicesDep) -> Alerts:
    """404 without an active subscription to the API."""
    subscription = active_subscription(services.store, principal.sub, api_id)
    item = services.store.get(**alerts_key(principal.sub, api_id))
    return _shown(api_id, subscription["plan"], item or {})


@router.put("/subscriptions/{api_id}/alerts", summary="Set your usage alerts for a subscription (whole)")
def set_alerts(api_id: ApiId, body: AlertsIn, principal: Consumer, services: ServicesDep, response: Response) -> Alerts:
    """422 for a spend cap on a free plan or a webhook URL the control plane will not call; 404 without an active
    subscription. The webhook's signing secret is in the response when the URL is new or ``rotate_secret`` is set."""
    store, settings = services.store, services.settings
    subscription = active_subscription(store, principal.sub, api_id)
    plan = PricingPlan.of(require_plan(store, api_id, subscription["plan"]))
    if body.spend_cap is not None and not plan.is_paid:
        raise Problem(422, f"your plan {plan.name} is free: a spend cap applies to paid plans only")
    if body.spend_cap is None and body.cap_mode == HARD:
        raise Problem(422, "cap_mode hard needs a spend_cap")
    if body.webhook_url is not None:
        try:
            webhooks.check_url(body.webhook_url, allow_loopback=settings.webhooks_allow_loopback)
        except webhooks.UnsafeUrl as unsafe:
            raise Problem(422, f"webhook_url: {unsafe}") from None
    key = alerts_key(principal.sub, api_id)
    previous = store.get(**key)
    before = AlertSettings.of(previous)
    secret, issued = (previous or {}).get("webhook_secret"), False
    if body.webhook_url is not None and (body.webhook_url != before.webhook_url or body.rotate_secret or not secret):
        secret, issued = new_secret(), True
    item: dict[str, Any] = {
        **key,
        "api_id": api_id,
        "thresholds": body.thresholds,
        "cap_mode": body.cap_mode,
        "updated_at": timestamp(),
        **({"webhook_url": body.webhook_url, "webhook_secret": secret} if body.webhook_url else {}),
        **({"spend_cap": body.spend_cap} if body.spend_cap is not None else {}),
        **({"last_delivery": previous["last_delivery"]} if previous and "last_delivery" in previous else {}),
    }
    now = datetime.now(UTC)
    lifted = still_capped(before, now) and not _capped_by(body, plan, store, api_id, principal.sub, now)
    if still_capped(before, now) and not lifted:
        item["capped_until"] = before.capped_until
    if lifted:
        uncap_keys(store, subscription, with_writes=[{"Put": {"Item": item}}])
    else:
        store.put(item)
    if issued:
        response.headers["Cache-Control"] = "no-store"
    return _shown(api_id, plan.name, item, webhook_secret=secret if issued else None)


def _capped_by(body: AlertsIn, plan: PricingPlan, store: Store, api_id: str, consumer: str, now: datetime) -> bool:
    """Whether the new settings still hold the keys: a hard cap the month's spend has reached."""
    if body.cap_mode != HARD or body.spend_cap is None:
        return False
    cap = AlertSettings(spend_cap=body.spend_cap).cap_cents or 0
    return month_usage(store, api_id, consumer, plan, now).spend_cents >= cap


def _shown(api_id: str, plan: str, item: dict[str, Any], webhook_secret: str | None = None) -> Alerts:
    settings = AlertSettings.of(item or None)
    capped = settings.capped_until if still_capped(settings, datetime.now(UTC)) else None
    return Alerts(
        api_id=api_id,
        plan=plan,
        thresholds=list(settings.thresholds),
        webhook_url=settings.webhook_url,
        spend_cap=settings.spend_cap,
        cap_mode=settings.cap_mode,
        capped_until=capped,
        last_delivery=item.get("last_delivery"),
        webhook_secret=webhook_secret,
    )
