"""Subscriptions and keys: a key shown once and stored only as its hash, events that reach the API's
account, written with their change and relayed until the bus takes them. AWS is moto; tokens are real."""

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from api_direct.control_plane.api.bus import ControlPlaneBus
from api_direct.control_plane.api.outbox import relay_batch
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.store import PK, SK, api_pk, consumer_pk, key_pk, update_op
from api_direct.control_plane.api.subscriptions import commit, revoked, subscription_key
from api_direct.runtime.api_keys import hash_key, usage_id_of
from tests.control_plane.marketplace import (
    rejecting_events,
    EventLog,
    control_plane_events,
    table,
)
from tests.control_plane.resources import BUS
from tests.control_plane.stream_relay import relay_outbox

Headers = dict[str, str]
PLAINTEXT_KEY = re.compile(r"apid_[A-Za-z0-9_-]{43}")
CONSUMER = "consumer-carol"


@pytest.fixture
def events(aws: Callable[[str], Any]) -> EventLog:
    """Everything put on the control plane's bus."""
    return control_plane_events()


def subscribe(api: TestClient, who: Headers, api_id: str = "weather-api", plan: str = "free") -> Any:
    return api.post("/subscriptions", json={"api_id": api_id, "plan": plan}, headers=who)


def subscribed(api: TestClient, who: Headers, plan: str = "free") -> dict[str, Any]:
    response = subscribe(api, who, plan=plan)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def item(pk: str, sk: str) -> dict[str, Any] | None:
    return table().get_item(Key={PK: pk, SK: sk}).get("Item")  # type: ignore[no-any-return]


def counters(plan: str = "free") -> tuple[int, int]:
    """Subscribers of the listing, and of one plan."""
    listing, plan_item = item(api_pk("weather-api"), "LISTING"), item(api_pk("weather-api"), f"PLAN#{plan}")
    assert listing is not None and plan_item is not None
    return int(listing["subscribers"]), int(plan_item.get("subscribers", 0))


def key_status(api_key: str) -> str | None:
    found = item(key_pk(hash_key(api_key)), "KEY")
    return None if found is None else str(found["status"])


@pytest.fixture
def failing_events(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Callable[[dict[str, Any]], bool]], None]:
    """Make the bus reject the key events a predicate picks (on the detail), as EventBridge does."""
    return rejecting_events(monkeypatch)


# --- subscribing ----------------------------------------------------------------------------------


def test_subscribing_issues_a_key_shown_once_and_stored_as_its_hash(
    api: TestClient, carol: Headers, listed: EventLog, events: EventLog
) -> None:
    response = subscribe(api, carol)
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    issued = response.json()
    assert set(issued) == {"api_id", "plan", "key_id", "name", "api_key", "created_at"}
    assert (issued["api_id"], issued["plan"]) == ("weather-api", "free")
    assert PLAINTEXT_KEY.fullmatch(issued["api_key"])
    key_hash = hash_key(issued["api_key"])
    stored = item(key_pk(key_hash), "KEY")
    assert stored is not None and stored["key_id"] == issued["key_id"] and stored["consumer"] == CONSUMER
    assert (stored["status"], stored["plan"], stored["gsi2pk"]) == ("active", "free", consumer_pk(CONSUMER))
    subscription = item(consumer_pk(CONSUMER), "SUB#weather-api")
    assert subscription is not None and (subscription["gsi1pk"], subscription["gsi1sk"]) == (
        "API#weather-api",
        f"SUB#{CONSUMER}",
    )
    assert counters() == (1, 1)
    usage_id = usage_id_of(CONSUMER, "weather-api")
    detail = {
        "key_id": issued["key_id"],
        "key_hash": key_hash,
        "usage_id": usage_id,
        "plan": "free",
        "api": "weather-api",
    }
    expected = ("KeyIssued", detail)
    assert events.details() == [expected]
    assert listed.details() == [expected], "forwarded to the API's own key bus"


def test_an_unknown_api_is_404_and_an_unknown_plan_422(api: TestClient, carol: Headers, listed: EventLog) -> None:
    assert subscribe(api, carol, api_id="no-such-api").status_code == 404
    response = subscribe(api, carol, plan="gold")
    assert response.status_code == 422 and "choose one of: free, pro" in response.json()["detail"]


def test_subscribing_twice_is_a_409(api: TestClient, carol: Headers, listed: EventLog) -> None:
    subscribed(api, carol)
    response = subscribe(api, carol, plan="pro")
    assert response.status_code == 409 and "already subscribe" in response.json()["detail"]
    assert counters() == (1, 1)


def test_a_consumer_lists_subscriptions_and_keys_without_secrets(
    api: TestClient, carol: Headers, listed: EventLog
) -> None:
    issued = subscribed(api, carol)
    [subscription] = api.get("/subscriptions", headers=carol).json()
    assert subscription == {
        "api_id": "weather-api",
        "plan": "free",
        "status": "active",
        "billing_status": "ok",
        "key_id": issued["key_id"],
        "created_at": issued["created_at"],
        "cancelled_at": None,
        "trial_end": None,
    }
    keys = api.get("/keys", headers=carol)
    assert keys.json() == [
        {
            "key_id": issued["key_id"],
            "name": "default",
            "api_id": "weather-api",
            "plan": "free",
            "status": "active",
            "created_at": issued["created_at"],
            "expires_at": None,
            "last_used": None,
        }
    ]
    assert issued["api_key"] not in keys.text and hash_key(issued["api_key"]) not in keys.text


# --- cancelling, rotating, changing plan ---------------------------------------------------------------


def test_cancelling_revokes_the_key(api: TestClient, carol: Headers, listed: EventLog) -> None:
    issued = subscribed(api, carol)
    assert api.delete("/subscriptions/weather-api", headers=carol).status_code == 204
    assert key_status(issued["api_key"]) == "revoked" and counters() == (0, 0)
    [subscription] = api.get("/subscriptions", headers=carol).json()
    assert subscription["status"] == "cancelled" and subscription["cancelled_at"]
    assert listed.details()[-1] == (
        "KeyRevoked",
        {
            "key_id": issued["key_id"],
            "key_hash": hash_key(issued["api_key"]),
            "usage_id": usage_id_of(CONSUMER, "weather-api"),
            "ends_usage": True,
            "api": "weather-api",
        },
    )
    assert api.delete("/subscriptions/weather-api", headers=carol).status_code == 204, "safe to repeat"
    assert len(listed.read()) == 2 and counters() == (0, 0)


def test_cancelling_without_a_subscription_is_a_404(api: TestClient, carol: Headers, listed: EventLog) -> None:
    assert api.delete("/subscriptions/weather-api", headers=carol).status_code == 404


def test_resubscribing_after_cancelling_issues_a_new_key(api: TestClient, carol: Headers, listed: EventLog) -> None:
    first = subscribed(api, carol)
    api.delete("/subscriptions/weather-api", headers=carol)
    second = subscribed(api, carol, plan="pro")
    assert second["key_id"] != first["key_id"] and key_status(second["api_key"]) == "active"
    assert counters("pro") == (1, 1) and counters("free") == (1, 0)
    assert [k["status"] for k in api.get("/keys", headers=carol).json()] == ["active", "revoked"]


def test_rotating_issues_a_new_key_then_revokes_the_old(api: TestClient, carol: Headers, listed: EventLog) -> None:
    old = subscribed(api, carol)
    response = api.post("/subscriptions/weather-api/rotate", headers=carol)
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    new = response.json()
    assert new["key_id"] != old["key_id"] and new["plan"] == "free"
    assert (key_status(old["api_key"]), key_status(new["api_key"])) == ("revoked", "active")
    assert [(kind, detail["key_id"]) for kind, detail in listed.details()[1:]] == [
        ("KeyIssued", new["key_id"]),
        ("KeyRevoked", old["key_id"]),
    ]
    assert api.get("/subscriptions", headers=carol).json()[0]["key_id"] == new["key_id"]
    assert counters() == (1, 1)


def test_changing_plan_sends_plan_changed(api: TestClient, carol: Headers, listed: EventLog) -> None:
    issued = subscribed(api, carol)
    response = api.put("/subscriptions/weather-api/plan", json={"plan": "pro"}, headers=carol)
    assert response.status_code == 200 and response.json()["plan"] == "pro"
    assert listed.details()[-1] == (
        "PlanChanged",
        {
            "key_id": issued["key_id"],
            "key_hash": hash_key(issued["api_key"]),
            "usage_id": usage_id_of(CONSUMER, "weather-api"),
            "plan": "pro",
            "api": "weather-api",
        },
    )
    assert counters("free") == (1, 0) and counters("pro") == (1, 1)
    assert api.get("/keys", headers=carol).json()[0]["plan"] == "pro"
    assert api.put("/subscriptions/weather-api/plan", json={"plan": "pro"}, headers=carol).status_code == 200
    assert len(listed.read()) == 2, "the same plan again sends nothing"
    assert api.put("/subscriptions/weather-api/plan", json={"plan": "gold"}, headers=carol).status_code == 422


def test_revoking_a_key_cancels_its_subscription(api: TestClient, carol: Headers, listed: EventLog) -> None:
    issued = subscribed(api, carol)
    assert api.delete(f"/keys/{issued['key_id']}", headers=carol).status_code == 204
    assert key_status(issued["api_key"]) == "revoked" and counters() == (0, 0)
    assert api.get("/subscriptions", headers=carol).json()[0]["status"] == "cancelled"
    assert api.delete(f"/keys/{issued['key_id']}", headers=carol).status_code == 204, "safe to repeat"
    assert api.delete("/keys/key_0000000000000000", headers=carol).status_code == 404


# --- nothing half-done: the outbox -------------------------------------------------------------------


def test_a_refused_key_event_is_relayed_once_the_bus_takes_it_and_never_twice(
    api: TestClient, carol: Headers, listed: EventLog, failing_events: Any
) -> None:
    failing_events(lambda detail: True)
    issued = subscribed(api, carol)
    assert listed.read() == [], "the bus refused it: the relay fails the record and keeps it"
    assert key_status(issued["api_key"]) == "active" and counters() == (1, 1)
    failing_events(lambda detail: False)
    assert [(kind, detail["key_id"]) for kind, detail in listed.details()] == [("KeyIssued", issued["key_id"])]
    assert relay_outbox() == 0 and len(listed.read()) == 1


def test_an_unreachable_bus_delays_the_event_never_the_change(
    api: TestClient, carol: Headers, listed: EventLog
) -> None:
    class Unreachable:
        def put_events(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "PutEvents")

    issued = subscribed(api, carol)
    assert relay_outbox(lambda event: relay_batch(event, ControlPlaneBus(Unreachable(), BUS, None))) == 0
    assert [kind for kind, _ in listed.details()] == ["KeyIssued"] and key_status(issued["api_key"]) == "active"


def test_a_change_whose_transaction_fails_leaves_no_event(api: TestClient, carol: Headers, listed: EventLog) -> None:
    issued = subscribed(api, carol)
    stored = item(key_pk(hash_key(issued["api_key"])), "KEY")
    assert stored is not None and len(listed.read()) == 1
    services = api.app.state.services
    stale = update_op(subscription_key(CONSUMER, "weather-api"), set_={"plan": "pro"}, when={"key_id": "key_gone"})
    with pytest.raises(Problem) as refused:
        commit(services, writes=[stale], events=[revoked(stored)], conflict="changed meanwhile")
    assert refused.value.status == 409
    assert relay_outbox() == 0 and len(listed.read()) == 1 and key_status(issued["api_key"]) == "active"


def test_the_events_of_one_change_arrive_in_its_order_and_a_retry_sends_only_what_failed(
    api: TestClient, carol: Headers, listed: EventLog, failing_events: Any
) -> None:
    old = subscribed(api, carol)
    failing_events(lambda detail: detail["type"] == "KeyRevoked" and detail["key_id"] == old["key_id"])
    new = api.post("/subscriptions/weather-api/rotate", headers=carol).json()
    assert key_status(old["api_key"]) == "revoked" and key_status(new["api_key"]) == "active"
    assert [kind for kind, _ in listed.details()] == ["KeyIssued", "KeyIssued"], "the revocation waits"
    failing_events(lambda detail: False)
    events = listed.read()
    assert [(e["detail-type"], e["detail"]["key_id"]) for e in events] == [
        ("KeyIssued", old["key_id"]),
        ("KeyIssued", new["key_id"]),
        ("KeyRevoked", old["key_id"]),
    ]
    assert events[1]["detail"]["issued_at"] < events[2]["detail"]["issued_at"]


# --- the plaintext key goes nowhere -----------------------------------------------------------------


def test_no_plaintext_key_is_stored_sent_or_logged(
    api: TestClient,
    carol: Headers,
    listed: EventLog,
    events: EventLog,
    aws: Callable[[str], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    shown = [subscribed(api, carol)["api_key"]]
    shown.append(api.post("/subscriptions/weather-api/rotate", headers=carol).json()["api_key"])
    api.put("/subscriptions/weather-api/plan", json={"plan": "pro"}, headers=carol)
    api.delete("/subscriptions/weather-api", headers=carol)
    shown.append(subscribed(api, carol)["api_key"])
    items = aws("dynamodb").scan(TableName="apid-control-plane")["Items"]
    sent = events.read() + listed.read()
    assert len(sent) == 2 * 6 and len(items) > 5
    for where in (json.dumps(items), json.dumps(sent), caplog.text):
        assert not PLAINTEXT_KEY.search(where)
        assert not any(key in where for key in shown)
