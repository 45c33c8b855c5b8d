"""Stripe's webhook: what happened to invoices and subscriptions comes back here, signed.

The body is trusted only after ``stripe.Webhook.construct_event`` has checked its
``Stripe-Signature`` (HMAC with the endpoint's secret) and that it was signed within
``TOLERANCE_SECONDS``: a bad signature or a stale one (a captured request replayed
later) is a 400 and changes nothing. Stripe delivers at least once, so each handler
is idempotent on its own (revenue by invoice id, key suspension by state), and
every event handled is remembered by id so a redelivery is answered ``duplicate``
without work. Types we do not handle get a 200 (``ignored``): a non-2xx would make
Stripe retry them for days.

| event | effect |
| --- | --- |
| ``invoice.paid`` | the creator is credited (:func:`~api_direct.control_plane.billing.earnings.record_revenue`) and charged Stripe's real card fee (its charge's balance transaction, read through ``invoice.payments``) and Billing's, the invoice kept with its Stripe link and period for the consumer's list (no call to Stripe when they look); a key suspended for an earlier failure is restored |
| ``charge.refunded`` | each refund of a charge the ledger knows (one made on Stripe's dashboard too) is taken off its creator's earnings, once by refund id (:func:`~api_direct.control_plane.billing.earnings.record_refund`), and a pack's refunded share of units off the consumer's credit (:func:`~api_direct.control_plane.billing.prepaid.take_back_refund`) |
| ``charge.dispute.created``, ``charge.dispute.funds_withdrawn`` | a chargeback of a payment the ledger knows: its amount and Stripe's dispute fee (``stripe_dispute_fee_cents``) come off its creator's month, once by dispute id (:func:`~api_direct.control_plane.billing.earnings.record_dispute`); an inquiry (``warning_*``), which withdraws nothing, changes nothing |
| ``charge.dispute.closed`` | ``won``: the amount and the fee come back in the month it is won; ``lost``: they stay taken (:func:`~api_direct.control_plane.billing.earnings.close_dispute`); a closed event delivered before its created one records the dispute first |
| ``invoice.payment_failed`` | the subscription's key is suspended in the API's account |
| ``customer.subscription.deleted`` | Stripe ended the subscription: its key is revoked |
| ``checkout.session.completed`` | by the session's ``metadata["apid_purpose"]``: ``credits``, the packs it paid for are granted (once per payment intent, :mod:`~api_direct.control_plane.billing.credits`) and the creator credited |
| ``payment_intent.succeeded`` | a credit payment (a Checkout purchase or an auto-reload) is granted, if it was not already |
| ``customer.subscription.trial_will_end`` | three days before a free trial ends: the consumer is told (``trial.ending``, :mod:`~api_direct.control_plane.billing.trials`) |
"""  # noqa: E501 (Markdown table rows cannot wrap)

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import stripe
from botocore.exceptions import ClientError
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api_direct.control_plane.api import credits as credit_routes
from api_direct.control_plane.api import subscriptions
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.billing import earnings
from api_direct.control_plane.billing.earnings import PaidInvoice, Refund, record_revenue
from api_direct.control_plane.billing.fees import billing_fee, stripe_pricing
from api_direct.control_plane.billing import credits, prepaid
from api_direct.control_plane.billing.metering import MARKER_DAYS
from api_direct.control_plane.billing.periods import epoch_seconds
from api_direct.control_plane.billing.subscription_billing import PURPOSE
from api_direct.control_plane.billing.trials import trial_will_end

TOLERANCE_SECONDS = 300
WEBHOOK_PATH = "/stripe/webhook"
MAX_BODY_BYTES = 256 * 1024


class WebhookReceipt(BaseModel):
    event_id: str
    type: str
    outcome: Literal["handled", "no change", "duplicate", "ignored"]


router = APIRouter(tags=["billing"])


@router.post(WEBHOOK_PATH, summary="Stripe events (signed by Stripe; no token)", include_in_schema=False)
async def receive(request: Request, services: ServicesDep) -> WebhookReceipt:
    if services.stripe_keys is None:
        raise Problem(404, "billing is not configured on this control plane")
    payload = await request.body()
    if len(payload) > MAX_BODY_BYTES:
        raise Problem(413, f"a Stripe event is at most {MAX_BODY_BYTES} bytes")
    try:
        event = stripe.Webhook.construct_event(
            payload,
            request.headers.get("stripe-signature"),
            services.stripe_keys.webhook_secret,
            tolerance=TOLERANCE_SECONDS,
        )
    except stripe.SignatureVerificationError as error:
        raise Problem(400, f"Stripe-Signature does not verify: {error.user_message or 'bad signature'}") from None
    except ValueError:
        raise Problem(400, "the body is not a Stripe event (JSON)") from None
    return await run_in_threadpool(handle, services, event.to_dict())


def handle(services: Services, event: Mapping[str, Any]) -> WebhookReceipt:
    """Apply one verified event once; a failure raises, so Stripe delivers it again."""
    event_id, event_type = str(event["id"]), str(event["type"])
    marker = {"pk": f"STRIPE_EVENT#{event_id}", "sk": "EVENT"}
    if services.store.get(marker["pk"], marker["sk"]) is not None:
        return WebhookReceipt(event_id=event_id, type=event_type, outcome="duplicate")
    handler = _HANDLERS.get(event_type)
    if handler is None:
        return WebhookReceipt(event_id=event_id, type=event_type, outcome="ignored")
    changed = handler(services, event["data"]["object"])
    now = datetime.now(UTC)
    try:
        services.store.table.put_item(
            Item={
                **marker,
                "type": event_type,
                "received_at": now.isoformat(),
                "expires_at": epoch_seconds(now) + MARKER_DAYS * 86400,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    return WebhookReceipt(event_id=event_id, type=event_type, outcome="handled" if changed else "no change")


def _subscription_of(invoice: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(consumer, API, Stripe subscription) an invoice is for, from the subscription's metadata."""
    details = _subscription_details(invoice)
    metadata = details.get("metadata") or {}
    if not details.get("subscription") or "apid_consumer" not in metadata or "apid_api" not in metadata:
        return None  # not an API-Direct subscription's invoice (the account may bill other things)
    return str(metadata["apid_consumer"]), str(metadata["apid_api"]), str(details["subscription"])


def _subscription_details(invoice: Mapping[str, Any]) -> Mapping[str, Any]:
    """What Stripe copied onto the invoice of the subscription it bills (its id and metadata); empty for none."""
    return ((invoice.get("parent") or {}).get("subscription_details")) or {}


def _plan_of(invoice: Mapping[str, Any]) -> str | None:
    """The plan the subscription was on when Stripe finalized the invoice (its metadata follows plan changes)."""
    plan = (_subscription_details(invoice).get("metadata") or {}).get("apid_plan")
    return str(plan) if plan else None


def _invoice_paid(services: Services, invoice: Mapping[str, Any]) -> bool:
    owner = _subscription_of(invoice)
    if owner is None:
        return False
    consumer, api_id, stripe_subscription = owner
    recorded = False
    if int(invoice.get("amount_paid") or 0) > 0:
        payment_intent, card_fee = _payment_of(services, str(invoice["id"]))
        paid = PaidInvoice(
            str(invoice["id"]),
            int(invoice["amount_paid"]),
            str(invoice["currency"]),
            api_id,
            consumer,
            hosted_invoice_url=invoice.get("hosted_invoice_url") or None,
            period_start=_moment(invoice.get("period_start")),
            period_end=_moment(invoice.get("period_end")),
            payment_intent=payment_intent,
            stripe_fee=card_fee,
            billing_fee=billing_fee(int(invoice["amount_paid"]), stripe_pricing(services.settings)),
            plan=_plan_of(invoice),
        )
        recorded = record_revenue(services.store, paid, datetime.now(UTC)) == "recorded"
    restored = subscriptions.restore_after_payment(services, consumer, api_id, stripe_subscription)
    return recorded or restored


def _payment_of(services: Services, invoice_id: str) -> tuple[str | None, int]:
    """The invoice's payment intent and Stripe's card fee on its charge (0 if Stripe shows no charge)."""
    if services.billing is None:
        return None, 0
    gateway = services.billing.gateway
    try:
        payment_intent = gateway.invoice_payment_intent(invoice_id)
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing":
            raise
        return None, 0  # an event made up for an invoice Stripe never had (a test's): credited without a fee
    return payment_intent, prepaid.fee_of(gateway, payment_intent) if payment_intent else 0


def _charge_refunded(services: Services, charge: Mapping[str, Any]) -> bool:
    """Mirror the charge's refunds into the ledger: those made here are already there, by their id."""
    invoice_id = earnings.ledger_entry_of_payment(services.store, str(charge.get("payment_intent") or ""))
    if invoice_id is None or services.billing is None:
        return False  # not a payment the ledger credited (the account may take other payments)
    now, recorded = datetime.now(UTC), False
    for refund in services.billing.gateway.charge_refunds(str(charge["id"])):
        if refund.status == "succeeded":
            made = Refund(refund.refund_id, invoice_id, refund.amount)
            outcome = earnings.record_refund(services.store, made, now)
            if outcome in ("recorded", "duplicate"):  # a pack's units come back once, whoever recorded it
                prepaid.take_back_refund(services.store, made)
            recorded = recorded or outcome == "recorded"
    return recorded


def _dispute_of(services: Services, dispute: Mapping[str, Any]) -> earnings.Dispute | None:
    """The ledger's view of a chargeback; ``None`` for an inquiry (no money moves) or a payment it did not credit."""
    if str(dispute.get("status") or "").startswith("warning_"):
        return None
    invoice_id = earnings.ledger_entry_of_payment(services.store, str(dispute.get("payment_intent") or ""))
    if invoice_id is None:
        return None
    fee = services.settings.stripe_dispute_fee_cents
    return earnings.Dispute(str(dispute["id"]), invoice_id, int(dispute["amount"]), fee)


def _dispute_opened(services: Services, dispute: Mapping[str, Any]) -> bool:
    made = _dispute_of(services, dispute)
    return made is not None and earnings.record_dispute(services.store, made, datetime.now(UTC)) == "recorded"


def _dispute_closed(services: Services, dispute: Mapping[str, Any]) -> bool:
    made = _dispute_of(services, dispute)
    if made is None or dispute.get("status") not in ("won", "lost"):
        return False
    now = datetime.now(UTC)
    recorded = earnings.record_dispute(services.store, made, now) == "recorded"
    closed = earnings.close_dispute(services.store, made.dispute_id, dispute["status"] == "won", now)
    return recorded or closed in ("given back", "kept")


def _moment(epoch: Any) -> datetime | None:
    """A Stripe timestamp (Unix seconds) as a UTC time; ``None`` if the event has none."""
    return datetime.fromtimestamp(int(epoch), UTC) if isinstance(epoch, int) else None


def _payment_failed(services: Services, invoice: Mapping[str, Any]) -> bool:
    owner = _subscription_of(invoice)
    if owner is None or _already_paid(services, str(invoice["id"])):
        return False  # a failure delivered after the same invoice's payment changes nothing
    return subscriptions.suspend_for_payment(services, *owner)


def _already_paid(services: Services, invoice_id: str) -> bool:
    return services.store.get(f"INVOICE#{invoice_id}", "PAID") is not None


def _subscription_deleted(services: Services, subscription: Mapping[str, Any]) -> bool:
    metadata = subscription.get("metadata") or {}
    if "apid_consumer" not in metadata or "apid_api" not in metadata:
        return False
    return subscriptions.end_for_stripe(
        services, str(metadata["apid_consumer"]), str(metadata["apid_api"]), str(subscription["id"])
    )


def _checkout_completed(services: Services, session: Mapping[str, Any]) -> bool:
    """A Checkout Session was completed: what it was for is in its metadata's ``apid_purpose``."""
    purpose = (session.get("metadata") or {}).get(PURPOSE)
    if purpose == credits.CREDITS_PURPOSE and services.billing is not None:
        purchase = credit_routes.purchase_of_session(services, str(session["id"]))
        return purchase is not None and prepaid.receive(services.store, purchase, datetime.now(UTC))
    return False  # another purpose's, or not API-Direct's


def _payment_succeeded(services: Services, intent: Mapping[str, Any]) -> bool:
    """A credit payment succeeded (an auto-reload whose own answer was lost, or Checkout's): grant it if not yet."""
    if services.billing is None or (intent.get("metadata") or {}).get(PURPOSE) != credits.CREDITS_PURPOSE:
        return False
    purchase = prepaid.purchase_of(
        str(intent["id"]),
        intent.get("metadata") or {},
        int(intent.get("amount_received") or 0),
        str(intent.get("currency") or services.settings.currency),
        payment_method=intent.get("payment_method") if isinstance(intent.get("payment_method"), str) else None,
        customer=intent.get("customer") if isinstance(intent.get("customer"), str) else None,
        stripe_fee=prepaid.fee_of(services.billing.gateway, str(intent["id"])),
    )
    return purchase is not None and prepaid.receive(services.store, purchase, datetime.now(UTC))


_HANDLERS: Mapping[str, Callable[[Services, Mapping[str, Any]], bool]] = {
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _payment_failed,
    "customer.subscription.deleted": _subscription_deleted,
    "checkout.session.completed": _checkout_completed,
    "payment_intent.succeeded": _payment_succeeded,
    "customer.subscription.trial_will_end": trial_will_end,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_opened,
    "charge.dispute.funds_withdrawn": _dispute_opened,
    "charge.dispute.closed": _dispute_closed,
}
