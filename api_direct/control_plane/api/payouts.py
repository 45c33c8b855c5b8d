"""Creators' side of the money: onboarding to Stripe Connect, and the earnings ledger.

A creator is paid through a Stripe Connect Express account, which Stripe onboards
(identity, bank account) on its own pages: ``POST /payouts/account`` makes the
account once and answers a fresh onboarding link each time it is called. ``GET
/earnings`` is the ledger (:mod:`~api_direct.control_plane.billing.earnings`): every
paid invoice credited with Stripe's fees on it, every refund, and per month the
revenue, refunds, disputes, Stripe's fees, the platform fee, the payout and its transfer.

``POST /earnings/refunds`` gives a consumer money back from one of the creator's paid
invoices or packs: a Stripe refund on its payment intent, whose idempotency key is
(payment, amount, how many refunds the ledger holds of it), so a retry of the same
request never refunds twice; the ledger takes it off the current month at once
(``charge.refunded`` would otherwise, by the refund's id). A refund of a prepaid
pack also takes the refunded share of its units back from the consumer's credit
(:func:`~api_direct.control_plane.billing.prepaid.take_back_refund`).

``GET /listings/{api_id}/receipts`` is what each of the creator's plans really pays
them with this control plane's fees (:mod:`~api_direct.control_plane.billing.fees`),
for ``apid publish`` to print.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

import stripe
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, HttpUrl

from api_direct.control_plane.api.accounts import StrictModel
from api_direct.control_plane.api import listings
from api_direct.control_plane.api.auth import Creator
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listings import LISTING_SK
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.api.store import api_pk
from api_direct.control_plane.api.subscriptions import billed
from api_direct.control_plane.api.usage import Invoice
from api_direct.control_plane.billing import earnings, prepaid
from api_direct.control_plane.billing.charges import money_text
from api_direct.control_plane.billing.earnings import Refund
from api_direct.control_plane.billing.fees import Receipt, plan_receipts, stripe_pricing
from api_direct.control_plane.billing.periods import month_text
from api_direct.control_plane.billing.stripe_gateway import RefundMade
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
    revenue: int = 0
    invoices: int = 0
    #: Cents refunded this month (of this month's payments or earlier ones), and how many refunds.
    refunds: int = 0
    refund_count: int = 0
    #: Stripe's fees on this month's payments: card processing and Stripe Billing.
    stripe_fees: int = 0
    #: Cents taken back by disputes opened this month (less those won this month), Stripe's dispute fees on them,
    #: and how many disputes were opened.
    disputes: int = 0
    dispute_fees: int = 0
    dispute_count: int = 0
    #: A debt carried in from the month before (its payout came out below zero).
    carried_in: int = 0
    #: Set when the month closes: the platform's fee (on revenue net of refunds), what is transferred to the
    #: creator, and the debt this month carries into the next.
    fee: int | None = None
    payout: int | None = None
    carried_out: int | None = None
    transfer_id: str | None = None
    paid_at: datetime | None = None


class LedgerEntry(Invoice):
    """A paid invoice credited to its creator: what the consumer sees of it, and whatever only the creator may."""

    #: Stripe's real card fee on its charge, and Stripe Billing's (invoices only), in cents.
    stripe_fee: int = 0
    billing_fee: int = 0


class RefundEntry(BaseModel):
    """A refund taken off the creator's earnings in ``month``."""

    refund_id: str
    #: The invoice's or pack payment's id in the ledger.
    invoice_id: str
    api_id: str
    amount: int
    currency: str
    month: str
    recorded_at: datetime


class Earnings(BaseModel):
    currency: str
    fee_percent: Decimal
    #: The Stripe Connect account payouts go to; ``None`` until ``POST /payouts/account``.
    payout_account: str | None
    months: list[Month]
    entries: list[LedgerEntry]
    refunds: list[RefundEntry] = []


class RefundIn(StrictModel):
    #: An invoice's id (``in_...``) or a pack payment's (``pi_...``), as ``GET /earnings`` lists it.
    invoice_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,255}$")]
    #: Cents to give back; all that is left unrefunded when absent.
    amount: Annotated[int, Field(ge=1)] | None = None


class RefundOut(BaseModel):
    refund_id: str
    invoice_id: str
    amount: int
    currency: str
    #: What is refunded of the payment now, this refund included, and what is left.
    refunded: int
    left: int
    #: The month whose payout it is deducted from.
    month: str


class PlanReceipt(BaseModel):
    """A month of ``units`` on a subscription plan, or one pack of a prepaid plan, in cents."""

    units: int
    #: What the consumer pays, Stripe's card and Billing fees, the platform's fee, and what the creator receives.
    charged: int
    card_fee: int
    billing_fee: int
    platform_fee: int
    received: int
    #: What the creator receives per 1,000 units, in the currency (to 1/100 of a cent).
    per_1000: Decimal


class PlanReceipts(BaseModel):
    plan: str
    shape: Literal["subscription", "prepaid", "free"]
    #: Per month at representative volumes (subscription), per pack (prepaid), none (free).
    receipts: list[PlanReceipt]


class Receipts(BaseModel):
    api_id: str
    currency: str
    fee_percent: Decimal
    #: Stripe's fees as this control plane estimates them (its settings; Stripe's standard US pricing by default).
    card_percent: Decimal
    card_fixed_cents: int
    billing_percent: Decimal
    plans: list[PlanReceipts]


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
        refunds=[RefundEntry.model_validate(item) for item in earnings.refunds(store, principal.sub)],
    )


@router.post(
    "/earnings/refunds", status_code=201, summary="Refund a consumer's paid invoice or pack of yours, whole or in part"
)
def refund(principal: Creator, services: ServicesDep, body: RefundIn) -> RefundOut:
    """404 for a payment not in your ledger (another creator's included); 409 for more than is left of it."""
    billing = _billing(services)
    store, invoice_id = services.store, body.invoice_id
    paid = earnings.paid_entry(store, invoice_id)
    if paid is None or paid["creator"] != principal.sub:
        raise Problem(404, f"no paid invoice or payment {invoice_id} in your ledger; `apid earnings --json` lists them")
    total, currency = int(paid["amount"]), str(paid["currency"])
    left = total - int(paid.get("refunded", 0))
    if left <= 0:
        raise Problem(409, f"{invoice_id} is already refunded in full ({money_text(total, currency)})")
    amount = left if body.amount is None else body.amount
    if amount > left:
        raise Problem(
            409,
            f"at most {money_text(left, currency)} of {invoice_id} is left to refund, not {money_text(amount, currency)}",
        )
    payment_intent = paid.get("payment_intent") or billed(lambda: billing.gateway.invoice_payment_intent(invoice_id))
    if not payment_intent:
        raise Problem(409, f"Stripe shows no payment of {invoice_id} to refund")
    key = f"apid-refund-{payment_intent}-{amount}-{int(paid.get('refunds', 0)) + 1}"
    metadata = {"apid_invoice": invoice_id, "apid_creator": principal.sub}
    made = billed(lambda: _refund(billing, str(payment_intent), amount, key, metadata))
    now = datetime.now(UTC)
    made_refund = Refund(made.refund_id, invoice_id, made.amount, "requested_by_customer")
    if earnings.record_refund(store, made_refund, now) in ("recorded", "duplicate"):
        prepaid.take_back_refund(store, made_refund)
    refunded = int((earnings.paid_entry(store, invoice_id) or paid).get("refunded", 0))
    return RefundOut(
        refund_id=made.refund_id,
        invoice_id=invoice_id,
        amount=made.amount,
        currency=currency,
        refunded=refunded,
        left=total - refunded,
        month=month_text(now),
    )


def _refund(
    billing: SubscriptionBilling, payment_intent: str, amount: int, key: str, metadata: dict[str, str]
) -> RefundMade:
    try:
        return billing.gateway.refund(payment_intent, amount, key, metadata)
    except stripe.InvalidRequestError as error:
        # Stripe knows of a refund the ledger has not heard of yet (made on its dashboard): its webhook will tell.
        raise Problem(409, f"Stripe refused the refund: {error.user_message or error}") from None


@router.get("/listings/{api_id}/receipts", summary="What each plan of your API pays you after Stripe's and our fees")
def receipts(api_id: ApiId, principal: Creator, services: ServicesDep) -> Receipts:
    """404 for an API that is not this creator's."""
    listing = services.store.get(api_pk(api_id), LISTING_SK)
    if listing is None or listing["creator"] != principal.sub:
        raise Problem(404, f"you have no listed API {api_id!r}")
    settings, pricing = services.settings, stripe_pricing(services.settings)
    plans = []
    for plan in listings.read_listing(services.store, api_id).plans:
        found = plan_receipts(plan, pricing, settings.platform_fee_percent)
        shape: Literal["subscription", "prepaid", "free"] = (
            "prepaid" if plan.is_prepaid else "subscription" if plan.is_subscription else "free"
        )
        plans.append(PlanReceipts(plan=plan.name, shape=shape, receipts=[_receipt(receipt) for receipt in found]))
    return Receipts(
        api_id=api_id,
        currency=settings.currency,
        fee_percent=settings.platform_fee_percent,
        card_percent=pricing.card_percent,
        card_fixed_cents=pricing.card_fixed_cents,
        billing_percent=pricing.billing_percent,
        plans=plans,
    )


def _receipt(receipt: Receipt) -> PlanReceipt:
    take = receipt.take
    return PlanReceipt(
        units=receipt.units,
        charged=take.charged,
        card_fee=take.card_fee,
        billing_fee=take.billing_fee,
        platform_fee=take.platform_fee,
        received=take.received,
        per_1000=receipt.per_1000,
    )


def _billing(services: Services) -> SubscriptionBilling:
    if services.billing is None:
        raise Problem(404, "billing is not configured on this control plane; payouts need Stripe")
    return services.billing
