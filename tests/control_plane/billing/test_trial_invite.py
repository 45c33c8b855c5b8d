"""A private plan with a free trial, subscribed from the API page its invite link opens: the invite rides through
Stripe Checkout to the subscribe on the way back."""

from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store, consumer_pk
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.stripe_server import StripeFake
from tests.control_plane.marketplace import ALICE, CAROL, creator_key_bus, link_account, listing_body, published
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.web.pages import ORIGIN, as_user, text

PAGE = "/web/apis/weather-api"


def test_an_invited_consumer_starts_a_private_plans_trial_from_the_api_page(
    billed_api: TestClient, mint: Mint, billing: SubscriptionBilling, stripe_fake: StripeFake, store: Store
) -> None:
    free, pro = listing_body()["plans"]
    alice = bearer(mint(ALICE, "creators"))
    link_account(ALICE)
    published(billed_api, alice, plans=[free, {**pro, "name": "vip", "private": True, "trial_days": 14}])
    creator_key_bus()
    invite = billed_api.post("/listings/weather-api/invites", json={"plan": "vip", "max_uses": 1}, headers=alice)
    token = invite.json()["token"]
    signed_in = as_user(billed_api, mint(CAROL, "consumers"))
    assert f'name="invite" value="{token}"' in signed_in.get(PAGE, params={"invite": token}).text

    to_stripe = signed_in.post(
        f"{PAGE}/checkout", data={"plan": "vip", "invite": token}, headers=ORIGIN, follow_redirects=False
    )
    assert to_stripe.status_code == 303, text(to_stripe.text)
    [session] = stripe_fake.checkout_sessions()
    stripe_fake.complete_checkout(session["id"])
    back = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]).removeprefix("http://testserver")
    shown = signed_in.get(back)

    assert shown.status_code == 201, text(shown.text)
    subscription = store.get(consumer_pk(CAROL), "SUB#weather-api")
    assert subscription is not None and (subscription["plan"], subscription["status"]) == ("vip", "active")
    assert subscription.get("trial_end")
