"""Billing under test: the control plane on moto with Stripe as the local fake, keys in Secrets Manager."""

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.stripe_gateway import StripeGateway
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from tests.control_plane.billing.stripe_settings import with_billing
from tests.control_plane.resources import REGION, TABLE
from api_direct.local.stripe_server import StripeFake, running_stripe_fake


@pytest.fixture
def stripe_fake() -> Iterator[StripeFake]:
    with running_stripe_fake() as fake:
        yield fake


@pytest.fixture
def billing_settings(
    aws: Callable[[str], Any], settings: ControlPlaneSettings, stripe_fake: StripeFake
) -> ControlPlaneSettings:
    """``settings`` with billing on: the fake's keys in a secret, Stripe calls to the fake."""
    return with_billing(settings, aws, stripe_fake)


@pytest.fixture
def billed_api(billing_settings: ControlPlaneSettings) -> TestClient:
    return TestClient(create_app(billing_settings), raise_server_exceptions=False)


@pytest.fixture
def store(aws: Callable[[str], Any]) -> Store:
    return Store(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))


@pytest.fixture
def billing(billed_api: TestClient) -> SubscriptionBilling:
    """The app's own billing (its Stripe gateway sleeps for nothing between retries)."""
    services = billed_api.app.state.services  # type: ignore[attr-defined]
    gateway: StripeGateway = services.billing.gateway
    gateway.sleep = lambda _seconds: None
    return services.billing  # type: ignore[no-any-return]
