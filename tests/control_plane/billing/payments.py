"""Payments a creator's ledger holds, made for real in the Stripe fake: what refund tests refund."""

import json
from datetime import UTC, datetime
from typing import Any

import stripe
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.earnings import PaidInvoice, record_revenue
from api_direct.local.stripe_server import StripeFake, event_payload, sign_webhook
from tests.control_plane.billing.stripe_settings import WEBHOOK_SECRET
from tests.control_plane.billing.usage import API, CAROL
from tests.control_plane.marketplace import ALICE
from tests.stripe_fake import client_for


def list_for_alice(store: Store, api_id: str = API) -> None:
    store.table.put_item(Item={"pk": f"API#{api_id}", "sk": "LISTING", "creator": ALICE})


def paid_pack(fake: StripeFake, store: Store, amount: int = 800, api_id: str = API) -> stripe.PaymentIntent:
    """Carol pays ``amount`` cents for a pack of ``api_id`` by card; the ledger credits it (keyed by the payment
    intent, as prepaid packs are) with Stripe's real fee."""
    client = client_for(fake)
    customer = client.v1.customers.create({"email": "carol@example.com"})
    intent = client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": fake.attach_card(customer.id),
            "off_session": True,
            "confirm": True,
        }
    )
    charge = client.v1.charges.retrieve(str(intent.latest_charge), {"expand": ["balance_transaction"]})
    fee = int(charge.balance_transaction.fee)  # type: ignore[union-attr]
    paid = PaidInvoice(intent.id, amount, "usd", api_id, CAROL, payment_intent=intent.id, stripe_fee=fee)
    assert record_revenue(store, paid, datetime.now(UTC)) == "recorded"
    return intent


def deliver(api: TestClient, event_type: str, data_object: dict[str, Any]) -> str:
    """Deliver a signed event as Stripe would; the webhook's outcome."""
    return _post(api, event_payload(event_type, data_object))


def relay(api: TestClient, fake: StripeFake) -> list[str]:
    """Deliver every event the fake has recorded, in order, signed with the control plane's secret; the outcomes."""
    return [_post(api, json.dumps(event).encode()) for event in fake.events()]


def _post(api: TestClient, payload: bytes) -> str:
    response = api.post(
        "/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": sign_webhook(payload, WEBHOOK_SECRET), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["outcome"])


def charge_of(fake: StripeFake, payment_intent: str) -> stripe.Charge:
    """The charge that paid ``payment_intent``, as Stripe shows it now (its refunds included)."""
    client = client_for(fake)
    return client.v1.charges.retrieve(str(client.v1.payment_intents.retrieve(payment_intent).latest_charge))
