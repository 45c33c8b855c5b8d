"""The dashboards' data against moto: usage counted by the real aggregator, invoices recorded by the real ledger."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import PK, SK, Store
from api_direct.control_plane.api.usage import DayUsage, PeriodUsage, consumer_invoices, daily_usage, period_usage
from api_direct.control_plane.billing.earnings import PaidInvoice, record_revenue
from api_direct.control_plane.billing.metering import Meter, UsageEvent, counter_key
from api_direct.control_plane.billing.periods import hour_text, month_text
from tests.control_plane.billing.usage import API, CAROL, body, marketplace, usage_event
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import DAVE, ALICE, Headers, table
from tests.control_plane.web.pages import as_user, text

NOW = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)


@pytest.fixture
def store(aws: Callable[[str], Any]) -> Store:
    return Store(table())


@pytest.fixture
def carols_key(api: TestClient, mint: Mint) -> str:
    """weather-api listed by Alice, Carol on its free plan."""
    return marketplace(api, mint, plan="free")


@pytest.fixture
def daves_key(api: TestClient, mint: Mint, carols_key: str) -> str:
    """Dave on the pro plan of the same API."""
    response = api.post("/subscriptions", json={"api_id": API, "plan": "pro"}, headers=bearer(mint(DAVE, "consumers")))
    assert response.status_code == 201, response.text
    return str(response.json()["key_id"])


def used(store: Store, key_id: str, hour: str, calls: int, plan: str = "free", **event: Any) -> None:
    """One usage record through the aggregator, a new one per key, hour, plan and number of calls."""
    record = f"{key_id}-{hour}-{plan}-{calls}"
    parsed = UsageEvent.parse(body(usage_event(key_id, hour=hour, calls=calls, plan=plan, record=record, **event)))
    assert Meter(store).apply(parsed, NOW) == "applied"


def test_errors_are_the_4xx_and_5xx_calls_of_every_record_applied_together(store: Store, carols_key: str) -> None:
    events = [
        usage_event(carols_key, plan="free", calls=10, record="a", statuses={"2xx": 5, "3xx": 1, "4xx": 3, "5xx": 1}),
        usage_event(carols_key, plan="free", calls=4, record="b", statuses={"2xx": 2, "3xx": 0, "4xx": 0, "5xx": 2}),
    ]
    meter = Meter(store)
    parsed = [UsageEvent.parse(body(event)) for event in events]
    [group] = meter.groups([(event, meter.attribute(event)) for event in parsed])
    assert meter.apply_group(group, NOW) == ["applied", "applied"]
    key = counter_key(API, CAROL, "2026-11-25T13:00:00Z", "free")
    counter = store.get(key[PK], key[SK])
    assert counter is not None
    assert (counter["calls"], counter["billable"], counter["errors"]) == (14, 7, 6)
    assert (counter["gsi2pk"], counter["gsi2sk"]) == (f"USAGE#{API}", f"2026-11-25T13:00:00Z#{CAROL}#free")
    assert counter["gsi1pk"] == "HOURS#open"


def test_daily_usage_sums_every_consumer_and_plan_per_day_and_fills_days_without_calls(
    store: Store, carols_key: str, daves_key: str
) -> None:
    used(store, carols_key, "2026-11-21T23:00:00Z", 100)  # before the window
    used(store, carols_key, "2026-11-23T00:00:00Z", 1)
    used(store, carols_key, "2026-11-25T00:00:00Z", 3, statuses={"2xx": 1, "3xx": 0, "4xx": 2, "5xx": 0})
    used(store, carols_key, "2026-11-25T23:00:00Z", 4, plan="pro")
    used(store, daves_key, "2026-11-25T13:00:00Z", 5, plan="pro")
    used(store, carols_key, "2026-11-26T00:00:00Z", 1000)  # after it
    assert daily_usage(store, API, 4, date(2026, 11, 25)) == [
        DayUsage(day=date(2026, 11, 22), calls=0, billable=0, errors=0),
        DayUsage(day=date(2026, 11, 23), calls=1, billable=1, errors=0),
        DayUsage(day=date(2026, 11, 24), calls=0, billable=0, errors=0),
        DayUsage(day=date(2026, 11, 25), calls=12, billable=10, errors=2),
    ]


def test_a_creator_reads_their_apis_usage_and_nobody_elses(
    api: TestClient, store: Store, carols_key: str, mint: Mint, bob: Headers
) -> None:
    used(store, carols_key, hour_text(datetime.now(UTC)), 10)
    alice = bearer(mint(ALICE, "creators"))
    response = api.get("/usage", params={"api_id": API, "days": 2}, headers=alice)
    assert response.status_code == 200, response.text
    days = response.json()["days"]
    assert response.json()["api_id"] == API and len(days) == 2 and sum(day["calls"] for day in days) == 10
    assert len(api.get("/usage", params={"api_id": API}, headers=alice).json()["days"]) == 30
    theirs, unlisted = (
        api.get("/usage", params={"api_id": api_id}, headers=headers)
        for api_id, headers in ((API, bob), ("no-such-api", alice))
    )
    assert theirs.status_code == unlisted.status_code == 404
    assert theirs.json()["detail"].replace(API, "no-such-api") == unlisted.json()["detail"]


@pytest.mark.parametrize("days", [0, 91])
def test_usage_covers_one_to_ninety_days(api: TestClient, carols_key: str, mint: Mint, days: int) -> None:
    response = api.get("/usage", params={"api_id": API, "days": days}, headers=bearer(mint(ALICE, "creators")))
    assert response.status_code == 422


def test_period_usage_sums_the_consumers_counters_of_that_month_on_any_plan(
    store: Store, carols_key: str, daves_key: str
) -> None:
    used(store, carols_key, "2026-10-31T23:00:00Z", 7)
    used(store, carols_key, "2026-11-01T00:00:00Z", 2, statuses={"2xx": 1, "3xx": 0, "4xx": 1, "5xx": 0})
    used(store, carols_key, "2026-11-30T23:00:00Z", 3, plan="pro")
    used(store, carols_key, "2026-12-01T00:00:00Z", 11)
    used(store, daves_key, "2026-11-15T12:00:00Z", 13, plan="pro")
    assert period_usage(store, API, CAROL, "free", "2026-11") == PeriodUsage(
        api_id=API,
        plan="free",
        month="2026-11",
        calls=5,
        units=5,
        billable=4,
        monthly_quota=1000,
        remaining=995,
        free_calls=1000,
    )
    assert period_usage(store, API, CAROL, "pro", "2026-11").model_dump(include={"monthly_quota", "free_calls"}) == {
        "monthly_quota": None,
        "free_calls": 0,
    }


def test_the_quota_and_what_is_left_of_it_are_in_units_beside_the_calls(
    api: TestClient, store: Store, carols_key: str, mint: Mint
) -> None:
    """Weighted calls (a route of weight 5) count their units against the quota, on the API and the dashboard."""
    hour = hour_text(datetime.now(UTC))
    used(
        store,
        carols_key,
        hour,
        120,
        statuses={"2xx": 100, "3xx": 0, "4xx": 20, "5xx": 0},
        units={"2xx": 500, "4xx": 100},
    )
    shown = api.get(f"/subscriptions/{API}/usage", headers=bearer(mint(CAROL, "consumers"))).json()
    assert {name: shown[name] for name in ("calls", "units", "billable", "monthly_quota", "remaining")} == {
        "calls": 120,
        "units": 600,
        "billable": 500,
        "monthly_quota": 1000,
        "remaining": 400,
    }
    used(store, carols_key, hour, 100, units={"2xx": 500})
    assert period_usage(store, API, CAROL, "free", month_text(datetime.now(UTC))).remaining == 0  # never below 0
    as_user(api, mint(CAROL, "consumers"))
    page = api.get("/web/dashboard").text
    assert "220 · units 1,100 of 1,000 (0 left) · billable 1,000" in text(page)
    assert '<meter min="0" max="1000" high="900" value="1100"' in page


def test_a_consumer_reads_this_months_usage_of_an_active_subscription(
    api: TestClient, store: Store, carols_key: str, mint: Mint
) -> None:
    now = datetime.now(UTC)
    used(store, carols_key, hour_text(now), 10)
    carol = bearer(mint(CAROL, "consumers"))
    response = api.get(f"/subscriptions/{API}/usage", headers=carol)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "api_id": API,
        "plan": "free",
        "month": month_text(now),
        "calls": 10,
        "units": 10,
        "billable": 10,
        "monthly_quota": 1000,
        "remaining": 990,
        "free_calls": 1000,
    }
    stranger = api.get(f"/subscriptions/{API}/usage", headers=bearer(mint(DAVE, "consumers")))
    assert stranger.status_code == 404 and "no active subscription to weather-api" in stranger.json()["detail"]
    assert api.delete(f"/subscriptions/{API}", headers=carol).status_code == 204
    assert api.get(f"/subscriptions/{API}/usage", headers=carol).status_code == 404


def test_invoices_are_the_consumers_own_newest_first(
    api: TestClient, store: Store, carols_key: str, mint: Mint
) -> None:
    # Ids sorting against time: the order is when each was paid, not the index's id order within a month.
    for invoice_id, consumer, paid in [
        ("in_b", CAROL, datetime(2026, 11, 3, tzinfo=UTC)),
        ("in_a", CAROL, datetime(2026, 11, 20, tzinfo=UTC)),
        ("in_0", CAROL, datetime(2026, 12, 2, tzinfo=UTC)),
        ("in_dave", DAVE, datetime(2026, 11, 10, tzinfo=UTC)),
    ]:
        assert record_revenue(store, PaidInvoice(invoice_id, 990, "usd", API, consumer), paid) == "recorded"
    assert [invoice.invoice_id for invoice in consumer_invoices(store, CAROL)] == ["in_0", "in_a", "in_b"]
    response = api.get("/invoices", headers=bearer(mint(DAVE, "consumers")))
    assert response.status_code == 200
    assert response.json() == [
        {
            "invoice_id": "in_dave",
            "api_id": API,
            "amount": 990,
            "currency": "usd",
            "month": "2026-11",
            "recorded_at": "2026-11-10T00:00:00Z",
            "refunded": 0,
            "status": "paid",
            "hosted_invoice_url": None,
            "period_start": None,
            "period_end": None,
        }
    ]


@pytest.mark.parametrize("path", ["/usage?api_id=weather-api", "/subscriptions/weather-api/usage", "/invoices"])
def test_the_dashboards_data_needs_a_token(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 401 and "sign in first" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/usage?api_id=weather-api", "consumers"),
        ("/subscriptions/weather-api/usage", "creators"),
        ("/invoices", "creators"),
    ],
)
def test_each_dashboard_is_for_its_own_role(api: TestClient, mint: Mint, path: str, group: str) -> None:
    assert api.get(path, headers=bearer(mint("someone", group))).status_code == 403
