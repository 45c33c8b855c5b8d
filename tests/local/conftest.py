"""Fixtures of the Stripe fake's tests (``test_stripe_*.py``): a fresh fake per test, the official client pointed
at it, a loopback receiver for its webhooks, and a paid card payment (what refunds and disputes take back). A module that needs another (a fake per module) defines its own."""

from collections.abc import Iterator

import pytest
import stripe

from api_direct.local.stripe_server import StripeFake, running_stripe_fake
from tests.stripe_fake import WebhookReceiver, client_for, serving_receiver


@pytest.fixture
def fake() -> Iterator[StripeFake]:
    with running_stripe_fake() as running:
        yield running


@pytest.fixture
def client(fake: StripeFake) -> stripe.StripeClient:
    return client_for(fake)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with serving_receiver() as serving:
        yield serving


@pytest.fixture
def paid(fake: StripeFake, client: stripe.StripeClient) -> stripe.PaymentIntent:
    """A succeeded payment of 8.00 by a saved card."""
    customer = client.v1.customers.create({"email": "buyer@example.com"})
    return client.v1.payment_intents.create(
        {
            "amount": 800,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": fake.attach_card(customer.id),
            "off_session": True,
            "confirm": True,
        }
    )
