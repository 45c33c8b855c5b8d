"""A prepaid subscription's credit: buy packs through Stripe Checkout, see the balance, set auto-reload.

``POST /subscriptions/{api_id}/credits/checkout`` makes a Checkout Session in
payment mode for ``packs`` packs and answers its ``url``: the consumer pays there
(the card is saved for auto-reload), and Stripe sends them back to the dashboard.
The credit is granted by Stripe's ``checkout.session.completed`` webhook, or by
``GET /subscriptions/{api_id}/credits?session_id=...`` when the browser comes back
first, whichever is first and only once (:mod:`~api_direct.control_plane.billing.credits`).
``PUT .../credits/auto-reload`` turns auto-reload on or off.

The rules of the balance (debits, the cap at zero, the overdraft, expiry) are in
:mod:`~api_direct.control_plane.billing.credits` and :mod:`~api_direct.control_plane.billing.prepaid`.
"""

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api_direct.control_plane.api.accounts import StrictModel
from api_direct.control_plane.api.auth import Consumer
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listings import plan_key
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.api.store import PK, SK
from api_direct.control_plane.api.subscriptions import active_subscription, billed
from api_direct.control_plane.billing import credits, prepaid
from api_direct.control_plane.billing.credits import MAX_PACKS, Balance, balance_key, read_balance
from api_direct.control_plane.billing.stripe_gateway import PaidCheckout, StripeGateway
from api_direct.control_plane.billing.subscription_billing import PURPOSE
from api_direct.project import PricingPlan

#: Where the web pages live (``web.rendering.WEB_PREFIX``: the API may not import the pages).
WEB_PAGES = "/web"
#: Stripe's Checkout Session ids: what ``session_id`` must look like.
SESSION_ID_PATTERN = r"^cs_[A-Za-z0-9_]{1,250}$"

router = APIRouter(tags=["credits"])


class CheckoutIn(StrictModel):
    packs: Annotated[int, Field(ge=1, le=MAX_PACKS, description="how many packs to buy")] = 1


class CheckoutOut(BaseModel):
    """Where the consumer pays: Stripe's hosted page, and the session's id (what ``GET .../credits`` takes)."""

    url: str
    session_id: str
    packs: int
    units: int
    #: What the packs cost, in the marketplace's currency.
    amount: Decimal
    currency: str


class AutoReloadIn(StrictModel):
    enabled: bool
    #: Buy a pack when a debit leaves fewer units than this; a tenth of a pack when left out.
    below_units: Annotated[int, Field(ge=1, le=10**9)] | None = None


class Pack(BaseModel):
    calls: int
    price: Decimal
    expires_days: int | None


class GrantOut(BaseModel):
    units: int
    granted_at: datetime
    #: ``checkout`` (bought) or ``reload`` (auto-reload charged the saved card).
    source: str
    #: What it cost, in cents of ``currency``.
    amount: int
    expires_at: datetime | None
    #: Units lost when it expired (unused); ``None`` while it has not.
    expired: int | None
    #: Units taken back by refunds of its payment.
    refunded: int = 0


class AutoReload(BaseModel):
    enabled: bool
    below_units: int
    #: A card was saved by a Checkout purchase: what auto-reload charges.
    card_saved: bool
    #: Why auto-reload turned itself off (the saved card was declined); ``None`` otherwise.
    error: str | None


class CreditsOut(BaseModel):
    """The balance: remaining = granted - used - expired - refunded, below zero by the overdraft the next pack pays
    first."""

    api_id: str
    plan: str
    pack: Pack
    granted: int
    used: int
    expired: int
    #: Units taken back by refunds of packs.
    refunded: int = 0
    remaining: int
    overdraft: int
    #: The keys answer 402 until credit is bought.
    capped: bool
    currency: str
    grants: list[GrantOut]
    auto_reload: AutoReload
    #: The Checkout Session named by ``session_id``, if any: ``paid`` (its credit granted now or before) or ``open``.
    checkout: Literal["paid", "open"] | None = None


@router.get("/subscriptions/{api_id}/credits", summary="Your prepaid credit: balance, grants, auto-reload")
def get_credits(
    api_id: ApiId,
    principal: Consumer,
    services: ServicesDep,
    session_id: Annotated[str | None, Query(pattern=SESSION_ID_PATTERN, description="a Checkout Session's id")] = None,
) -> CreditsOut:
    """With ``session_id`` (Checkout's return), that session's credit is granted if it is paid and not yet granted."""
    plan = _prepaid_plan(services, principal.sub, api_id)
    checkout: Literal["paid", "open"] | None = None
    if session_id is not None:
        session = billed(lambda: _gateway(services).paid_checkout(session_id))
        metadata = session.metadata
        if (metadata.get(PURPOSE), metadata.get("apid_consumer"), metadata.get("apid_api")) != (
            credits.CREDITS_PURPOSE,
            principal.sub,
            api_id,
        ):
            raise Problem(404, f"no Checkout Session {session_id} of yours buys credit for {api_id}")
        checkout = "paid" if session.paid else "open"
        purchase = _purchase_of(session, services) if session.paid else None
        if purchase is not None:
            prepaid.receive(services.store, purchase, datetime.now(UTC))
    return credits_out(services, principal.sub, api_id, plan, checkout)


@router.post(
    "/subscriptions/{api_id}/credits/checkout", summary="Buy packs of prepaid credit: a Stripe Checkout page to pay on"
)
def checkout(
    api_id: ApiId, body: CheckoutIn, request: Request, principal: Consumer, services: ServicesDep
) -> CheckoutOut:
    """409 on a plan that is not prepaid or without billing; the credit comes once the page is paid."""
    plan = _prepaid_plan(services, principal.sub, api_id)
    billing = services.billing
    if billing is None:
        raise Problem(409, "billing is not configured on this control plane: credit cannot be bought")
    assert plan.prepaid is not None  # _prepaid_plan's
    pack = plan.prepaid
    site = str(request.base_url).rstrip("/") + WEB_PAGES
    _remember_page(services, principal.sub, api_id, f"{site}/apis/{api_id}")
    metadata = prepaid.purchase_metadata(principal.sub, api_id, plan, body.packs, "checkout")
    session_id, url = billed(
        lambda: billing.gateway.pack_checkout(
            billing.customer(principal.sub),
            _pack_price(services, billing.gateway, api_id, plan),
            body.packs,
            (
                f"{site}/dashboard?credits={{CHECKOUT_SESSION_ID}}&api={api_id}#credits-{api_id}",
                f"{site}/dashboard#credits-{api_id}",
            ),
            metadata,
            f"apid-credits-{principal.sub}-{api_id}-{secrets.token_hex(8)}",
        )
    )
    return CheckoutOut(
        url=url,
        session_id=session_id,
        packs=body.packs,
        units=pack.calls * body.packs,
        amount=pack.price * body.packs,
        currency=services.settings.currency,
    )


@router.put("/subscriptions/{api_id}/credits/auto-reload", summary="Turn auto-reload of prepaid credit on or off")
def set_auto_reload(api_id: ApiId, body: AutoReloadIn, principal: Consumer, services: ServicesDep) -> CreditsOut:
    """409 when turning it on without a saved card (buy a pack first: Checkout saves its card)."""
    plan = _prepaid_plan(services, principal.sub, api_id)
    balance = read_balance(services.store, principal.sub, api_id)
    if body.enabled and balance.payment_method is None:
        raise Problem(409, f"no card is saved for {api_id} yet: buy a pack first, its card is saved for auto-reload")
    below = {"below_units": body.below_units} if body.below_units is not None else {}
    services.store.table.update_item(
        Key=balance_key(principal.sub, api_id),
        UpdateExpression="SET auto_reload = :on"
        + (", below_units = :below" if below else "")
        + " ADD reload_epoch :one REMOVE reload_error"
        + ("" if below else ", below_units"),
        ExpressionAttributeValues={":on": body.enabled, ":one": 1, **({":below": body.below_units} if below else {})},
    )
    return credits_out(services, principal.sub, api_id, plan, None)


def credits_out(
    services: Services, consumer: str, api_id: str, plan: PricingPlan, checkout: Literal["paid", "open"] | None
) -> CreditsOut:
    """The balance as the API and the dashboard show it."""
    assert plan.prepaid is not None
    balance = read_balance(services.store, consumer, api_id)
    return CreditsOut(
        api_id=api_id,
        plan=plan.name,
        pack=Pack(calls=plan.prepaid.calls, price=plan.prepaid.price, expires_days=plan.prepaid.expires_days),
        granted=balance.granted,
        used=balance.used,
        expired=balance.expired,
        refunded=balance.refunded,
        remaining=balance.remaining,
        overdraft=balance.overdraft,
        capped=balance.capped,
        currency=services.settings.currency,
        grants=[
            GrantOut(
                units=grant.units,
                granted_at=datetime.fromisoformat(grant.granted_at),
                source=grant.source,
                amount=grant.amount,
                expires_at=datetime.fromisoformat(grant.expires_at) if grant.expires_at else None,
                expired=grant.expired,
                refunded=grant.refunded,
            )
            for grant in credits.grants_of(services.store, consumer, api_id)
        ],
        auto_reload=_auto_reload(balance, plan),
        checkout=checkout,
    )


def _auto_reload(balance: Balance, plan: PricingPlan) -> AutoReload:
    return AutoReload(
        enabled=balance.auto_reload,
        below_units=prepaid.low_mark(balance, plan),
        card_saved=balance.payment_method is not None,
        error=balance.reload_error,
    )


def _prepaid_plan(services: Services, consumer: str, api_id: str) -> PricingPlan:
    """The active subscription's plan as it is billed (a pack whose price is changing keeps its old price for the
    subscriber until the change reaches them), if prepaid: 404 without a subscription, 409 on a plan that is not
    prepaid."""
    subscription = active_subscription(services.store, consumer, api_id)
    plan = prepaid.billed_plan_of(services.store, subscription)
    if plan is None or plan.prepaid is None:
        raise Problem(
            409, f"your plan for {api_id} ({subscription['plan']}) is not prepaid: it has no credit to buy or show"
        )
    return plan


def _gateway(services: Services) -> StripeGateway:
    if services.billing is None:
        raise Problem(409, "billing is not configured on this control plane: credit cannot be bought")
    return services.billing.gateway


def _purchase_of(session: PaidCheckout, services: Services) -> credits.Purchase | None:
    """The purchase a Checkout Session pays for, with Stripe's fee on it once paid; ``None`` if it buys no credit."""
    if session.payment_intent is None:
        return None
    fee = prepaid.fee_of(_gateway(services), session.payment_intent) if session.paid else 0
    return prepaid.purchase_of(
        session.payment_intent,
        session.metadata,
        session.amount,
        session.currency,
        payment_method=session.payment_method,
        customer=session.customer,
        stripe_fee=fee,
    )


def purchase_of_session(services: Services, session_id: str) -> credits.Purchase | None:
    """What a completed Checkout Session (from Stripe's webhook) bought, read back from Stripe; ``None`` if unpaid."""
    session = _gateway(services).paid_checkout(session_id)
    return _purchase_of(session, services) if session.paid else None


def _pack_price(services: Services, gateway: StripeGateway, api_id: str, plan: PricingPlan) -> str:
    """The pack's Stripe price, made once per pack size and price and kept on the plan's item."""
    assert plan.prepaid is not None
    fingerprint = credits.pack_fingerprint(plan.prepaid)
    key = plan_key(api_id, plan.name)
    item: dict[str, Any] = services.store.get(key[PK], key[SK]) or {}
    kept = item.get("stripe_pack_price") or {}
    if kept.get("fingerprint") == fingerprint:
        return str(kept["price"])
    price = gateway.pack_price(api_id, plan, fingerprint)
    services.store.table.update_item(
        Key=key,
        UpdateExpression="SET stripe_pack_price = :price",
        ExpressionAttributeValues={":price": {"fingerprint": fingerprint, "price": price}},
    )
    return price


def _remember_page(services: Services, consumer: str, api_id: str, page: str) -> None:
    """Where more credit is bought: what a credit cap's 402 quotes (the control plane has no URL of its own)."""
    services.store.table.update_item(
        Key=balance_key(consumer, api_id),
        UpdateExpression="SET buy_url = :page",
        ExpressionAttributeValues={":page": page},
    )
