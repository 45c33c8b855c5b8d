"""Prepaid credit on the pages: the API page's pack, the dashboard's balance, Buy button and auto-reload form."""

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.stripe_server import StripeFake
from tests.control_plane.billing.prepaid_market import prepaid_marketplace
from tests.control_plane.billing.usage import API
from tests.control_plane.marketplace import CAROL
from tests.control_plane.tokens import Mint
from tests.control_plane.web.pages import ORIGIN, as_user, text


@pytest.fixture
def signed_in(billed_api: TestClient, mint: Mint, billing: SubscriptionBilling) -> TestClient:
    """Carol on weather-api's prepaid plan, signed in to the pages."""
    prepaid_marketplace(billed_api, mint)
    return as_user(billed_api, mint(CAROL, "consumers"))


def test_the_api_page_shows_what_a_pack_holds(signed_in: TestClient) -> None:
    page = text(signed_in.get(f"/web/apis/{API}").text)
    assert "Prepaid credit" in page and "1,000 calls for 8.00 USD, expire after 30 days" in page


def test_buying_goes_to_checkout_and_the_return_adds_the_credit(signed_in: TestClient, stripe_fake: StripeFake) -> None:
    before = text(signed_in.get("/web/dashboard").text)
    assert "Remaining: 0 calls" in before and "calls answer 402 until you buy more" in before
    assert "Buy 1,000 calls for 8.00 USD" in before and "Buy a pack first" in before
    bought = signed_in.post(
        f"/web/dashboard/{API}/credits/checkout", data={"packs": "1"}, headers=ORIGIN, follow_redirects=False
    )
    assert bought.status_code == 303 and bought.headers["location"].startswith(f"{stripe_fake.base_url}/c/pay/cs_")
    session_id = bought.headers["location"].rsplit("/", 1)[1]
    completed = stripe_fake.complete_checkout(session_id)
    back = urlsplit(completed["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id))  # as Stripe redirects
    assert parse_qs(back.query) == {"credits": [session_id], "api": [API]}
    after = text(signed_in.get(f"{back.path}?{back.query}").text)
    assert "Payment received: your credit is added." in after and "Remaining: 1,000 calls" in after
    assert "used up" not in after


def test_the_auto_reload_form_saves_the_setting(signed_in: TestClient, stripe_fake: StripeFake) -> None:
    location = signed_in.post(
        f"/web/dashboard/{API}/credits/checkout", data={"packs": "2"}, headers=ORIGIN, follow_redirects=False
    )
    session_id = location.headers["location"].rsplit("/", 1)[1]
    stripe_fake.complete_checkout(session_id)
    signed_in.get("/web/dashboard", params={"credits": session_id, "api": API})
    saved = signed_in.post(
        f"/web/dashboard/{API}/credits/auto-reload",
        data={"enabled": "on", "below_units": "250"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith(f"?done=reload#credits-{API}")
    page = signed_in.get("/web/dashboard?done=reload").text
    assert "Auto-reload saved." in text(page) and 'name="below_units" type="number" min="1" value="250"' in page
    assert 'name="enabled" checked' in page


@pytest.mark.parametrize("packs", ["0", "many", "101"])
def test_a_bad_number_of_packs_is_a_page_saying_so(signed_in: TestClient, packs: str) -> None:
    refused = signed_in.post(f"/web/dashboard/{API}/credits/checkout", data={"packs": packs}, headers=ORIGIN)
    assert refused.status_code == 422 and "Packs: " in text(refused.text)
