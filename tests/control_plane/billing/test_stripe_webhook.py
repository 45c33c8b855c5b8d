"""POST /stripe/webhook: only Stripe's signed, fresh events count, each once; what each one changes."""

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import PK, SK, Store, consumer_pk, creator_pk
from api_direct.control_plane.billing.earnings import paid_entry
from tests.control_plane.billing.stripe_settings import WEBHOOK_SECRET
from tests.control_plane.billing.usage import API, CAROL, marketplace
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import ALICE, EventLog, control_plane_events
from api_direct.local.stripe_server import StripeFake, event_payload, sign_webhook

STRIPE_SUB = "sub_test_carol"


@pytest.fixture
def subscribed(billed_api: TestClient, mint: Mint, store: Store) -> EventLog:
    """Carol on weather-api's free plan, her subscription marked as billed by ``STRIPE_SUB``; the bus's events."""
    marketplace(billed_api, mint, plan="free")
    store.table.update_item(
        Key={PK: consumer_pk(CAROL), SK: f"SUB#{API}"},
        UpdateExpression="SET stripe_subscription = :s",
        ExpressionAttributeValues={":s": STRIPE_SUB},
    )
    return control_plane_events()


def invoice(
    amount_paid: int = 990, invoice_id: str = "in_1", subscription: str = STRIPE_SUB, **metadata: str
) -> dict[str, Any]:
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": "cus_carol",
        "currency": "usd",
        "status": "paid",
        "amount_due": amount_paid,
        "amount_paid": amount_paid,
        "total": amount_paid,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": subscription,
                "metadata": {"apid_consumer": CAROL, "apid_api": API, "apid_plan": "pro", **metadata},
            },
        },
    }


def deliver(
    api: TestClient,
    payload: bytes,
    *,
    secret: str = WEBHOOK_SECRET,
    signed_at: int | None = None,
    signature: str | None = None,
) -> Any:
    header = signature if signature is not None else sign_webhook(payload, secret, signed_at)
    return api.post(
        "/stripe/webhook", content=payload, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )


def key_events(log: EventLog) -> list[str]:
    return [event["detail-type"] for event in log.read() if event["detail-type"].startswith("Key")]


def subscription(store: Store) -> dict[str, Any]:
    return store.get(consumer_pk(CAROL), f"SUB#{API}")  # type: ignore[return-value]


def test_a_paid_invoice_credits_the_creator_once_even_when_redelivered(
    billed_api: TestClient, store: Store, subscribed: EventLog
) -> None:
    payload = event_payload("invoice.paid", invoice())
    first, again = deliver(billed_api, payload), deliver(billed_api, payload)
    assert (first.status_code, first.json()["outcome"]) == (200, "handled")
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    [month] = list(store.query(creator_pk(ALICE), "EARNINGS#"))
    assert (month["revenue"], month["invoices"], month["state"]) == (990, 1, "open")
    assert (paid_entry(store, "in_1") or {})["plan"] == "pro"  # from the subscription's metadata: margins per plan
    # The same invoice in another event (Stripe's own retry has the same id; this is belt and braces).
    assert deliver(billed_api, event_payload("invoice.paid", invoice())).json()["outcome"] == "no change"
    assert list(store.query(creator_pk(ALICE), "EARNINGS#"))[0]["revenue"] == 990


def test_a_paid_invoice_is_listed_for_its_consumer_alone_with_its_stripe_link_and_period(
    billed_api: TestClient, subscribed: EventLog, mint: Mint
) -> None:
    link = "https://invoice.stripe.com/i/acct_1/test_YWNjdA"
    paid = {**invoice(), "hosted_invoice_url": link, "period_start": 1793491200, "period_end": 1796083200}
    assert deliver(billed_api, event_payload("invoice.paid", paid)).json()["outcome"] == "handled"
    [listed] = billed_api.get("/invoices", headers=bearer(mint(CAROL, "consumers"))).json()
    assert {name: listed[name] for name in ("invoice_id", "amount", "currency", "status", "hosted_invoice_url")} == {
        "invoice_id": "in_1",
        "amount": 990,
        "currency": "usd",
        "status": "paid",
        "hosted_invoice_url": link,
    }
    assert (listed["period_start"], listed["period_end"]) == ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
    assert billed_api.get("/invoices", headers=bearer(mint("consumer-dave", "consumers"))).json() == []
    # The page shows the consumer's billing details: the creator's ledger has the invoice, not its link.
    [entry] = billed_api.get("/earnings", headers=bearer(mint(ALICE, "creators"))).json()["entries"]
    assert entry["invoice_id"] == "in_1" and "hosted_invoice_url" not in entry and "period_start" not in entry


def test_a_failed_payment_suspends_the_key_and_a_paid_invoice_restores_it(
    billed_api: TestClient, store: Store, subscribed: EventLog
) -> None:
    failed = deliver(billed_api, event_payload("invoice.payment_failed", {**invoice(0, "in_2"), "status": "open"}))
    assert failed.json()["outcome"] == "handled" and subscription(store)["billing_status"] == "suspended"
    assert key_events(subscribed) == ["KeySuspended"]
    again = deliver(billed_api, event_payload("invoice.payment_failed", {**invoice(0, "in_2"), "status": "open"}))
    assert again.json()["outcome"] == "no change" and key_events(subscribed) == ["KeySuspended"]
    assert deliver(billed_api, event_payload("invoice.paid", invoice(990, "in_2"))).json()["outcome"] == "handled"
    assert subscription(store)["billing_status"] == "ok" and key_events(subscribed) == ["KeySuspended", "KeyRestored"]


def test_a_failure_delivered_after_the_same_invoice_was_paid_changes_nothing(
    billed_api: TestClient, store: Store, subscribed: EventLog
) -> None:
    deliver(billed_api, event_payload("invoice.paid", invoice(990, "in_3")))
    late = deliver(billed_api, event_payload("invoice.payment_failed", invoice(0, "in_3")))
    assert late.json()["outcome"] == "no change" and subscription(store)["billing_status"] == "ok"


def test_a_suspended_consumer_cannot_rotate_or_change_plan(
    billed_api: TestClient, mint: Mint, subscribed: EventLog
) -> None:
    deliver(billed_api, event_payload("invoice.payment_failed", invoice(0, "in_4")))
    carol = {"Authorization": f"Bearer {mint(CAROL, 'consumers')}"}
    for response in (
        billed_api.post(f"/subscriptions/{API}/rotate", headers=carol),
        billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "pro"}, headers=carol),
    ):
        assert response.status_code == 402 and "suspended because a payment failed" in response.json()["detail"]


def test_stripe_ending_the_subscription_revokes_the_key(
    billed_api: TestClient, store: Store, subscribed: EventLog
) -> None:
    ended = {
        "id": STRIPE_SUB,
        "object": "subscription",
        "status": "canceled",
        "metadata": {"apid_consumer": CAROL, "apid_api": API, "apid_plan": "free"},
    }
    assert deliver(billed_api, event_payload("customer.subscription.deleted", ended)).json()["outcome"] == "handled"
    assert subscription(store)["status"] == "cancelled" and key_events(subscribed) == ["KeyRevoked"]
    other = {**ended, "id": "sub_someone_elses"}
    assert deliver(billed_api, event_payload("customer.subscription.deleted", other)).json()["outcome"] == "no change"


def test_an_unknown_event_type_is_acknowledged_and_ignored(
    billed_api: TestClient, store: Store, subscribed: EventLog
) -> None:
    response = deliver(billed_api, event_payload("customer.created", {"id": "cus_x", "object": "customer"}))
    assert (response.status_code, response.json()["outcome"]) == (200, "ignored")
    assert key_events(subscribed) == []


def test_an_invoice_of_something_else_the_account_sells_changes_nothing(
    billed_api: TestClient, store: Store, subscribed: EventLog
) -> None:
    foreign = invoice()
    foreign["parent"]["subscription_details"]["metadata"] = {}
    assert deliver(billed_api, event_payload("invoice.paid", foreign)).json()["outcome"] == "no change"
    assert list(store.query(creator_pk(ALICE), "EARNINGS#")) == []


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("wrong secret", lambda p: {"secret": "whsec_not_the_endpoints"}),
        ("stale timestamp", lambda p: {"signed_at": int(time.time()) - 301}),
        ("no signature", lambda p: {"signature": ""}),
        ("tampered", lambda p: {"signature": sign_webhook(p.replace(b"990", b"999"), WEBHOOK_SECRET)}),
    ],
)
def test_an_event_that_does_not_verify_is_a_400_and_changes_nothing(
    billed_api: TestClient, store: Store, subscribed: EventLog, case: str, make: Any
) -> None:
    payload = event_payload("invoice.payment_failed", invoice(990, "in_5"))
    response = deliver(billed_api, payload, **make(payload))
    assert response.status_code == 400, case
    assert response.headers["content-type"] == "application/problem+json"
    assert "Stripe-Signature does not verify" in response.json()["detail"] and "\n" not in response.json()["detail"]
    assert subscription(store)["billing_status"] == "ok" and key_events(subscribed) == []


def test_a_body_that_is_not_json_is_a_400(billed_api: TestClient, subscribed: EventLog) -> None:
    response = deliver(billed_api, b"not json")
    assert response.status_code == 400


def test_without_billing_the_webhook_does_not_exist(api: TestClient) -> None:
    payload = json.dumps({"id": "evt_1", "type": "invoice.paid"}).encode()
    assert deliver(api, payload).status_code == 404


def test_a_card_declined_at_renewal_suspends_the_key_until_the_invoice_is_paid(
    billed_api: TestClient, mint: Mint, store: Store, stripe_fake: StripeFake
) -> None:
    """Stripe's own invoices and events (the fake's), relayed to the webhook signed with our secret."""
    marketplace(billed_api, mint, plan="pro")
    log = control_plane_events()
    [customer] = stripe_fake.customers()
    stripe_fake.decline_cards(customer["id"])
    [unpaid] = stripe_fake.close_billing_period()
    assert unpaid["status"] == "open"

    def relay() -> list[str]:
        outcomes = []
        for event in stripe_fake.events():
            payload = json.dumps(event).encode()
            outcomes.append(deliver(billed_api, payload).json()["outcome"])
        return outcomes

    assert relay() == ["handled"]
    assert subscription(store)["billing_status"] == "suspended" and key_events(log) == ["KeySuspended"]
    stripe_fake.accept_cards(customer["id"])
    stripe_fake.pay_invoice(unpaid["id"])
    assert relay() == ["duplicate", "handled"]
    assert subscription(store)["billing_status"] == "ok" and key_events(log) == ["KeySuspended", "KeyRestored"]
    [month] = list(store.query(creator_pk(ALICE), "EARNINGS#"))
    assert month["revenue"] == unpaid["amount_due"] == 990  # pro's monthly fee; no calls were made
