"""GET /usage/calls and /usage/calls.csv: a consumer's calls per day and key, as billing counted them.

Usage goes in through the real aggregator (:class:`Meter`) against moto; the totals are
checked against billing's own hourly counters.
"""

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.consumer_usage import usage_range
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.store import GSI2, PK, SK, Store, consumer_pk
from api_direct.control_plane.api.subscriptions import DEFAULT_KEY_NAME
from api_direct.control_plane.billing.metering import HOUR_PREFIX, Meter, UsageEvent, key_day_key, meter_pk
from api_direct.contracts import PROBLEM_JSON
from tests.control_plane.billing.usage import API, CAROL, body, marketplace, usage_event
from tests.control_plane.marketplace import DAVE, ALICE, Headers, table
from tests.control_plane.tokens import Mint, bearer

NOW = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)
NOVEMBER = "from=2026-11-01&to=2026-11-30"


@pytest.fixture
def store(aws: Callable[[str], Any]) -> Store:
    return Store(table())


@pytest.fixture
def carols_keys(api: TestClient, carol: Headers, mint: Mint) -> tuple[str, str]:
    """Carol on weather-api's free plan: her first key and the one that replaced it."""
    first = marketplace(api, mint, plan="free")
    rotated = api.post(f"/subscriptions/{API}/rotate", headers=carol)
    assert rotated.status_code == 201, rotated.text
    return first, str(rotated.json()["key_id"])


def used(store: Store, key_id: str, hour: str, calls: int, plan: str = "free") -> None:
    """One usage record through the aggregator, a new one per key, hour and number of calls."""
    event = usage_event(key_id, hour=hour, calls=calls, plan=plan, record=f"{key_id}-{hour}-{calls}")
    assert Meter(store).apply(UsageEvent.parse(body(event)), NOW) == "applied"


def key_names(store: Store) -> dict[str, str]:
    """Carol's keys' names as the table holds them (one issued before keys had names has the default)."""
    return {
        item["key_id"]: item.get("name", DEFAULT_KEY_NAME)
        for item in store.query(consumer_pk(CAROL), "KEY#", index=GSI2)
    }


def billed(store: Store, consumer: str, month: str) -> int:
    """Billing's count: the consumer's hourly counters of the month, as the reporting to Stripe reads them."""
    return sum(int(item["calls"]) for item in store.query(meter_pk(API, consumer), f"{HOUR_PREFIX}{month}"))


def test_the_export_splits_billings_calls_per_day_and_key_and_adds_up_to_them(
    api: TestClient, store: Store, carol: Headers, carols_keys: tuple[str, str], mint: Mint
) -> None:
    old, new = carols_keys
    used(store, old, "2026-11-23T23:00:00Z", 5)
    used(store, old, "2026-11-24T00:00:00Z", 2)
    used(store, new, "2026-11-24T13:00:00Z", 7)
    used(store, new, "2026-11-24T14:00:00Z", 1)
    used(store, new, "2026-12-01T00:00:00Z", 1000)  # after the range
    daves = api.post("/subscriptions", json={"api_id": API, "plan": "pro"}, headers=bearer(mint(DAVE, "consumers")))
    used(store, daves.json()["key_id"], "2026-11-24T13:00:00Z", 40, plan="pro")

    response = api.get(f"/usage/calls?{NOVEMBER}", headers=carol)
    assert response.status_code == 200, response.text
    document = response.json()
    expected = sorted([("2026-11-23", old, 5), ("2026-11-24", old, 2), ("2026-11-24", new, 8)])
    assert document["days"] == [
        {"date": day, "api_id": API, "key_id": key, "key_name": key_names(store)[key], "calls": calls}
        for day, key, calls in expected
    ]
    assert document["calls"] == billed(store, CAROL, "2026-11") == 15
    assert document["apis"] == [{"api_id": API, "calls": 15}]
    assert (document["from"], document["to"], document["timezone"], document["api_id"]) == (
        "2026-11-01",
        "2026-11-30",
        "UTC",
        None,
    )

    exported = api.get(f"/usage/calls.csv?{NOVEMBER}&api_id={API}", headers=carol)
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.headers["content-disposition"] == f'attachment; filename="usage-{API}-2026-11-01-2026-11-30.csv"'
    header, *rows = list(csv.reader(io.StringIO(exported.text)))
    assert header == ["date", "api_id", "key_id", "key_name", "calls"]
    assert sorted((day, key, int(calls)) for day, _, key, _, calls in rows) == sorted(
        (row["date"], row["key_id"], row["calls"]) for row in document["days"]
    )


def test_rows_within_a_day_are_ordered_by_api_then_key(
    api: TestClient, store: Store, carol: Headers, carols_keys: tuple[str, str]
) -> None:
    for key in carols_keys:
        used(store, key, "2026-11-24T10:00:00Z", 3)
    days = api.get(f"/usage/calls?{NOVEMBER}", headers=carol).json()["days"]
    assert [row["key_id"] for row in days] == sorted(carols_keys)


def test_calls_counted_before_keys_were_are_one_row_without_a_key(
    api: TestClient, store: Store, carol: Headers, carols_keys: tuple[str, str]
) -> None:
    old, _ = carols_keys
    used(store, old, "2026-11-24T10:00:00Z", 3)
    used(store, old, "2026-11-24T11:00:00Z", 4)
    # As a counter written before key days existed: the hours bill 7, the key's day knows of 4.
    day = key_day_key(API, CAROL, "2026-11-24", old)
    store.table.update_item(
        Key={PK: day[PK], SK: day[SK]}, UpdateExpression="SET calls = :c", ExpressionAttributeValues={":c": 4}
    )
    document = api.get(f"/usage/calls?{NOVEMBER}", headers=carol).json()
    assert sorted((row["key_id"], row["calls"]) for row in document["days"]) == [("", 3), (old, 4)]
    assert document["calls"] == billed(store, CAROL, "2026-11") == 7


def test_a_key_with_a_name_is_exported_with_it(
    api: TestClient, store: Store, carol: Headers, carols_keys: tuple[str, str]
) -> None:
    _, new = carols_keys
    [key] = [item for item in store.query(consumer_pk(CAROL), "KEY#", index=GSI2) if item["key_id"] == new]
    store.table.update_item(
        Key={PK: key[PK], SK: key[SK]},
        UpdateExpression="SET #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":n": "prod, eu"},
    )
    used(store, new, "2026-11-24T10:00:00Z", 3)
    [row] = api.get(f"/usage/calls?{NOVEMBER}", headers=carol).json()["days"]
    assert row["key_name"] == "prod, eu"
    exported = api.get(f"/usage/calls.csv?{NOVEMBER}", headers=carol).text
    assert exported.splitlines()[1] == f'2026-11-24,{API},{new},"prod, eu",3'


def test_a_consumer_sees_only_their_own_calls(
    api: TestClient, store: Store, carols_keys: tuple[str, str], mint: Mint
) -> None:
    used(store, carols_keys[0], "2026-11-24T10:00:00Z", 3)
    dave = bearer(mint(DAVE, "consumers"))
    assert api.get(f"/usage/calls?{NOVEMBER}", headers=dave).json()["days"] == []
    refused = api.get(f"/usage/calls?{NOVEMBER}&api_id={API}", headers=dave)
    assert refused.status_code == 404 and refused.headers["content-type"] == PROBLEM_JSON
    assert "never subscribed to weather-api" in refused.json()["detail"]


@pytest.mark.parametrize("path", ["/usage/calls", "/usage/calls.csv"])
def test_anonymous_is_asked_to_sign_in(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 401 and response.headers["content-type"] == PROBLEM_JSON
    assert "sign in first" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/usage/calls", "/usage/calls.csv"])
def test_a_creator_is_refused(api: TestClient, mint: Mint, path: str) -> None:
    response = api.get(path, headers=bearer(mint(ALICE, "creators")))
    assert response.status_code == 403 and response.headers["content-type"] == PROBLEM_JSON
    assert "only consumers" in response.json()["detail"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("from=2026-11-30&to=2026-11-01", "from (2026-11-30) is after to (2026-11-01)"),
        ("from=2025-01-01&to=2026-01-02", "is 367 days; ask for at most 366"),
        ("from=2026-11-31", "from:"),
        ("from=yesterday", "from:"),
        ("to=2026-13-01", "to:"),
        ("api_id=Not%20An%20Api", "api_id:"),
    ],
)
@pytest.mark.parametrize("path", ["/usage/calls", "/usage/calls.csv"])
def test_bad_input_is_a_422_problem(api: TestClient, carol: Headers, path: str, query: str, words: str) -> None:
    response = api.get(f"{path}?{query}", headers=carol)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM_JSON
    assert words in response.json()["detail"]


def test_a_leap_year_is_one_range_and_a_day_more_is_not() -> None:
    assert usage_range(date(2028, 1, 1), date(2028, 12, 31), date(2026, 1, 1)) == (date(2028, 1, 1), date(2028, 12, 31))
    with pytest.raises(Problem):
        usage_range(date(2027, 12, 31), date(2028, 12, 31), date(2026, 1, 1))


@pytest.mark.parametrize(
    ("first", "last", "today", "expected"),
    [
        (None, None, date(2028, 2, 10), (date(2028, 2, 1), date(2028, 2, 29))),  # the current month
        (None, None, date(2026, 12, 31), (date(2026, 12, 1), date(2026, 12, 31))),
        (date(2026, 10, 5), None, date(2026, 11, 20), (date(2026, 10, 5), date(2026, 11, 20))),  # up to today
        (None, date(2026, 10, 5), date(2026, 11, 20), (date(2026, 10, 1), date(2026, 10, 5))),  # to's month
    ],
)
def test_the_defaults_are_the_current_month(
    first: date | None, last: date | None, today: date, expected: tuple[date, date]
) -> None:
    assert usage_range(first, last, today) == expected
