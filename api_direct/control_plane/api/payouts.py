"""Creators' side of the money: onboarding to Stripe Connect, and the earnings ledger.

A creator is paid through a Stripe Connect Express account, which Stripe onboards
(identity, bank account) on its own pages: ``POST /payouts/account`` makes the
account once and answers a fresh onboarding link each time it is called. ``GET
/earnings`` is the ledger (:mod:`~api_direct.control_plane.billing.earnings`): every
paid invoice credited, and per month the revenue, the platform fee, the payout and
its transfer.
"""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, HttpUrl

from api_direct.control_plane.api.accounts import StrictModel
from api_direct.control_plane.api.auth import Creator
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.api.subscriptions import billed
from api_direct.control_plane.api.usage import Invoice
from api_direct.control_plane.billing import earnings
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling

ONBOARDING_DONE_PATH = "/payouts/onboarding"


class OnboardingIn(StrictModel):
    """Where Stripe sends the creator back to; both default to a page of the control plane."""

    return_url: HttpUrl | None = None
    refresh_url: HttpUrl | None = None


class PayoutAccount(BaseModel):
    account_id: str
    #: Open it in a browser to finish (or update) onboarding; it expires within minutes.
    onboarding_url: str
    #: Whether Stripe lets this account receive transfers yet (onboarding finished).
    transfers_enabled: bool


class Month(BaseModel):
    month: str
    state: Literal["open", "closed", "paid"]
    currency: str
    #: Cents paid by consumers in this month, and how many invoices that was.
    revenue: int
    invoices: int
    #: Set when the month closes: the platform's fee and what is transferred to the creator.
    fee: int | None = None
    payout: int | None = None
    transfer_id: str | None = None
    paid_at: datetime | None = None


class LedgerEntry(Invoice):
    """A paid invoice credited to its creator: what the consumer sees of it, and whatever only the creator may."""


class Earnings(BaseModel):
    currency: str
    fee_percent: Decimal
    #: The Stripe Connect account payouts go to; ``None`` until ``POST /payouts/account``.
    payout_account: str | None
    months: list[Month]
    entries: list[LedgerEntry]


router = APIRouter(tags=["payouts"])


@router.post("/payouts/account", summary="Create (once) your Stripe Connect account and get an onboarding link")
def payout_account(
    principal: Creator, services: ServicesDep, request: Request, body: OnboardingIn | None = None
) -> PayoutAccount:
    """Safe to repeat: the account is made once; every call answers a new link (Stripe's expire in minutes)."""
    billing = _billing(services)
    default = str(request.url_for("onboarding_done"))
    return_url = str(body.return_url) if body and body.return_url else default
    refresh_url = str(body.refresh_url) if body and body.refresh_url else default
    account = earnings.connected_account(services.store, principal.sub)
    if account is None:
        created = billed(lambda: billing.gateway.connected_account(principal.sub, None))
        account = earnings.remember_account(services.store, principal.sub, created)
    url = billed(lambda: billing.gateway.onboarding_link(account, return_url, refresh_url))
    enabled = billed(lambda: billing.gateway.can_receive_transfers(account))
    return PayoutAccount(account_id=account, onboarding_url=url, transfers_enabled=enabled)


@router.get(ONBOARDING_DONE_PATH, response_class=PlainTextResponse, include_in_schema=False)
def onboarding_done() -> str:
    return (
        "Stripe onboarding: done or paused. Back in your terminal, `apid earnings` shows whether payouts are enabled.\n"
    )


@router.get("/earnings", summary="Your earnings: revenue, platform fee and payouts per month, and every paid invoice")
def earnings_of(principal: Creator, services: ServicesDep) -> Earnings:
    store = services.store
    return Earnings(
        currency=services.settings.currency,
        fee_percent=services.settings.platform_fee_percent,
        payout_account=earnings.connected_account(store, principal.sub),
        months=[Month.model_validate(item) for item in earnings.months(store, principal.sub)],
        entries=[LedgerEntry.model_validate(item) for item in earnings.ledger(store, principal.sub)],
    )


def _billing(services: Services) -> SubscriptionBilling:
    if services.billing is None:
        raise Problem(404, "billing is not configured on this control plane; payouts need Stripe")
    return services.billing
