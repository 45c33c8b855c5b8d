"""Billing under test: the control plane on moto with Stripe as the local fake, keys in Secrets Manager."""

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.stripe_gateway import StripeGateway
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.client import sign_in
from tests.control_plane.billing.cli_harness import SignIn, serving
from tests.control_plane.billing.stripe_settings import with_billing
from tests.control_plane.marketplace import ALICE
from tests.control_plane.resources import APP_CLIENT_ID, BUS, CONTROL_PLANE_ACCOUNT, REGION, TABLE, USER_POOL_ID
from tests.control_plane.tokens import Mint
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


@pytest.fixture
def billed_app(billing_settings: ControlPlaneSettings) -> FastAPI:
    app = create_app(billing_settings)
    app.state.services.billing.gateway.sleep = lambda _seconds: None
    return app


@pytest.fixture
def control_plane(billed_app: FastAPI) -> Iterator[str]:
    with serving(billed_app) as url:
        yield url


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the CLI keeps its session: empty, so nobody is signed in yet."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def sign_in_as(config_home: Path, mint: Mint) -> SignIn:
    """Save a session for ``user`` (in ``group``) on ``url`` as `apid login` would, its token valid for an hour."""

    def save(url: str, user: str = ALICE, group: str = "creators") -> None:
        sign_in.save_session(
            sign_in.SignedIn(
                control_plane_url=url,
                region=REGION,
                user_pool_id=USER_POOL_ID,
                app_client_id=APP_CLIENT_ID,
                username=user,
                access_token=mint(user, group),
                refresh_token="unused",
                expires_at=time.time() + 3600,
                control_plane_account_id=CONTROL_PLANE_ACCOUNT,
                event_bus_arn=f"arn:aws:events:{REGION}:{CONTROL_PLANE_ACCOUNT}:event-bus/{BUS}",
            )
        )

    return save
