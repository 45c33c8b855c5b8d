"""Prepaid credit end to end in one process: the control plane on moto, Stripe as the local fake.

Subscribing caps the key at once (nothing bought yet); a Checkout purchase is granted
once whichever way Stripe's news arrives and lets the key go; usage debits the
balance exactly once and caps the key at zero; auto-reload charges the saved card
once per grant, and a decline turns it off; grants expire oldest first.
"""

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import PK, SK, Store, consumer_pk
from api_direct.control_plane.billing import credits, prepaid
from api_direct.control_plane.billing.alerting import Alerter
from api_direct.control_plane.billing.earnings import ledger
from api_direct.control_plane.billing.handlers import run_credits
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.stripe_server import StripeFake
from tests.control_plane.billing.prepaid_market import (
    CREDITS,
    NOW,
    PACK_CALLS,
    PACK_CENTS,
    bought,
    checkout,
    credits_of,
    deliver,
    of_type,
    pay,
    prepaid_marketplace,
    use,
)
from tests.control_plane.billing.usage import API
from tests.control_plane.marketplace import ALICE, CAROL, EventLog, Headers
from tests.control_plane.tokens import Mint, bearer


class AlertQueue:
    """The alert queue as the closer and the aggregator see it: the bodies sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_message(self, *, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0) -> None:  # noqa: N803
        self.sent.append(MessageBody)


@pytest.fixture
def carol(mint: Mint) -> Headers:
    return bearer(mint(CAROL, "consumers"))


@pytest.fixture
def market(billed_api: TestClient, mint: Mint, billing: SubscriptionBilling) -> tuple[str, EventLog]:
    """Carol subscribed to weather-api's prepaid plan: her key id and the API's key bus."""
    return prepaid_marketplace(billed_api, mint)


@pytest.fixture
def alerts(store: Store) -> tuple[Alerter, AlertQueue]:
    queue = AlertQueue()
    return Alerter(store, queue, "alerts", "usd"), queue


def caps(keys: EventLog) -> list[tuple[str, str | None]]:
    """The cap events the API's account got, in order: (detail-type, reason)."""
    return [
        (event["detail-type"], event["detail"].get("reason"))
        for event in keys.read()
        if event["detail-type"] in ("KeyCapped", "KeyUncapped")
    ]


def test_a_prepaid_subscription_has_no_stripe_subscription_and_answers_402_until_credit_is_bought(
    billed_api: TestClient, market: tuple[str, EventLog], carol: Headers, store: Store, stripe_fake: StripeFake
) -> None:
    _, keys = market
    assert stripe_fake._all("subscription") == []
    assert "stripe_subscription" not in store.get(consumer_pk(CAROL), f"SUB#{API}")  # type: ignore[operator]
    assert caps(keys) == [("KeyCapped", "credit")]
    shown = credits_of(billed_api, carol)
    assert (shown["remaining"], shown["capped"], shown["grants"], shown["pack"]["calls"]) == (0, True, [], PACK_CALLS)


def test_checkout_sells_the_packs_and_saves_the_card(
    billed_api: TestClient, market: tuple[str, EventLog], carol: Headers, stripe_fake: StripeFake
) -> None:
    session = checkout(billed_api, carol, packs=3)
    assert (session["units"], session["amount"], session["url"]) == (
        3 * PACK_CALLS,
        "24.00",
        f"{stripe_fake.base_url}/c/pay/{session['session_id']}",
    )
    [made] = [s for s in stripe_fake.checkout_sessions() if s["id"] == session["session_id"]]
    assert (made["mode"], made["amount_total"], made["metadata"]["apid_purpose"]) == (
        "payment",
        3 * PACK_CENTS,
        "credits",
    )
    assert made["success_url"].startswith("http://testserver/web/dashboard?credits=")
    events = pay(stripe_fake, session["session_id"])
    intent = of_type(events, "payment_intent.succeeded")["data"]["object"]
    assert intent["setup_future_usage"] == "off_session" and intent["metadata"]["apid_packs"] == "3"


def test_a_purchase_is_granted_once_however_stripe_tells_and_lets_the_key_go(
    billed_api: TestClient, market: tuple[str, EventLog], carol: Headers, stripe_fake: StripeFake, store: Store
) -> None:
    _, keys = market
    session = checkout(billed_api, carol, packs=2)
    events = pay(stripe_fake, session["session_id"])
    # The browser comes back before the webhook: granted then; the webhook, the intent's event and a redelivery
    # find it granted.
    returned = credits_of(billed_api, carol, session_id=session["session_id"])
    assert (returned["checkout"], returned["remaining"], returned["capped"]) == ("paid", 2 * PACK_CALLS, False)
    completed = of_type(events, "checkout.session.completed")
    assert deliver(billed_api, completed).json()["outcome"] == "no change"
    assert deliver(billed_api, of_type(events, "payment_intent.succeeded")).json()["outcome"] == "no change"
    assert deliver(billed_api, completed).json()["outcome"] == "duplicate"
    assert credits_of(billed_api, carol, session_id=session["session_id"])["granted"] == 2 * PACK_CALLS
    assert caps(keys) == [("KeyCapped", "credit"), ("KeyUncapped", "credit")]
    [entry] = ledger(store, ALICE)
    intent = returned["grants"][0]
    assert (entry["amount"], intent["amount"], intent["source"]) == (2 * PACK_CENTS, 2 * PACK_CENTS, "checkout")
    assert entry["plan"] == "credits"  # the pack's plan: margins per plan
    assert entry["stripe_fee"] == round(2 * PACK_CENTS * 0.029) + 30, "Stripe's fee on the charge, from its balance"


def test_another_consumers_session_or_an_unpaid_one_grants_nothing(
    billed_api: TestClient, market: tuple[str, EventLog], carol: Headers, mint: Mint
) -> None:
    session = checkout(billed_api, carol)
    assert credits_of(billed_api, carol, session_id=session["session_id"])["checkout"] == "open"
    dave = bearer(mint("consumer-dave", "consumers"))
    assert billed_api.get(CREDITS, params={"session_id": session["session_id"]}, headers=dave).status_code == 404


def test_usage_debits_exactly_once_and_the_key_is_capped_at_zero_then_the_next_pack_pays_the_overdraft(
    billed_api: TestClient,
    market: tuple[str, EventLog],
    carol: Headers,
    stripe_fake: StripeFake,
    store: Store,
) -> None:
    key_id, keys = market
    bought(billed_api, carol, stripe_fake)
    use(store, key_id, 600, "a")
    use(store, key_id, 600, "a")  # the same record again: counted and debited once
    assert credits_of(billed_api, carol)["remaining"] == PACK_CALLS - 600
    use(store, key_id, 450, "b")  # made before the cap landed: an overdraft
    shown = credits_of(billed_api, carol)
    assert (shown["remaining"], shown["overdraft"], shown["used"], shown["capped"]) == (-50, 50, 1050, True)
    bought(billed_api, carol, stripe_fake)
    shown = credits_of(billed_api, carol)
    assert (shown["remaining"], shown["capped"]) == (PACK_CALLS - 50, False)
    assert caps(keys) == [
        ("KeyCapped", "credit"),
        ("KeyUncapped", "credit"),
        ("KeyCapped", "credit"),
        ("KeyUncapped", "credit"),
    ]


def test_auto_reload_needs_a_saved_card(billed_api: TestClient, market: tuple[str, EventLog], carol: Headers) -> None:
    response = billed_api.put(f"{CREDITS}/auto-reload", json={"enabled": True}, headers=carol)
    assert response.status_code == 409 and "buy a pack first" in response.json()["detail"]


def test_auto_reload_charges_the_saved_card_once_per_grant_even_when_triggered_twice_at_once(
    billed_api: TestClient,
    market: tuple[str, EventLog],
    carol: Headers,
    stripe_fake: StripeFake,
    store: Store,
    billing: SubscriptionBilling,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_id, keys = market
    bought(billed_api, carol, stripe_fake)
    settings = billed_api.put(f"{CREDITS}/auto-reload", json={"enabled": True, "below_units": 300}, headers=carol)
    assert settings.json()["auto_reload"] == {"enabled": True, "below_units": 300, "card_saved": True, "error": None}
    use(store, key_id, PACK_CALLS + 20, "a")  # past zero: with auto-reload on the key keeps working
    assert credits_of(billed_api, carol)["capped"] is False
    assert run_credits(store, billing, None, NOW) == {"packs_reloaded": 1, "units_expired": 0}
    assert credits_of(billed_api, carol)["remaining"] == PACK_CALLS - 20
    use(store, key_id, 700, "b")  # below the mark again: two triggers at once buy one pack
    subscription = store.get(consumer_pk(CAROL), f"SUB#{API}")
    assert subscription is not None
    stale = credits.read_balance(store, CAROL, API)
    # The second trigger read the balance before the first one's grant landed, as a concurrent run would.
    monkeypatch.setattr(prepaid, "read_balance", lambda *_: stale)
    assert [prepaid.reload(store, billing.gateway, None, subscription, NOW) for _ in range(2)] == [True, False]
    monkeypatch.undo()
    reloads = [pi for pi in stripe_fake._all("payment_intent") if pi["metadata"].get("apid_source") == "reload"]
    assert [(pi["amount"], pi["status"]) for pi in reloads] == [(PACK_CENTS, "succeeded")] * 2
    assert credits_of(billed_api, carol)["remaining"] == 2 * PACK_CALLS - 720
    assert run_credits(store, billing, None, NOW)["packs_reloaded"] == 0, "above the mark: nothing more"
    assert caps(keys) == [("KeyCapped", "credit"), ("KeyUncapped", "credit")]


def test_a_declined_reload_turns_auto_reload_off_alerts_and_lets_the_key_run_down(
    billed_api: TestClient,
    market: tuple[str, EventLog],
    carol: Headers,
    stripe_fake: StripeFake,
    store: Store,
    billing: SubscriptionBilling,
    alerts: tuple[Alerter, AlertQueue],
) -> None:
    key_id, keys = market
    alerter, queue = alerts
    bought(billed_api, carol, stripe_fake)
    billed_api.put(f"{CREDITS}/auto-reload", json={"enabled": True, "below_units": 300}, headers=carol)
    stripe_fake.decline_cards(billing.customer(CAROL))
    use(store, key_id, PACK_CALLS, "a", alerter)
    assert run_credits(store, billing, alerter, NOW)["packs_reloaded"] == 0
    shown = credits_of(billed_api, carol)
    assert (shown["auto_reload"]["enabled"], shown["capped"]) == (False, True)
    assert "declined" in shown["auto_reload"]["error"]
    assert ['"kind": "reload_failed"' in body for body in queue.sent] == [True]
    assert caps(keys)[-1] == ("KeyCapped", "credit")


def test_credit_running_low_without_auto_reload_alerts_once(
    billed_api: TestClient,
    market: tuple[str, EventLog],
    carol: Headers,
    stripe_fake: StripeFake,
    store: Store,
    alerts: tuple[Alerter, AlertQueue],
) -> None:
    key_id, _ = market
    alerter, queue = alerts
    bought(billed_api, carol, stripe_fake)
    use(store, key_id, 950, "a", alerter)
    use(store, key_id, 10, "b", alerter)
    assert ['"kind": "credit_low"' in body for body in queue.sent] == [True]


def test_grants_expire_oldest_first_and_only_their_unused_units(
    billed_api: TestClient,
    market: tuple[str, EventLog],
    carol: Headers,
    stripe_fake: StripeFake,
    store: Store,
) -> None:
    key_id, keys = market
    bought(billed_api, carol, stripe_fake)
    bought(billed_api, carol, stripe_fake)
    use(store, key_id, 1200, "a")  # all of the first pack, 200 of the second
    first, second = credits.grants_of(store, CAROL, API)
    assert (first.units, second.units) == (PACK_CALLS, PACK_CALLS)
    assert first.expires_at is not None and second.expires_at is not None
    assert prepaid.expire_due(store, datetime.fromisoformat(first.expires_at)) == 0, "the first was used up"
    assert prepaid.expire_due(store, datetime.fromisoformat(second.expires_at)) == 800
    shown = credits_of(billed_api, carol)
    assert (shown["remaining"], shown["expired"], [g["expired"] for g in shown["grants"]]) == (0, 800, [0, 800])
    assert shown["granted"] - shown["used"] - shown["expired"] == shown["remaining"]
    assert caps(keys)[-1] == ("KeyCapped", "credit")


def test_an_expiry_reads_again_when_a_debit_lands_under_it(
    billed_api: TestClient,
    market: tuple[str, EventLog],
    carol: Headers,
    stripe_fake: StripeFake,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bought(billed_api, carol, stripe_fake)
    [grant] = credits.grants_of(store, CAROL, API)
    reads = credits.read_balance

    def debited_meanwhile(store: Store, consumer: str, api_id: str) -> credits.Balance:
        balance = reads(store, consumer, api_id)
        if balance.used == 0:  # the aggregator debits 100 units between this read and the expiry's write
            store.table.meta.client.transact_write_items(
                TransactItems=[
                    {k: {"TableName": store.table.name, **v} for k, v in credits.debit_op(API, CAROL, 100).items()}
                ]
            )
        return balance

    monkeypatch.setattr(credits, "read_balance", debited_meanwhile)
    assert credits.expire_grant(store, CAROL, API, grant.sk) == PACK_CALLS - 100
    assert credits.expire_grant(store, CAROL, API, grant.sk) is None, "expired once"


def test_moving_off_the_prepaid_plan_lets_a_capped_key_go(
    billed_api: TestClient, market: tuple[str, EventLog], carol: Headers
) -> None:
    _, keys = market
    response = billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "free"}, headers=carol)
    assert response.status_code == 200, response.text
    assert caps(keys) == [("KeyCapped", "credit"), ("KeyUncapped", "credit")]
    assert billed_api.get(CREDITS, headers=carol).status_code == 409


def test_the_balance_item_is_the_consumers_and_outlives_a_cancellation(
    billed_api: TestClient, market: tuple[str, EventLog], carol: Headers, stripe_fake: StripeFake, store: Store
) -> None:
    bought(billed_api, carol, stripe_fake)
    assert billed_api.delete(f"/subscriptions/{API}", headers=carol).status_code == 204
    key = credits.balance_key(CAROL, API)
    assert store.get(key[PK], key[SK])["remaining"] == PACK_CALLS  # type: ignore[index]


@pytest.mark.parametrize(
    ("method", "path"), [("POST", f"/subscriptions/{API}/keys"), ("POST", f"/subscriptions/{API}/rotate")]
)
def test_a_new_or_rotated_key_is_held_as_the_subscriptions_keys_are(
    billed_api: TestClient, market: tuple[str, EventLog], carol: Headers, method: str, path: str
) -> None:
    """A key added or rotated in while the credit is used up answers 402 too: no way around buying."""
    _, keys = market
    response = billed_api.request(method, path, json={"name": "ci"} if path.endswith("keys") else None, headers=carol)
    assert response.status_code in (200, 201), response.text
    assert caps(keys) == [("KeyCapped", "credit"), ("KeyCapped", "credit")]


def test_a_pack_resized_after_checkout_grants_what_was_paid_for(
    billed_api: TestClient, market: tuple[str, EventLog], carol: Headers, stripe_fake: StripeFake, store: Store
) -> None:
    session = checkout(billed_api, carol)
    store.table.update_item(
        Key={PK: f"API#{API}", SK: "PLAN#credits"},
        UpdateExpression="SET prepaid.calls = :calls",
        ExpressionAttributeValues={":calls": 5 * PACK_CALLS},
    )
    pay(stripe_fake, session["session_id"])
    assert credits_of(billed_api, carol, session_id=session["session_id"])["granted"] == PACK_CALLS
