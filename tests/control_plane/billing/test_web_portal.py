"""The creator portal's Stripe Connect part, with billing on (the Stripe fake): onboarding from the page."""

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.billing.stripe_gateway import ATTEMPTS, NETWORK_RETRIES
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.stripe_server import StripeFake
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import ALICE, link_account, published
from tests.control_plane.web.pages import ORIGIN, as_user, text
from tests.control_plane.typed_client import InProcessControlPlane


@pytest.fixture
def portal(billed_api: TestClient, billing: SubscriptionBilling, mint: Mint) -> TestClient:
    """Alice, with weather-api listed, signed in to the pages."""
    link_account(ALICE)
    published(billed_api, bearer(mint(ALICE, "creators")))
    return as_user(billed_api, mint(ALICE, "creators"))


def test_onboarding_starts_from_the_portal_and_comes_back_to_it(
    portal: TestClient, stripe_fake: StripeFake, billing: SubscriptionBilling, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = text(portal.get("/web/portal").text)
    assert "Stripe Connect: not started" in words and "Start Stripe onboarding" in words
    asked: list[tuple[str, str]] = []
    real = billing.gateway.onboarding_link

    def onboarding_link(account: str, return_url: str, refresh_url: str) -> str:
        asked.append((return_url, refresh_url))
        return real(account, return_url, refresh_url)

    monkeypatch.setattr(billing.gateway, "onboarding_link", onboarding_link)
    response = portal.post("/web/portal/onboarding", data={}, headers=ORIGIN, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith(stripe_fake.base_url)
    assert asked == [("http://testserver/web/portal", "http://testserver/web/portal")]
    assert "onboarding not finished" in text(portal.get("/web/portal").text)


def test_once_onboarded_payouts_read_enabled_and_no_button_is_offered(
    portal: TestClient, stripe_fake: StripeFake, mint: Mint
) -> None:
    portal.post("/web/portal/onboarding", data={}, headers=ORIGIN, follow_redirects=False)
    account = InProcessControlPlane(portal, mint(ALICE, "creators")).earnings()["payout_account"]
    stripe_fake.complete_onboarding(account)
    page = portal.get("/web/portal").text
    assert f"payouts enabled {account}" in text(page) and "Stripe onboarding</button>" not in page


def test_the_portal_still_renders_when_stripe_is_down(
    portal: TestClient, stripe_fake: StripeFake, billing: SubscriptionBilling
) -> None:
    portal.post("/web/portal/onboarding", data={}, headers=ORIGIN, follow_redirects=False)
    stripe_fake.fail_next(503, count=ATTEMPTS * (NETWORK_RETRIES + 1))  # every attempt of every retry
    page = portal.get("/web/portal")
    assert page.status_code == 200 and "status unavailable right now" in text(page.text)
