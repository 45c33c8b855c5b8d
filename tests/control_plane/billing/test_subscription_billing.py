"""Subscriptions with billing on: the Stripe side made before the key, reused per plan, retried with one
idempotency key, given up when the key cannot be issued; plan changes and cancellations tell Stripe first.

The tests go through the control plane's HTTP routes (``billed_api``) against the Stripe fake (the
timeout one through a gateway with a short timeout), and check what Stripe holds, what the table holds
and what reached the bus.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient

from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.store import PK, SK, Store, api_pk, consumer_pk
from api_direct.control_plane.billing.handlers import UsageBatch, process_usage
from api_direct.control_plane.billing.periods import hour_text
from api_direct.control_plane.billing.reporting import close_and_report
from api_direct.control_plane.billing.stripe_gateway import ATTEMPTS, NETWORK_RETRIES, StripeGateway
from api_direct.control_plane.billing.subscription_billing import BILLING_SK, SubscriptionBilling
from api_direct.project import PricingPlan
from tests.control_plane.billing.usage import API, CAROL, sqs_event, usage_event
from tests.errors import one_line_problem
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import (
    DAVE,
    ALICE,
    EventLog,
    Headers,
    control_plane_events,
    creator_key_bus,
    link_account,
    listing_body,
    published,
)
from api_direct.local.stripe_server import SeenRequest, StripeFake

#: Every request a call makes when Stripe never answers: our attempts, each with the library's retries.
EVERY_ATTEMPT = ATTEMPTS * (1 + NETWORK_RETRIES)
SUBSCRIPTIONS = "/v1/subscriptions"


# --- set-up ---------------------------------------------------------------------------------------


def without_backoff(gateway: StripeGateway, monkeypatch: pytest.MonkeyPatch) -> StripeGateway:
    """No waiting between retries, ours or stripe-python's (which sleeps at least half a second)."""
    monkeypatch.setattr(gateway, "sleep", lambda _seconds: None)
    monkeypatch.setattr(gateway.client._requestor._client, "_sleep_time_seconds", lambda _retries: 0.0)
    return gateway


@pytest.fixture
def quick(billing: SubscriptionBilling, monkeypatch: pytest.MonkeyPatch) -> SubscriptionBilling:
    """The app's billing, retrying at once."""
    without_backoff(billing.gateway, monkeypatch)
    return billing


@pytest.fixture
def listed(billed_api: TestClient, mint: Mint, quick: SubscriptionBilling) -> EventLog:
    """weather-api published by Alice (free and pro); what reaches its account's key bus."""
    link_account(ALICE)
    published(billed_api, bearer(mint(ALICE, "creators")), plans=plans())
    return creator_key_bus()


@pytest.fixture
def events(listed: EventLog) -> EventLog:
    """Everything put on the control plane's bus from here on."""
    return control_plane_events()


def plans(**pro: Any) -> list[dict[str, Any]]:
    """The listing's free and pro plans (pro changed by ``pro``), and team, a second paid plan."""
    free, paid = listing_body()["plans"]
    team = {**paid, "name": "team", "monthly_fee": "49.00", "price_per_1000": "0.01"}
    return [free, {**paid, **pro}, team]


def subscribe(api: TestClient, who: Headers, plan: str = "pro") -> Any:
    return api.post("/subscriptions", json={"api_id": API, "plan": plan}, headers=who)


def subscribed(api: TestClient, who: Headers, plan: str = "pro") -> dict[str, Any]:
    response = subscribe(api, who, plan)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def sub_item(store: Store, consumer: str = CAROL) -> dict[str, Any] | None:
    return store.get(consumer_pk(consumer), f"SUB#{API}")


def plan_item(store: Store, plan: str = "pro") -> dict[str, Any]:
    found = store.get(api_pk(API), f"PLAN#{plan}")
    assert found is not None
    return found


def counters(store: Store, plan: str = "pro") -> tuple[int, int]:
    """Subscribers of the listing, and of one plan."""
    listing = store.get(api_pk(API), "LISTING")
    assert listing is not None
    return int(listing.get("subscribers", 0)), int(plan_item(store, plan).get("subscribers", 0))


def keys_of(store: Store, consumer: str = CAROL) -> list[dict[str, Any]]:
    return list(store.query(consumer_pk(consumer), "KEY#", index="gsi2"))


def stripe_subscriptions(fake: StripeFake) -> list[dict[str, Any]]:
    """Every subscription the fake holds, in its current state (the fake lists no subscriptions itself)."""
    return fake._all("subscription")


def requests_to(fake: StripeFake, path: str, method: str = "POST") -> list[SeenRequest]:
    return [request for request in fake.requests() if (request.method, request.path) == (method, path)]


def stripe_client(fake: StripeFake) -> stripe.StripeClient:
    return stripe.StripeClient(fake.api_key, base_addresses={"api": fake.base_url}, max_network_retries=0)


def warmed_up(billing: SubscriptionBilling, store: Store, consumer: str = CAROL) -> str:
    """Carol's Stripe customer and pro's prices made ahead, so subscribing makes exactly one Stripe call."""
    customer = billing.customer(consumer)
    billing.prices(API, plan_item(store))
    return customer


def nothing_issued(api: TestClient, store: Store, who: Headers, events: EventLog) -> None:
    assert sub_item(store) is None
    assert keys_of(store) == [] and api.get("/keys", headers=who).json() == []
    assert counters(store) == (0, 0)
    assert [kind for kind, _ in events.details()] == []


# --- free and paid plans ----------------------------------------------------------------------------


def test_subscribing_to_a_free_plan_makes_no_stripe_call(
    billed_api: TestClient, store: Store, carol: Headers, stripe_fake: StripeFake, events: EventLog
) -> None:
    issued = subscribed(billed_api, carol, "free")
    assert stripe_fake.requests() == [] and stripe_fake.customers() == []
    subscription = sub_item(store)
    assert subscription is not None and subscription["key_id"] == issued["key_id"]
    assert "stripe_subscription" not in subscription
    assert store.get(consumer_pk(CAROL), BILLING_SK) is None
    assert "stripe_meter" not in plan_item(store, "free")
    assert [kind for kind, _ in events.details()] == ["KeyIssued"]


def test_subscribing_to_pro_makes_a_customer_its_plan_prices_and_one_subscription(
    billed_api: TestClient, store: Store, carol: Headers, stripe_fake: StripeFake, events: EventLog
) -> None:
    issued = subscribed(billed_api, carol)
    [customer] = stripe_fake.customers()
    assert customer["metadata"] == {"apid_consumer": CAROL}
    assert store.get(consumer_pk(CAROL), BILLING_SK) == {
        PK: consumer_pk(CAROL),
        SK: BILLING_SK,
        "stripe_customer": customer["id"],
    }

    pro = plan_item(store)
    prices = pro["stripe_prices"]
    assert (pro["stripe_meter"], pro["stripe_event_name"]) == (prices["meter"], "apid.weather-api.pro")
    client = stripe_client(stripe_fake)
    meter = client.v1.billing.meters.list().data
    assert [(m.id, m.event_name, m.default_aggregation.formula) for m in meter] == [
        (pro["stripe_meter"], "apid.weather-api.pro", "sum")
    ]

    base = client.v1.prices.retrieve(prices["base_price"])
    assert (base.unit_amount, base.currency, base.billing_scheme) == (990, "usd", "per_unit")
    assert (base.recurring.interval, base.recurring.usage_type, base.product) == (
        "month",
        "licensed",
        prices["product"],
    )
    usage = client.v1.prices.retrieve(prices["usage_price"], {"expand": ["tiers"]})
    assert (usage.billing_scheme, usage.tiers_mode, usage.currency) == ("tiered", "graduated", "usd")
    assert (usage.recurring.usage_type, usage.recurring.meter, usage.product) == (
        "metered",
        pro["stripe_meter"],
        prices["product"],
    )
    assert [(tier.up_to, str(tier.unit_amount_decimal)) for tier in usage.tiers] == [(None, "0.00125")]

    [subscription] = stripe_subscriptions(stripe_fake)
    assert subscription["customer"] == customer["id"] and subscription["status"] == "active"
    assert subscription["metadata"] == {"apid_consumer": CAROL, "apid_api": API, "apid_plan": "pro"}
    assert [item["price"]["id"] for item in subscription["items"]["data"]] == [
        prices["base_price"],
        prices["usage_price"],
    ]
    stored = sub_item(store)
    assert stored is not None and stored["stripe_subscription"] == subscription["id"]
    assert stored["key_id"] == issued["key_id"] and stored["plan"] == "pro"
    assert counters(store) == (1, 1)
    assert [kind for kind, _ in events.details()] == ["KeyIssued"]


def test_the_key_is_written_only_once_stripe_has_the_subscription(
    billed_api: TestClient,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    listed: EventLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = billed_api.app.state.services  # type: ignore[attr-defined]
    real, seen_at_write = services.store.transact, []

    def transact(operations: Any, conflict: str) -> None:
        seen_at_write.append([(r.method, r.path, r.status) for r in stripe_fake.requests()])
        real(operations, conflict)

    monkeypatch.setattr(services.store, "transact", transact)
    subscribed(billed_api, carol)
    assert len(seen_at_write) == 1 and seen_at_write[0][-1] == ("POST", SUBSCRIPTIONS, 200)


def test_a_second_consumer_on_the_plan_reuses_its_product_meter_and_prices(
    billed_api: TestClient, mint: Mint, store: Store, carol: Headers, stripe_fake: StripeFake, listed: EventLog
) -> None:
    subscribed(billed_api, carol)
    before = len(stripe_fake.requests())
    subscribed(billed_api, bearer(mint(DAVE, "consumers")))
    assert [(r.method, r.path) for r in stripe_fake.requests()[before:]] == [
        ("POST", "/v1/customers"),
        ("POST", SUBSCRIPTIONS),
    ]
    assert len(stripe_client(stripe_fake).v1.billing.meters.list().data) == 1
    carols, daves = stripe_subscriptions(stripe_fake)
    assert carols["customer"] != daves["customer"]
    assert [i["price"]["id"] for i in carols["items"]["data"]] == [i["price"]["id"] for i in daves["items"]["data"]]
    assert daves["metadata"]["apid_consumer"] == DAVE and counters(store) == (2, 2)


def test_a_meter_made_again_after_stripe_forgot_its_key_is_the_one_stripe_has(
    store: Store, stripe_fake: StripeFake, quick: SubscriptionBilling, listed: EventLog
) -> None:
    """A crash after Stripe made the meter and before the table kept it, retried a day later: Stripe refuses a
    second meter of the event name, and the retry finds the first."""
    pro = PricingPlan.of(plan_item(store))
    first = quick.gateway.plan_prices(API, pro, None)
    stripe_fake.forget_idempotency_keys()
    again = quick.gateway.plan_prices(API, pro, None)
    assert (again.meter, again.event_name) == (first.meter, first.event_name)
    [meter] = stripe_client(stripe_fake).v1.billing.meters.list().data
    assert meter.id == first.meter
    assert [r.status for r in requests_to(stripe_fake, "/v1/billing/meters")] == [200, 400]


@pytest.mark.parametrize(
    ("price_per_1000", "free_calls", "tiers"),
    [
        ("0.0125", 0, [(None, "0.00125")]),
        # A whole number of cents per call is written out, never as 1E+1, which Stripe refuses.
        ("100", 0, [(None, "10")]),
        ("2.5", 1000, [(1000, "0"), (None, "0.25")]),
    ],
)
def test_the_usage_price_charges_the_plan_price_per_call_after_its_free_calls(
    billed_api: TestClient,
    mint: Mint,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    quick: Any,
    price_per_1000: str,
    free_calls: int,
    tiers: list[tuple[int | None, str]],
) -> None:
    link_account(ALICE)
    published(
        billed_api, bearer(mint(ALICE, "creators")), plans=plans(price_per_1000=price_per_1000, free_calls=free_calls)
    )
    creator_key_bus()
    subscribed(billed_api, carol)
    usage = stripe_client(stripe_fake).v1.prices.retrieve(
        plan_item(store)["stripe_prices"]["usage_price"], {"expand": ["tiers"]}
    )
    assert [(tier.up_to, str(tier.unit_amount_decimal)) for tier in usage.tiers] == tiers
    assert Decimal(tiers[-1][1]) * 1000 / 100 == Decimal(price_per_1000), "cents per call back to dollars per 1000"


# --- a declined card ----------------------------------------------------------------------------------


@pytest.mark.parametrize("decline", ["customer-cards-declined", "card-error-on-the-request"])
def test_a_declined_card_is_a_402_and_nothing_is_issued(
    billed_api: TestClient,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    quick: SubscriptionBilling,
    events: EventLog,
    decline: str,
) -> None:
    customer = warmed_up(quick, store)
    if decline == "customer-cards-declined":
        stripe_fake.decline_cards(customer)
    else:
        stripe_fake.fail_next(402, error_type="card_error")
    response = subscribe(billed_api, carol)
    one_line_problem(response, 402, "payment declined", "Your card was declined", "use another card")
    assert len(requests_to(stripe_fake, SUBSCRIPTIONS)) == 1, "a decline is an answer, never retried"
    assert stripe_subscriptions(stripe_fake) == []
    nothing_issued(billed_api, store, carol, events)


def test_after_a_decline_another_card_subscribes_under_a_new_idempotency_key(
    billed_api: TestClient,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    quick: SubscriptionBilling,
    events: EventLog,
) -> None:
    customer = warmed_up(quick, store)
    stripe_fake.decline_cards(customer)
    assert subscribe(billed_api, carol).status_code == 402
    stripe_fake.accept_cards(customer)
    issued = subscribed(billed_api, carol)
    declined, accepted = requests_to(stripe_fake, SUBSCRIPTIONS)
    assert (declined.status, accepted.status, accepted.replayed) == (402, 200, False)
    assert declined.idempotency_key != accepted.idempotency_key, "the stored decline is not replayed"
    [subscription] = stripe_subscriptions(stripe_fake)
    assert sub_item(store)["stripe_subscription"] == subscription["id"]  # type: ignore[index]
    assert [(kind, detail["key_id"]) for kind, detail in events.details()] == [("KeyIssued", issued["key_id"])]


# --- Stripe slow or down ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "count"),
    [
        (429, 2),  # stripe-python leaves a plain 429 to the gateway
        (500, 2),  # stripe-python retries these itself
        (500, 5),  # more than stripe-python's retries: the gateway tries again
    ],
)
def test_rate_limits_and_server_errors_are_retried_with_the_same_key(
    billed_api: TestClient,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    quick: SubscriptionBilling,
    events: EventLog,
    status: int,
    count: int,
) -> None:
    warmed_up(quick, store)
    stripe_fake.fail_next(status, count=count)
    issued = subscribed(billed_api, carol)
    sent = requests_to(stripe_fake, SUBSCRIPTIONS)
    assert [request.status for request in sent] == [status] * count + [200]
    [key] = {request.idempotency_key for request in sent}
    assert key is not None and key.startswith(f"apid-subscribe-{CAROL}-{API}-")
    [subscription] = stripe_subscriptions(stripe_fake)
    assert sub_item(store)["stripe_subscription"] == subscription["id"]  # type: ignore[index]
    assert [(kind, detail["key_id"]) for kind, detail in events.details()] == [("KeyIssued", issued["key_id"])]


def test_a_request_that_times_out_is_retried_with_its_key_and_makes_one_subscription(
    store: Store, stripe_fake: StripeFake, quick: SubscriptionBilling, listed: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    warmed_up(quick, store)
    impatient = without_backoff(
        StripeGateway(
            stripe.StripeClient(
                stripe_fake.api_key,
                base_addresses={"api": stripe_fake.base_url},
                max_network_retries=NETWORK_RETRIES,
                http_client=stripe.RequestsClient(timeout=0.25),
            ),
            "usd",
        ),
        monkeypatch,
    )
    stripe_fake.stall_next(0.75)
    made = SubscriptionBilling(store, impatient).start(CAROL, API, plan_item(store))
    # The stalled request still runs once its stall ends; Stripe replays what the retry made.
    deadline = time.monotonic() + 5
    while len(requests_to(stripe_fake, SUBSCRIPTIONS)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    sent = requests_to(stripe_fake, SUBSCRIPTIONS)
    assert len(sent) == 2 and len({request.idempotency_key for request in sent}) == 1
    assert sorted(request.replayed for request in sent) == [False, True]
    assert [subscription["id"] for subscription in stripe_subscriptions(stripe_fake)] == [made]


def test_stripe_down_through_every_retry_is_a_503_and_changes_nothing(
    billed_api: TestClient,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    quick: SubscriptionBilling,
    events: EventLog,
) -> None:
    stripe_fake.fail_next(500, count=EVERY_ATTEMPT)
    one_line_problem(subscribe(billed_api, carol), 503, "billing is unavailable right now", "nothing was changed")
    sent = stripe_fake.requests()
    assert [(r.path, r.status) for r in sent] == [("/v1/customers", 500)] * EVERY_ATTEMPT
    assert {r.idempotency_key for r in sent} == {f"apid-customer-{CAROL}"}
    assert stripe_fake.customers() == [] and store.get(consumer_pk(CAROL), BILLING_SK) is None
    nothing_issued(billed_api, store, carol, events)
    # Once Stripe is back, the same request goes through.
    subscribed(billed_api, carol)
    assert len(stripe_fake.customers()) == 1 and len(stripe_subscriptions(stripe_fake)) == 1


# --- a failure after Stripe ---------------------------------------------------------------------------


@pytest.fixture
def conflicting(billed_api: TestClient, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Make the table refuse the next change as a concurrent one would: its transaction (and its key events) fails."""
    store = billed_api.app.state.services.store

    def refuse_next() -> None:
        def transact(operations: Any, conflict: str) -> None:
            raise Problem(409, conflict)

        monkeypatch.setattr(store, "transact", transact)

    return refuse_next


def test_a_key_that_cannot_be_issued_gives_its_stripe_subscription_up(
    billed_api: TestClient, store: Store, carol: Headers, stripe_fake: StripeFake, events: EventLog, conflicting: Any
) -> None:
    conflicting()
    one_line_problem(subscribe(billed_api, carol), 409, "meanwhile")
    [subscription] = stripe_subscriptions(stripe_fake)
    assert subscription["status"] == "canceled" and subscription["ended_at"] is not None
    assert [r.status for r in requests_to(stripe_fake, f"{SUBSCRIPTIONS}/{subscription['id']}", "DELETE")] == [200]
    nothing_issued(billed_api, store, carol, events)


# --- plan changes and cancelling ----------------------------------------------------------------------


def test_moving_from_pro_to_free_ends_the_stripe_subscription_with_its_period(
    billed_api: TestClient, store: Store, carol: Headers, stripe_fake: StripeFake, events: EventLog
) -> None:
    issued = subscribed(billed_api, carol)
    response = billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "free"}, headers=carol)
    assert response.status_code == 200 and response.json()["plan"] == "free"
    [subscription] = stripe_subscriptions(stripe_fake)
    assert (subscription["status"], subscription["cancel_at_period_end"]) == ("active", True)
    assert subscription["cancel_at"] == subscription["items"]["data"][0]["current_period_end"]
    stored = sub_item(store)
    assert stored is not None and (stored["plan"], stored["stripe_subscription"]) == ("free", None)
    assert stored["key_id"] == issued["key_id"] and stored["status"] == "active"
    assert (counters(store, "pro"), counters(store, "free")) == ((1, 0), (1, 1))
    assert [(kind, detail.get("plan")) for kind, detail in events.details()] == [
        ("KeyIssued", "pro"),
        ("PlanChanged", "free"),
    ]


@pytest.mark.parametrize(("before", "after"), [("pro", "free"), ("free", "pro")])
def test_a_plan_change_that_cannot_be_written_takes_the_stripe_side_back(
    billed_api: TestClient,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    events: EventLog,
    conflicting: Any,
    before: str,
    after: str,
) -> None:
    subscribed(billed_api, carol, before)
    conflicting()
    response = billed_api.put(f"/subscriptions/{API}/plan", json={"plan": after}, headers=carol)
    one_line_problem(response, 409, "meanwhile")
    assert [kind for kind, _ in events.details()] == ["KeyIssued"], "no PlanChanged for a change not made"
    stored = sub_item(store)
    assert stored is not None and stored["plan"] == before
    live = [s for s in stripe_subscriptions(stripe_fake) if s["status"] == "active" and not s["cancel_at_period_end"]]
    # Billed exactly as the table says: pro keeps its running subscription, free has none.
    assert [s["id"] for s in live] == ([stored["stripe_subscription"]] if before == "pro" else [])


def test_moving_from_free_to_pro_starts_one_stripe_subscription(
    billed_api: TestClient, store: Store, carol: Headers, stripe_fake: StripeFake, events: EventLog
) -> None:
    subscribed(billed_api, carol, "free")
    response = billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "pro"}, headers=carol)
    assert response.status_code == 200 and response.json()["plan"] == "pro"
    [subscription] = stripe_subscriptions(stripe_fake)
    assert subscription["metadata"] == {"apid_consumer": CAROL, "apid_api": API, "apid_plan": "pro"}
    assert (subscription["status"], subscription["cancel_at_period_end"]) == ("active", False)
    assert sub_item(store)["stripe_subscription"] == subscription["id"]  # type: ignore[index]
    assert [kind for kind, _ in events.details()] == ["KeyIssued", "PlanChanged"]


def test_moving_between_paid_plans_swaps_the_items_of_the_same_subscription(
    billed_api: TestClient, store: Store, carol: Headers, stripe_fake: StripeFake, listed: EventLog
) -> None:
    subscribed(billed_api, carol)
    response = billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "team"}, headers=carol)
    assert response.status_code == 200, response.text
    [subscription] = stripe_subscriptions(stripe_fake)
    pro, team = plan_item(store, "pro")["stripe_prices"], plan_item(store, "team")["stripe_prices"]
    # Pro's metered item stays, for the hours made on pro that are reported in their grace window.
    assert [item["price"]["id"] for item in subscription["items"]["data"]] == [
        pro["usage_price"],
        team["base_price"],
        team["usage_price"],
    ]
    assert subscription["metadata"]["apid_plan"] == "team"
    assert plan_item(store, "team")["stripe_meter"] != plan_item(store, "pro")["stripe_meter"], "a meter per plan"
    assert sub_item(store)["stripe_subscription"] == subscription["id"]  # type: ignore[index]


def test_pro_free_pro_in_one_period_charges_the_monthly_fee_once_and_free_again_ends_it(
    billed_api: TestClient, store: Store, carol: Headers, stripe_fake: StripeFake, listed: EventLog
) -> None:
    """Back on pro before the period ends, the subscription still running to its end is kept: a second one would
    charge a second monthly fee for the same month."""
    subscribed(billed_api, carol)
    for plan in ("free", "pro"):
        assert billed_api.put(f"/subscriptions/{API}/plan", json={"plan": plan}, headers=carol).status_code == 200
    [subscription] = stripe_subscriptions(stripe_fake)
    assert (subscription["status"], subscription["cancel_at_period_end"]) == ("active", False)
    assert sub_item(store)["stripe_subscription"] == subscription["id"]  # type: ignore[index]
    # And to free once more within Stripe's 24 hours of idempotency: the period's end ends it again.
    assert billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "free"}, headers=carol).status_code == 200
    [ending] = stripe_subscriptions(stripe_fake)
    assert ending["cancel_at_period_end"] is True
    [invoice] = stripe_fake.close_billing_period(at=subscription["start_date"] + 86_400)
    assert invoice["total"] == 990  # pro's monthly fee, once (no calls were made)
    assert stripe_subscriptions(stripe_fake)[0]["status"] == "canceled"


def test_back_on_pro_after_the_period_ended_starts_a_new_subscription(
    billed_api: TestClient, store: Store, carol: Headers, stripe_fake: StripeFake, listed: EventLog
) -> None:
    subscribed(billed_api, carol)
    assert billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "free"}, headers=carol).status_code == 200
    [ended] = stripe_subscriptions(stripe_fake)
    stripe_fake.close_billing_period(at=ended["start_date"] + 86_400)
    assert billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "pro"}, headers=carol).status_code == 200
    old, new = stripe_subscriptions(stripe_fake)
    assert (old["id"], old["status"], new["status"]) == (ended["id"], "canceled", "active")
    assert sub_item(store)["stripe_subscription"] == new["id"]  # type: ignore[index]


def test_taking_back_a_move_onto_the_ending_subscription_lets_it_end_with_its_period(
    billed_api: TestClient,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    quick: SubscriptionBilling,
    listed: EventLog,
) -> None:
    """Ending it now would lose the usage of the period that Stripe has still to invoice."""
    subscribed(billed_api, carol)
    assert billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "free"}, headers=carol).status_code == 200
    on_free = sub_item(store)
    assert on_free is not None
    changed = quick.change(on_free, plan_item(store))
    [subscription] = stripe_subscriptions(stripe_fake)
    assert changed == {"stripe_subscription": subscription["id"]} and subscription["cancel_at_period_end"] is False
    quick.revert(on_free, changed, plan_item(store, "free"))
    [subscription] = stripe_subscriptions(stripe_fake)
    assert (subscription["status"], subscription["cancel_at_period_end"]) == ("active", True)


def test_usage_reported_after_a_plan_change_is_billed_on_the_plan_it_was_made_under(
    billed_api: TestClient,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    quick: SubscriptionBilling,
    listed: EventLog,
) -> None:
    """An hour made on pro closes in its grace window after the move to team: its calls go to pro's meter, and pro's
    metered item stays on the subscription so Stripe bills them at pro's price."""
    key_id = subscribed(billed_api, carol)["key_id"]
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    made_on_pro = usage_event(key_id, calls=8000, hour=hour_text(hour), plan="pro")
    assert process_usage(sqs_event(made_on_pro), UsageBatch(store, None, None, hour)) == {"batchItemFailures": []}
    assert billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "team"}, headers=carol).status_code == 200

    summary = close_and_report(store, quick, hour + timedelta(hours=2), timedelta(minutes=30))

    assert (summary.meter_events, summary.billed_calls) == (1, 8000)
    [event] = stripe_fake.meter_events()
    assert event["event_name"] == plan_item(store, "pro")["stripe_event_name"]
    [invoice] = stripe_fake.close_billing_period(at=int((hour + timedelta(hours=1)).timestamp()))
    pro, team = plan_item(store, "pro")["stripe_prices"], plan_item(store, "team")["stripe_prices"]
    lines = {line["pricing"]["price_details"]["price"]: line["amount"] for line in invoice["lines"]["data"]}
    assert lines == {pro["usage_price"]: 10, team["base_price"]: 4900, team["usage_price"]: 0}


def test_a_declined_card_on_an_upgrade_is_a_402_and_keeps_the_free_plan(
    billed_api: TestClient,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    quick: SubscriptionBilling,
    events: EventLog,
) -> None:
    subscribed(billed_api, carol, "free")
    stripe_fake.decline_cards(quick.customer(CAROL))
    one_line_problem(
        billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "pro"}, headers=carol), 402, "payment declined"
    )
    assert stripe_subscriptions(stripe_fake) == []
    stored = sub_item(store)
    assert stored is not None and stored["plan"] == "free" and "stripe_subscription" not in stored
    assert [kind for kind, _ in events.details()] == ["KeyIssued"]


def test_cancelling_ends_billing_with_the_period_and_revokes_the_key(
    billed_api: TestClient, store: Store, carol: Headers, stripe_fake: StripeFake, events: EventLog
) -> None:
    issued = subscribed(billed_api, carol)
    assert billed_api.delete(f"/subscriptions/{API}", headers=carol).status_code == 204
    [subscription] = stripe_subscriptions(stripe_fake)
    assert (subscription["status"], subscription["cancel_at_period_end"]) == ("active", True)
    [cancel] = [r for r in stripe_fake.requests() if r.path == f"{SUBSCRIPTIONS}/{subscription['id']}"]
    assert cancel.method == "POST" and (cancel.idempotency_key or "").startswith(f"apid-cancel-{subscription['id']}-")
    stored = sub_item(store)
    assert stored is not None and stored["status"] == "cancelled"
    [key] = keys_of(store)
    assert (key["key_id"], key["status"]) == (issued["key_id"], "revoked")
    assert counters(store) == (0, 0)
    assert [(kind, detail["key_id"]) for kind, detail in events.details()] == [
        ("KeyIssued", issued["key_id"]),
        ("KeyRevoked", issued["key_id"]),
    ]


def test_cancelling_while_stripe_is_down_is_a_503_and_the_key_keeps_working(
    billed_api: TestClient,
    store: Store,
    carol: Headers,
    stripe_fake: StripeFake,
    quick: SubscriptionBilling,
    events: EventLog,
) -> None:
    subscribed(billed_api, carol)
    stripe_fake.fail_next(500, count=EVERY_ATTEMPT)
    one_line_problem(billed_api.delete(f"/subscriptions/{API}", headers=carol), 503, "billing is unavailable")
    [subscription] = stripe_subscriptions(stripe_fake)
    assert subscription["cancel_at_period_end"] is False
    assert sub_item(store)["status"] == "active" and [k["status"] for k in keys_of(store)] == ["active"]  # type: ignore[index]
    assert [kind for kind, _ in events.details()] == ["KeyIssued"]
