"""The Stripe fake's hosted Checkout page in headless Chromium, driven as a consumer's browser test will drive it.

Other tests post the form with a plain HTTP client; this one proves the page works
in a browser: every control named for a screen reader, the card field found by its
label, a decline shown in place, and a card that pays landing on ``success_url``.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from api_direct.local.stripe_server import StripeFake
from tests.e2e.browser import chromium, screenshot, unlabelled_controls
from tests.stripe_fake import client_for, one_time_price


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_a_consumer_is_declined_then_pays_and_lands_on_the_success_url(fake: StripeFake, browser: Browser) -> None:
    client = client_for(fake)
    customer = client.v1.customers.create({"email": "buyer@example.com"})
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "customer": customer.id,
            # The fake answers any other path itself, so the browser has somewhere to land.
            "success_url": f"{fake.base_url}/bought?session={{CHECKOUT_SESSION_ID}}",
            "line_items": [{"price": one_time_price(client, 800).id}],
        }
    )
    assert session.url is not None
    page = browser.new_page()

    page.goto(session.url)
    assert unlabelled_controls(page) == []
    expect(page.locator("#amount")).to_contain_text("$8.00")
    page.get_by_label("Card number").fill("4000 0000 0000 0002")
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    screenshot(page, "stripe-checkout-declined")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay").click()

    page.wait_for_url(re.compile(re.escape(f"{fake.base_url}/bought?session={session.id}")))
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"
