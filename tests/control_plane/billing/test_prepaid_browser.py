"""A consumer buys a credit pack in headless Chromium and watches the balance fall as calls are counted.

The billed control plane is served on loopback (moto for AWS, the Stripe fake for
Stripe); the browser (Debian's Chromium, driven by Playwright: :mod:`tests.e2e.browser`)
opens the dashboard, presses Buy, pays on the fake's hosted Checkout page with a test
card, comes back to the dashboard with the credit added, and sees it go down as the
aggregator counts the API's usage records.
"""

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.handlers import UsageBatch, process_usage, settle_credits
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.control_plane.web.web_session import COOKIE
from tests.control_plane.billing.prepaid_market import prepaid_marketplace
from tests.control_plane.billing.usage import sqs_event, usage_event
from tests.control_plane.marketplace import CAROL
from tests.control_plane.tokens import Mint
from tests.e2e.browser import chromium, screenshot, words

CALLS = (300, 250)


def test_buy_a_pack_on_checkout_and_watch_the_balance_fall(
    control_plane: str,
    billed_api: TestClient,
    billing: SubscriptionBilling,
    mint: Mint,
    store: Store,
) -> None:
    key_id, _ = prepaid_marketplace(billed_api, mint)
    host = control_plane.split("//", 1)[1].split(":")[0]
    with chromium() as browser:
        context = browser.new_context()
        context.add_cookies([{"name": COOKIE, "value": mint(CAROL, "consumers"), "domain": host, "path": "/web"}])
        page = context.new_page()
        page.goto(f"{control_plane}/web/dashboard")
        remaining = page.locator(".credit-remaining")
        expect(remaining).to_have_text("0")
        assert "calls answer 402 until you buy more" in words(page.inner_text("main"))

        page.get_by_role("button", name="Buy 1,000 calls for 8.00 USD").click()
        page.wait_for_url("**/c/pay/cs_*")
        screenshot(page, "prepaid-01-checkout")
        page.get_by_label("Card number").fill("4242 4242 4242 4242")
        page.get_by_label("Expiration date (MM / YY)").fill("12 / 34")
        page.get_by_label("Security code (CVC)").fill("123")
        page.get_by_role("button", name="Pay").click()

        page.wait_for_url("**/web/dashboard?credits=*")
        expect(page.get_by_text("Payment received: your credit is added.")).to_be_visible()
        expect(remaining).to_have_text("1,000")
        screenshot(page, "prepaid-02-bought")

        hour = datetime.now(UTC).strftime("%Y-%m-%dT%H:00:00Z")
        seen = []
        for number, calls in enumerate(CALLS):
            batch = UsageBatch(store, None, None, datetime.now(UTC))
            event = usage_event(key_id, calls=calls, plan="credits", hour=hour, record=f"browser-{number}")
            assert process_usage(sqs_event(event), batch) == {"batchItemFailures": []}
            settle_credits(batch, None)
            page.goto(f"{control_plane}/web/dashboard")
            seen.append(remaining.inner_text())
        screenshot(page, "prepaid-03-used")
        assert seen == ["700", "450"]
        assert "bought 1,000 · used 550" in words(page.inner_text(".credit"))
