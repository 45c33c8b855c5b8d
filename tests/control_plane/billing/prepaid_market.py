"""A marketplace with a prepaid plan, and buying its packs through the Stripe fake's Checkout, for the credit tests."""

import json
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.alerting import Alerter
from api_direct.control_plane.billing.handlers import UsageBatch, process_usage, settle_credits
from api_direct.local.stripe_server import StripeFake, sign_webhook
from tests.control_plane.billing.stripe_settings import WEBHOOK_SECRET
from tests.control_plane.billing.usage import API, sqs_event, usage_event
from tests.control_plane.marketplace import (
    ALICE,
    CAROL,
    EventLog,
    creator_key_bus,
    link_account,
    listing_body,
    published,
)
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.typed_client import InProcessControlPlane

#: weather-api's prepaid plan: 1,000 calls for 8.00 USD, expiring 30 days after purchase.
PACK_CALLS, PACK_CENTS, EXPIRES_DAYS = 1000, 800, 30
PREPAID = {
    "name": "credits",
    "description": "pay as you go",
    "rate_limit": 10,
    "burst": 20,
    "prepaid": {"calls": PACK_CALLS, "price": "8.00", "expires_days": EXPIRES_DAYS},
}
CREDITS = f"/subscriptions/{API}/credits"
NOW = datetime.now(UTC)
HOUR = NOW.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:00:00Z")


def prepaid_marketplace(api: TestClient, mint: Mint) -> tuple[str, EventLog]:
    """weather-api listed with plans free, pro and credits; Carol subscribed to credits: her key id, and what
    reached the API's key bus from then on."""
    link_account(ALICE)
    published(api, bearer(mint(ALICE, "creators")), plans=[*listing_body()["plans"], PREPAID])
    keys = creator_key_bus()
    return InProcessControlPlane(api, mint(CAROL, "consumers")).subscribe(API, "credits")["key_id"], keys


def checkout(api: TestClient, headers: dict[str, str], packs: int = 1) -> dict[str, Any]:
    response = api.post(f"{CREDITS}/checkout", json={"packs": packs}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def pay(fake: StripeFake, session_id: str, card: str = "4242424242424242") -> list[dict[str, Any]]:
    """Pay on the session's page; the events Stripe emitted for it (its ``checkout.session.completed`` among them)."""
    before = len(fake.events())
    fake.complete_checkout(session_id, card)
    return fake.events()[before:]


def deliver(api: TestClient, event: dict[str, Any]) -> Any:
    """One Stripe event to the control plane's webhook, signed as Stripe signs it."""
    payload = json.dumps(event).encode()
    return api.post(
        "/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": sign_webhook(payload, WEBHOOK_SECRET), "Content-Type": "application/json"},
    )


def of_type(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [event for event in events if event["type"] == kind]
    return found


def credits_of(api: TestClient, headers: dict[str, str], **query: str) -> dict[str, Any]:
    response = api.get(CREDITS, params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def bought(api: TestClient, headers: dict[str, str], fake: StripeFake, packs: int = 1) -> list[dict[str, Any]]:
    """Packs bought and paid on Checkout's page, the webhook delivered: Stripe's events."""
    events = pay(fake, checkout(api, headers, packs)["session_id"])
    assert deliver(api, of_type(events, "checkout.session.completed")).json()["outcome"] == "handled"
    return events


def use(store: Store, key_id: str, calls: int, record: str, alerter: Alerter | None = None) -> None:
    """``calls`` billable calls counted by the aggregator, then its prepaid settling, as one batch."""
    batch = UsageBatch(store, None, None, NOW)
    event = usage_event(key_id, calls=calls, plan="credits", hour=HOUR, record=record)
    assert process_usage(sqs_event(event), batch) == {"batchItemFailures": []}
    settle_credits(batch, alerter)
