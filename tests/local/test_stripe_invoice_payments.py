"""How the Stripe fake's invoices are paid: by card, through a PaymentIntent found under the invoice's ``payments``.

A ledger charges a creator Stripe's real fee on each paid invoice by following
API 2025-03-31.basil's chain: invoice ``payments`` -> ``payment.payment_intent`` ->
``latest_charge`` -> ``balance_transaction.fee``. These tests follow it through the
official client.
"""

import time
from typing import Any

import pytest
import stripe

from api_direct.local.stripe_server import StripeFake
from tests.stripe_fake import recurring_price, subscribe


@pytest.fixture
def customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create({"email": "buyer@example.com"})


def close(fake: StripeFake) -> list[dict[str, Any]]:
    """End the billing period a minute from now, as a test clock does, without waiting for it."""
    return fake.close_billing_period(at=int(time.time()) + 60)


def paying_charge(client: stripe.StripeClient, invoice_id: str) -> stripe.Charge:
    """The charge that paid an invoice, with its balance transaction, found as a ledger finds it."""
    invoice = client.v1.invoices.retrieve(invoice_id, {"expand": ["payments"]})
    assert invoice.payments is not None
    [payment] = [entry for entry in invoice.payments.data if entry.status == "paid"]
    assert payment.payment.type == "payment_intent"
    intent = client.v1.payment_intents.retrieve(
        str(payment.payment.payment_intent), {"expand": ["latest_charge.balance_transaction"]}
    )
    assert isinstance(intent.latest_charge, stripe.Charge)
    return intent.latest_charge


def test_paid_invoice_leads_to_its_charge_and_stripes_fee(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    subscribe(client, customer, recurring_price(client, unit_amount=1900))

    [invoice] = close(fake)

    assert invoice["status"] == "paid"
    assert "payments" not in client.v1.invoices.retrieve(invoice["id"])
    charge = paying_charge(client, invoice["id"])
    assert (charge.amount, charge.customer, charge.status) == (1900, customer.id, "succeeded")
    fee = charge.balance_transaction
    assert isinstance(fee, stripe.BalanceTransaction)
    assert (fee.fee, fee.net) == (85, 1815)  # 55.1 + 30 cents, rounded


def test_invoice_is_charged_on_the_card_checkout_saved_for_the_subscription(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    price = recurring_price(client, unit_amount=1900)
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer": customer.id,
            "success_url": "http://127.0.0.1:9/done",
            "line_items": [{"price": price.id}],
        }
    )
    fake.complete_checkout(session.id, card="5555555555554444")

    [invoice] = close(fake)

    details = paying_charge(client, invoice["id"]).payment_method_details
    assert details is not None and details.card is not None
    assert (details.card.brand, details.card.last4) == ("mastercard", "4444")


def test_declined_invoice_is_retried_on_the_same_payment_intent(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    subscribe(client, customer, recurring_price(client, unit_amount=1900))
    fake.decline_cards(customer.id)
    [invoice] = close(fake)
    open_payment = client.v1.invoice_payments.list({"invoice": invoice["id"]}).data
    fake.accept_cards(customer.id)

    paid = fake.pay_invoice(invoice["id"])

    assert [(payment.status, payment.amount_paid) for payment in open_payment] == [("open", None)]
    [payment] = client.v1.invoice_payments.list({"invoice": invoice["id"]}).data
    assert (payment.id, payment.status, payment.amount_paid) == (open_payment[0].id, "paid", 1900)
    assert paid["status"] == "paid"
    assert client.v1.invoice_payments.retrieve(payment.id).payment.payment_intent == (
        open_payment[0].payment.payment_intent
    )
    assert [charge["status"] for charge in fake.charges()] == ["failed", "succeeded"]


def test_customers_default_card_that_fails_when_charged_leaves_the_invoice_open(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    fake.attach_card(customer.id, "4000000000000341")
    subscribe(client, customer, recurring_price(client, unit_amount=1900))

    [invoice] = close(fake)

    assert (invoice["status"], invoice["attempt_count"]) == ("open", 1)
    [charge] = fake.charges()
    assert charge["payment_method"] == client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method


def test_a_zero_invoice_is_paid_without_a_payment(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    subscribe(client, customer, recurring_price(client, unit_amount=0))

    [invoice] = close(fake)

    assert invoice["status"] == "paid"
    assert client.v1.invoice_payments.list({"invoice": invoice["id"]}).data == []
    assert fake.charges() == []
