"""The creator portal's Stripe Connect part, with billing on (the Stripe fake): onboarding from the page."""

import re

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store

from api_direct.control_plane.billing.stripe_gateway import ATTEMPTS, NETWORK_RETRIES
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.stripe_server import StripeFake
from tests.control_plane.billing.payments import charge_of, paid_pack, relay
from tests.control_plane.billing.usage import API
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


# --- what each plan pays, and refunds -----------------------------------------------------------------


def test_the_portal_shows_what_each_plan_really_pays_after_stripe_and_the_platform(
    portal: TestClient, mint: Mint
) -> None:
    alice = bearer(mint(ALICE, "creators"))
    plans = portal.get("/listings/weather-api", headers=alice).json()["plans"]
    pack = {"name": "credits", "rate_limit": 10, "burst": 20, "prepaid": {"calls": 10_000, "price": "8.00"}}
    published(portal, alice, plans=[*plans, pack])
    page = portal.get("/web/portal").text
    rows = [text(row) for row in re.findall(r'<tr data-plan="pro">.*?</tr>', page)]
    # 9.90 a month plus 0.0125 per 1,000 units: at 1,000 units 9.91, of which Stripe 0.59 + 0.07, the platform 1.98.
    assert rows[0] == "pro (a month) 1,000 9.91 USD 0.66 USD 1.98 USD 7.27 USD 7.27"
    assert [row.split()[3] for row in rows] == ["1,000", "10,000", "100,000", "1,000,000"]
    [free] = [text(row) for row in re.findall(r'<tr data-plan="free">.*?</tr>', page)]
    assert free == "free free: nothing charged, nothing received"
    [credits] = [text(row) for row in re.findall(r'<tr data-plan="credits">.*?</tr>', page)]
    # A pack is a Checkout payment: Stripe's card fee alone.
    assert credits == "credits (per pack) 10,000 8.00 USD 0.53 USD 1.60 USD 5.87 USD 0.587"
    assert "2.9 % + 30 cents a card charge, 0.7 % of subscription invoices (Stripe Billing)" in text(page)


def test_a_month_s_disputes_and_their_fees_show_beside_its_refunds(
    portal: TestClient, stripe_fake: StripeFake, store: Store
) -> None:
    pack = paid_pack(stripe_fake, store).id
    stripe_fake.open_dispute(str(charge_of(stripe_fake, pack).id), amount=300)
    relay(portal, stripe_fake)
    [refunds] = re.findall(r'<td class="num refunds">.*?</td>', portal.get("/web/portal").text)
    assert text(refunds) == "0.00 USD (disputes 3.00 USD, fees 15.00 USD)"


def test_a_payment_is_refunded_from_the_portal_in_part_then_in_full(
    portal: TestClient, stripe_fake: StripeFake, store: Store
) -> None:
    pack = paid_pack(stripe_fake, store).id
    row = re.compile(rf'<tr data-payment="{pack}">.*?</tr>')
    assert 'action="/web/portal/refunds"' in row.findall(portal.get("/web/portal").text)[0]
    done = portal.post(
        "/web/portal/refunds", data={"invoice_id": pack, "amount": "3.00"}, headers=ORIGIN, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/web/portal?refunded=re_")
    page = portal.get(done.headers["location"]).text
    assert "Refund re_" in text(page) and "comes off this month's payout" in text(page)
    assert text(row.findall(page)[0]).startswith(f"{pack} {API} ")
    assert "3.00 USD Amount Refund" in text(row.findall(page)[0])
    portal.post("/web/portal/refunds", data={"invoice_id": pack, "amount": ""}, headers=ORIGIN)
    assert text(row.findall(portal.get("/web/portal").text)[0]).endswith("8.00 USD refunded in full")
    assert stripe_fake.charges()[0]["amount_refunded"] == 800


@pytest.mark.parametrize(
    ("fields", "status", "detail"),
    [
        ({"amount": "abc"}, 422, "The amount must be positive with at most two decimals, such as 5.00, not 'abc'"),
        ({"amount": "9.00"}, 409, "At most 8.00 USD of {pack} is left to refund, not 9.00 USD"),
        ({"invoice_id": "in_someone_elses"}, 404, "No paid invoice or payment in_someone_elses in your ledger"),
    ],
)
def test_a_refused_refund_from_the_portal_says_why_in_one_sentence(
    portal: TestClient, stripe_fake: StripeFake, store: Store, fields: dict[str, str], status: int, detail: str
) -> None:
    pack = paid_pack(stripe_fake, store).id
    refused = portal.post("/web/portal/refunds", data={"invoice_id": pack, **fields}, headers=ORIGIN)
    assert refused.status_code == status
    assert detail.format(pack=pack) in text(refused.text)
    assert stripe_fake.charges()[0]["amount_refunded"] == 0
