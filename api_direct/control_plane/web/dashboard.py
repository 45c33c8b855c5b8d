"""The consumer's dashboard: subscriptions with this month's usage against the quota (or their prepaid credit, with
its Buy button and auto-reload), their alerts, keys, invoices."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from api_direct.control_plane.api import alerts, listing_lifecycle, named_keys, subscriptions, usage
from api_direct.control_plane.api import credits as credit_routes
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.problems import Problem, describe_validation
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.billing import prepaid
from api_direct.control_plane.billing.periods import month_text
from api_direct.control_plane.web.marketplace import key_page
from api_direct.control_plane.web.rendering import WEB_PREFIX, page, web_base
from api_direct.control_plane.web.web_session import Form, WebConsumer

router = APIRouter(prefix=f"{WEB_PREFIX}/dashboard", include_in_schema=False)
#: The grace periods the dashboard offers when rotating a key (the API takes any number of seconds up to 7 days).
GRACE_CHOICES = {"0": 0, "1h": 3600, "24h": 24 * 3600, "7d": 7 * 24 * 3600}


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request,
    user: WebConsumer,
    services: ServicesDep,
    done: str = "",
    credits: Annotated[str | None, Query(pattern=credit_routes.SESSION_ID_PATTERN)] = None,
    api: ApiId | None = None,
) -> Response:
    """``credits`` and ``api``: Stripe Checkout sends the consumer back with the session that bought credit,
    which is granted now if Stripe's webhook has not come first."""
    now = datetime.now(UTC)
    month = month_text(now)
    bought = None
    if credits is not None and api is not None:
        bought = credit_routes.get_credits(api, user, services, session_id=credits).checkout
    mine = subscriptions.list_subscriptions(user, services)
    active = [s for s in mine if s.status == subscriptions.ACTIVE]
    used = {s.api_id: usage.period_usage(services.store, s.api_id, user.sub, s.plan, month) for s in active}
    plans = {s.api_id: prepaid.plan_of(services.store, s.api_id, s.plan) for s in active}
    balances = {
        api_id: credit_routes.credits_out(services, user.sub, api_id, plan, None)
        for api_id, plan in plans.items()
        if plan is not None and plan.is_prepaid
    }
    return page(
        request,
        "dashboard.html",
        subscriptions=mine,
        usage=used,
        month=month,
        keys=named_keys.list_keys(user, services),
        grace_choices=GRACE_CHOICES,
        invoices=usage.consumer_invoices(services.store, user.sub),
        alerts={s.api_id: alerts.get_alerts(s.api_id, user, services) for s in active},
        lifecycle=listing_lifecycle.annotations(services.store, user.sub, [s.api_id for s in active]),
        cancelled=done == "cancelled",
        alerts_saved=done == "alerts",
        now=now,
        credit=balances,
        credit_bought=bought,
        reload_saved=done == "reload",
        can_buy=services.billing is not None,
    )


@router.post("/{api_id}/credits/checkout")
def buy_credits(api_id: ApiId, request: Request, fields: Form, user: WebConsumer, services: ServicesDep) -> Response:
    """The Buy button: to Stripe Checkout's page for the packs, which sends the consumer back here paid."""
    try:
        body = credit_routes.CheckoutIn(packs=int(fields.get("packs", "1")))
    except ValueError as error:
        detail = describe_validation(error.errors()) if isinstance(error, ValidationError) else "packs: a whole number"
        raise Problem(422, detail) from None
    session = credit_routes.checkout(api_id, body, request, user, services)
    return RedirectResponse(session.url, status_code=303)


@router.post("/{api_id}/credits/auto-reload")
def set_auto_reload(
    api_id: ApiId, request: Request, fields: Form, user: WebConsumer, services: ServicesDep
) -> Response:
    try:
        below = fields.get("below_units") or None
        body = credit_routes.AutoReloadIn(
            enabled=fields.get("enabled") == "on", below_units=int(below) if below else None
        )
    except ValueError as error:
        detail = describe_validation(error.errors()) if isinstance(error, ValidationError) else "below_units: a number"
        raise Problem(422, detail) from None
    credit_routes.set_auto_reload(api_id, body, user, services)
    return RedirectResponse(f"{web_base(request)}/dashboard?done=reload#credits-{api_id}", status_code=303)


@router.post("/{api_id}/alerts", response_class=HTMLResponse)
def set_alerts(
    api_id: ApiId, request: Request, fields: Form, user: WebConsumer, services: ServicesDep, response: Response
) -> Response:
    """The alert form: the settings whole, as ``PUT /subscriptions/{api_id}/alerts`` takes them.

    A new webhook secret is shown on a page of its own, once; otherwise back to the dashboard.
    """
    try:
        body = alerts.AlertsIn(
            thresholds=[int(t) for t in fields.get("thresholds", "").replace(",", " ").split()],
            webhook_url=fields.get("webhook_url") or None,
            rotate_secret=fields.get("rotate_secret") == "on",
            spend_cap=fields.get("spend_cap") or None,
            cap_mode=fields.get("cap_mode", "soft"),
        )
    except ValueError as error:  # a threshold that is not a number, or what the model refuses
        detail = (
            describe_validation(error.errors())
            if isinstance(error, ValidationError)
            else "thresholds: give whole numbers such as 80, 100"
        )
        raise Problem(422, detail) from None
    saved = alerts.set_alerts(api_id, body, user, services, response)
    if saved.webhook_secret is None:
        return RedirectResponse(f"{web_base(request)}/dashboard?done=alerts#alerts-{api_id}", status_code=303)
    return page(request, "webhook_secret.html", alerts=saved)  # pages are never cached (no-store)


@router.post("/{api_id}/rotate", response_class=HTMLResponse)
def rotate(
    api_id: ApiId, request: Request, _: Form, user: WebConsumer, services: ServicesDep, response: Response
) -> Response:
    return key_page(request, services, named_keys.rotate_newest(api_id, user, services, response), "rotated")


@router.post("/keys/{key_id}/rotate", response_class=HTMLResponse)
def rotate_key(
    key_id: str, request: Request, fields: Form, user: WebConsumer, services: ServicesDep, response: Response
) -> Response:
    """One key, with the grace period chosen on the form (24 hours unless another is chosen)."""
    choice = fields.get("grace", "24h")
    if choice not in GRACE_CHOICES:
        raise Problem(422, f"grace must be one of {', '.join(GRACE_CHOICES)}")
    rotation = named_keys.Rotation(grace_seconds=GRACE_CHOICES[choice])
    issued = named_keys.rotate_key(key_id, user, services, response, rotation)
    return key_page(request, services, issued, "rotated" if rotation.grace_seconds == 0 else "rotated-with-grace")


@router.post("/{api_id}/cancel")
def cancel(api_id: ApiId, request: Request, _: Form, user: WebConsumer, services: ServicesDep) -> Response:
    subscriptions.cancel(api_id, user, services)
    return RedirectResponse(f"{web_base(request)}/dashboard?done=cancelled", status_code=303)
