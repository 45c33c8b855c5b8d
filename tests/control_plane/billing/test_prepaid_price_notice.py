"""A prepaid pack's price change with notice: a subscriber buys packs at the old price until the change reaches
them, while a new subscriber pays the new one at once."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from api_direct.control_plane.api.listing_changes import parse_time
from api_direct.control_plane.api.store import Store, consumer_pk
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.stripe_server import StripeFake
from tests.control_plane.billing.prepaid_market import PACK_CENTS, PREPAID, checkout, prepaid_marketplace
from tests.control_plane.billing.usage import API
from tests.control_plane.lifecycle.sweeps import Outbox, sweep
from tests.control_plane.marketplace import ALICE, CAROL, Headers, listing_body, published
from tests.control_plane.tokens import Mint, bearer


def amount_charged(fake: StripeFake, session_id: str) -> int:
    [made] = [session for session in fake.checkout_sessions() if session["id"] == session_id]
    return int(made["amount_total"])


def test_a_subscriber_buys_packs_at_the_old_price_until_the_change_reaches_them(
    billed_api: TestClient,
    mint: Mint,
    billing: SubscriptionBilling,
    carol: Headers,
    dave: Headers,
    store: Store,
    stripe_fake: StripeFake,
) -> None:
    prepaid_marketplace(billed_api, mint)
    dearer = {**PREPAID, "prepaid": {**PREPAID["prepaid"], "price": "10.00"}}  # type: ignore[dict-item]
    published(billed_api, bearer(mint(ALICE, "creators")), plans=[*listing_body()["plans"], dearer])
    assert sweep(billed_api.app, Outbox(), datetime.now(UTC)).repriced == 1  # type: ignore[arg-type]
    assert billed_api.post("/subscriptions", json={"api_id": API, "plan": "credits"}, headers=dave).status_code == 201

    carols, daves = checkout(billed_api, carol, packs=2), checkout(billed_api, dave, packs=2)
    assert (carols["amount"], amount_charged(stripe_fake, carols["session_id"])) == ("16.00", 2 * PACK_CENTS)
    assert (daves["amount"], amount_charged(stripe_fake, daves["session_id"])) == ("20.00", 2000)
    assert billed_api.get(f"/subscriptions/{API}/credits", headers=carol).json()["pack"]["price"] == "8.00"

    pending = store.get(consumer_pk(CAROL), f"SUB#{API}")["price_change"]  # type: ignore[index]
    assert sweep(billed_api.app, Outbox(), parse_time(pending["effective_at"])).moved == 1  # type: ignore[arg-type]
    after = checkout(billed_api, carol)
    assert (after["amount"], amount_charged(stripe_fake, after["session_id"])) == ("10.00", 1000)
