"""Fixtures of the Stripe fake's tests (``test_stripe_*.py``): a fresh fake per test, the official client pointed
at it, and a loopback receiver for its webhooks. A module that needs another (a fake per module) defines its own."""

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
