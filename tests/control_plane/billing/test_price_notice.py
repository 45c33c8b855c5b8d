"""A price change with notice: subscribers told at once, Stripe moved at their period boundary, exactly once."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.listing_changes import parse_time
from api_direct.control_plane.api.store import Store, consumer_pk
from api_direct.control_plane.billing.listing_schedule import add_months, effective_at
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.stripe_server import StripeFake
from tests.control_plane.lifecycle.sweeps import Outbox, sweep
from tests.control_plane.marketplace import ALICE, listing_body, creator_key_bus, link_account, published
from tests.control_plane.tokens import Mint, bearer

Headers = dict[str, str]


def plans(**pro: Any) -> list[dict[str, Any]]:
    free, paid = listing_body()["plans"]
    return [free, {**paid, **pro}]


@pytest.fixture
def alice(billed_api: TestClient, mint: Mint, billing: SubscriptionBilling, monkeypatch: pytest.MonkeyPatch) -> Headers:
    monkeypatch.setattr(billing.gateway, "sleep", lambda _seconds: None)
    link_account(ALICE)
    creator_key_bus()
    headers = bearer(mint(ALICE, "creators"))
    published(billed_api, headers, plans=plans())
    return headers


def stripe_prices(fake: StripeFake) -> list[list[int | None]]:
    return [[item["price"]["unit_amount"] for item in s["items"]["data"]] for s in fake._all("subscription")]


def test_subscribers_keep_the_old_price_until_their_period_after_the_notice(
    billed_api: TestClient, alice: Headers, carol: Headers, dave: Headers, store: Store, stripe_fake: StripeFake
) -> None:
    response = billed_api.post("/subscriptions", json={"api_id": "weather-api", "plan": "pro"}, headers=carol)
    assert response.status_code == 201, response.text
    published(billed_api, alice, plans=plans(monthly_fee="12.00"), note="Costs went up")
    [version] = billed_api.get("/listings/weather-api/changelog").json()["items"][:1]
    [change] = version["changes"]
    assert change["type"] == "price_changed" and change["effective_from"] is not None
    assert "current subscribers from their first billing period starting on or after" in change["text"]

    outbox = Outbox()
    changed_at = parse_time(store.get(consumer_pk("consumer-carol"), "SUB#weather-api")["created_at"])  # type: ignore[index]
    assert sweep(billed_api.app, outbox, changed_at + timedelta(days=1)).repriced == 1  # type: ignore[arg-type]
    [notice] = outbox.notices()
    assert notice["type"] == "plan.price_changing"
    assert (notice["details"]["old"]["monthly_fee"], notice["details"]["new"]["monthly_fee"]) == ("9.90", "12.00")
    subscription = store.get(consumer_pk("consumer-carol"), "SUB#weather-api")
    assert subscription is not None
    when = parse_time(subscription["price_change"]["effective_at"])
    assert when == add_months(changed_at, 2) or when == add_months(changed_at, 1)
    assert when - changed_at >= timedelta(days=30)

    # A new subscriber pays the new price at once; Carol's Stripe subscription is still on the old one.
    assert (
        billed_api.post("/subscriptions", json={"api_id": "weather-api", "plan": "pro"}, headers=dave).status_code
        == 201
    )
    assert sorted(stripe_prices(stripe_fake)) == [[990, None], [1200, None]]

    assert sweep(billed_api.app, outbox, when - timedelta(minutes=1)).moved == 0  # type: ignore[arg-type]
    assert sweep(billed_api.app, outbox, when).moved == 1  # type: ignore[arg-type]
    assert stripe_prices(stripe_fake) == [[1200, None], [1200, None]]
    assert "price_change" not in (store.get(consumer_pk("consumer-carol"), "SUB#weather-api") or {})
    assert sweep(billed_api.app, outbox, when + timedelta(days=1)).moved == 0  # type: ignore[arg-type]
    assert len(outbox.sent) == 1


def test_the_first_period_at_least_the_notice_away() -> None:
    start = parse_time("2027-01-31T10:00:00.000000Z")
    notice = parse_time("2027-03-15T00:00:00.000000Z")
    assert effective_at({"created_at": "2027-01-31T10:00:00.000000Z"}, notice, prepaid=False) == parse_time(
        "2027-03-31T10:00:00.000000Z"
    )
    assert add_months(start, 1) == parse_time("2027-02-28T10:00:00.000000Z")
    assert effective_at({"created_at": "2027-01-31T10:00:00.000000Z"}, notice, prepaid=True) == notice
    on_trial = {"created_at": "2027-01-31T10:00:00.000000Z", "trial_end": "2027-03-20T08:00:00.000000Z"}
    assert effective_at(on_trial, notice, prepaid=False) == parse_time("2027-03-20T08:00:00.000000Z")
