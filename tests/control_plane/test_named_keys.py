"""Named keys: several per subscription, rotated with a grace period, revoked one at a time, with their
last use. AWS is moto; tokens are real."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.named_keys import MAX_KEYS
from api_direct.control_plane.api.store import PK, SK, Store, key_pk
from api_direct.control_plane.billing.key_use import record_use
from tests.control_plane.marketplace import (
    ALICE,
    EventLog,
    rejecting_events,
    table,
)
from tests.control_plane.tokens import Mint, bearer

Headers = dict[str, str]
API = "weather-api"


@pytest.fixture
def first(api: TestClient, carol: Headers, listed: EventLog) -> dict[str, Any]:
    """Carol subscribes to weather-api's free plan: her first key, named ``default``."""
    response = api.post("/subscriptions", json={"api_id": API, "plan": "free"}, headers=carol)
    assert response.status_code == 201, response.text
    return response.json()


def add_key(api: TestClient, who: Headers, name: Any = "ci") -> Any:
    return api.post(f"/subscriptions/{API}/keys", json={"name": name}, headers=who)


def added(api: TestClient, who: Headers, name: str = "ci") -> dict[str, Any]:
    response = add_key(api, who, name)
    assert response.status_code == 201, response.text
    return response.json()


def keys(api: TestClient, who: Headers) -> dict[str, dict[str, Any]]:
    return {key["key_id"]: key for key in api.get("/keys", headers=who).json()}


def subscription(api: TestClient, who: Headers) -> dict[str, Any]:
    [found] = api.get("/subscriptions", headers=who).json()
    return found


def problem(response: Any, status: int, words: str) -> bool:
    body = response.json()
    return (
        response.status_code == status
        and response.headers["content-type"].startswith("application/problem+json")
        and words in body["detail"]
        and "\n" not in body["detail"]
    )


# --- adding ---------------------------------------------------------------------------------------


def test_a_named_key_is_added_shown_once_and_sent_to_the_apis_account(
    api: TestClient, carol: Headers, first: dict[str, Any], listed: EventLog
) -> None:
    response = add_key(api, carol, "ci runner")
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    ci = response.json()
    assert (ci["name"], ci["plan"], ci["api_id"]) == ("ci runner", "free", API) and ci["api_key"] != first["api_key"]
    mine = keys(api, carol)
    assert {(k["name"], k["status"]) for k in mine.values()} == {("default", "active"), ("ci runner", "active")}
    assert all("api_key" not in k and "key_hash" not in k for k in mine.values())
    assert [(kind, detail["key_id"]) for kind, detail in listed.details()[1:]] == [("KeyIssued", ci["key_id"])]
    assert subscription(api, carol)["key_id"] == ci["key_id"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": ""}, "1 to 40 characters"),
        ({"name": "x" * 41}, "1 to 40 characters"),
        ({"name": "Prod!"}, "1 to 40 characters"),
        ({"name": "two\nlines"}, "1 to 40 characters"),
        ({"name": "-1+1"}, "the first a letter or digit"),
        ({}, "name"),
        ({"name": "ci", "plan": "pro"}, "plan"),
    ],
    ids=["empty", "too-long", "bad-characters", "newline", "leading-dash", "missing", "unknown-field"],
)
def test_a_bad_key_name_is_a_422_and_adds_nothing(
    api: TestClient, carol: Headers, first: dict[str, Any], body: dict[str, Any], words: str
) -> None:
    response = api.post(f"/subscriptions/{API}/keys", json=body, headers=carol)
    assert problem(response, 422, words), response.text
    assert len(keys(api, carol)) == 1


def test_names_are_unique_per_subscription_and_keys_are_bounded(
    api: TestClient, carol: Headers, first: dict[str, Any]
) -> None:
    assert problem(add_key(api, carol, "default"), 409, "already has a key named 'default'")
    for number in range(1, MAX_KEYS):
        added(api, carol, f"app-{number}")
    assert problem(add_key(api, carol, "one-more"), 409, f"has {MAX_KEYS} keys")
    assert len(keys(api, carol)) == MAX_KEYS


def test_a_key_is_added_only_to_an_active_subscription(api: TestClient, carol: Headers, listed: EventLog) -> None:
    assert problem(add_key(api, carol), 404, "no active subscription")


# --- rotating -------------------------------------------------------------------------------------


def test_rotating_issues_a_key_of_the_same_name_and_the_old_one_expires_after_the_grace(
    api: TestClient, carol: Headers, first: dict[str, Any], listed: EventLog
) -> None:
    response = api.post(f"/keys/{first['key_id']}/rotate", json={"grace_seconds": 3600}, headers=carol)
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    new = response.json()
    assert new["name"] == "default" and new["key_id"] != first["key_id"]
    mine = keys(api, carol)
    old = mine[first["key_id"]]
    assert (old["status"], mine[new["key_id"]]["status"]) == ("expiring", "active")
    expires = datetime.fromisoformat(old["expires_at"]) - datetime.fromisoformat(new["created_at"])
    assert expires.total_seconds() == 3600
    [issue, expiry] = listed.details()[1:]
    shared = issue[1]["usage_id"]
    assert issue == (
        "KeyIssued",
        {"key_id": new["key_id"], "key_hash": issue[1]["key_hash"], "usage_id": shared, "plan": "free", "api": API},
    )
    assert expiry[0] == "KeyRevoked" and expiry[1]["key_id"] == first["key_id"]
    assert expiry[1]["usage_id"] == shared and "ends_usage" not in expiry[1], "both keys count against one quota"
    assert datetime.fromisoformat(expiry[1]["expires_at"]) == datetime.fromisoformat(old["expires_at"])
    assert subscription(api, carol)["key_id"] == new["key_id"]


def test_the_default_grace_is_a_day(api: TestClient, carol: Headers, first: dict[str, Any]) -> None:
    new = api.post(f"/keys/{first['key_id']}/rotate", headers=carol).json()
    old = keys(api, carol)[first["key_id"]]
    grace = datetime.fromisoformat(old["expires_at"]) - datetime.fromisoformat(new["created_at"])
    assert grace.total_seconds() == 24 * 3600


def test_a_grace_of_zero_revokes_the_old_key_at_once(
    api: TestClient, carol: Headers, first: dict[str, Any], listed: EventLog
) -> None:
    new = api.post(f"/keys/{first['key_id']}/rotate", json={"grace_seconds": 0}, headers=carol).json()
    assert keys(api, carol)[first["key_id"]]["status"] == "revoked"
    revocation = listed.details()[-1]
    assert revocation[0] == "KeyRevoked" and "expires_at" not in revocation[1]
    assert keys(api, carol)[new["key_id"]]["status"] == "active"


@pytest.mark.parametrize("grace", [-1, 7 * 24 * 3600 + 1, "a day"], ids=["negative", "over-7-days", "not-a-number"])
def test_a_bad_grace_is_a_422_and_changes_nothing(
    api: TestClient, carol: Headers, first: dict[str, Any], grace: Any
) -> None:
    response = api.post(f"/keys/{first['key_id']}/rotate", json={"grace_seconds": grace}, headers=carol)
    assert problem(response, 422, "grace_seconds"), response.text
    assert [k["status"] for k in keys(api, carol).values()] == ["active"]


def test_a_rotated_key_cannot_be_rotated_again(api: TestClient, carol: Headers, first: dict[str, Any]) -> None:
    api.post(f"/keys/{first['key_id']}/rotate", headers=carol)
    assert problem(api.post(f"/keys/{first['key_id']}/rotate", headers=carol), 409, "already rotated or revoked")


def test_a_rotation_whose_expiry_is_refused_holds_and_its_expiry_follows_once_the_bus_takes_it(
    api: TestClient, carol: Headers, first: dict[str, Any], listed: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse = rejecting_events(monkeypatch)
    refuse(lambda detail: "expires_at" in detail)
    new = api.post(f"/keys/{first['key_id']}/rotate", headers=carol).json()
    mine = keys(api, carol)
    assert mine[first["key_id"]]["expires_at"] is not None and mine[new["key_id"]]["status"] == "active"
    assert [kind for kind, _ in listed.details()[1:]] == ["KeyIssued"]
    refuse(lambda detail: False)
    sent = listed.details()[1:]
    assert [(kind, detail["key_id"]) for kind, detail in sent] == [
        ("KeyIssued", new["key_id"]),
        ("KeyRevoked", first["key_id"]),
    ]
    assert subscription(api, carol)["key_id"] == new["key_id"]


def test_the_subscription_rotate_route_rotates_the_newest_key_without_grace(
    api: TestClient, carol: Headers, first: dict[str, Any]
) -> None:
    ci = added(api, carol)
    new = api.post(f"/subscriptions/{API}/rotate", headers=carol).json()
    mine = keys(api, carol)
    assert new["name"] == "ci" and mine[ci["key_id"]]["status"] == "revoked"
    assert mine[first["key_id"]]["status"] == "active"


# --- revoking -------------------------------------------------------------------------------------


def test_revoking_one_key_leaves_the_others_working(
    api: TestClient, carol: Headers, first: dict[str, Any], listed: EventLog
) -> None:
    ci = added(api, carol)
    assert api.delete(f"/keys/{ci['key_id']}", headers=carol).status_code == 204
    mine = keys(api, carol)
    assert (mine[ci["key_id"]]["status"], mine[first["key_id"]]["status"]) == ("revoked", "active")
    assert subscription(api, carol)["status"] == "active"
    assert subscription(api, carol)["key_id"] == first["key_id"]
    assert [(kind, d["key_id"]) for kind, d in listed.details()[2:]] == [("KeyRevoked", ci["key_id"])]
    assert "ends_usage" not in listed.details()[-1][1], "the other key still counts under the subscription"
    assert api.delete(f"/keys/{ci['key_id']}", headers=carol).status_code == 204


def test_revoking_the_last_working_key_cancels_the_subscription_and_every_key(
    api: TestClient, carol: Headers, first: dict[str, Any], listed: EventLog
) -> None:
    new = api.post(f"/keys/{first['key_id']}/rotate", headers=carol).json()
    assert api.delete(f"/keys/{new['key_id']}", headers=carol).status_code == 204
    assert subscription(api, carol)["status"] == "cancelled"
    assert {k["status"] for k in keys(api, carol).values()} == {"revoked"}
    revoked = [(d["key_id"], "expires_at" in d, d.get("ends_usage")) for kind, d in listed.details()[3:]]
    assert sorted(revoked) == sorted([(first["key_id"], False, True), (new["key_id"], False, True)])


def test_a_plan_change_and_a_cancellation_reach_every_key(
    api: TestClient, carol: Headers, first: dict[str, Any], listed: EventLog
) -> None:
    ci = added(api, carol)
    assert api.put(f"/subscriptions/{API}/plan", json={"plan": "pro"}, headers=carol).status_code == 200
    assert {k["plan"] for k in keys(api, carol).values()} == {"pro"}
    assert api.delete(f"/subscriptions/{API}", headers=carol).status_code == 204
    sent = listed.details()[2:]
    assert sorted((kind, d["key_id"]) for kind, d in sent) == sorted(
        [(kind, key) for kind in ("PlanChanged", "KeyRevoked") for key in (first["key_id"], ci["key_id"])]
    )


# --- last used ------------------------------------------------------------------------------------


def test_last_used_is_the_latest_hour_the_usage_records_name(
    api: TestClient, carol: Headers, first: dict[str, Any], aws: Callable[[str], Any]
) -> None:
    assert keys(api, carol)[first["key_id"]]["last_used"] is None
    store = Store(table())
    record_use(store, first["key_id"], "2026-11-25T14:00:00Z")
    record_use(store, first["key_id"], "2026-11-25T13:00:00Z")  # a late record does not move it back
    assert keys(api, carol)[first["key_id"]]["last_used"] == "2026-11-25T14:00:00Z"
    assert table().get_item(Key={PK: f"LASTUSED#{first['key_id']}", SK: "KEY"})["Item"]["last_used"]


# --- who may ----------------------------------------------------------------------------------------


def test_another_consumer_cannot_see_rotate_or_revoke_a_key(
    api: TestClient, carol: Headers, dave: Headers, first: dict[str, Any]
) -> None:
    key_id = first["key_id"]
    assert problem(api.post(f"/keys/{key_id}/rotate", headers=dave), 404, f"no key {key_id!r}")
    assert problem(api.delete(f"/keys/{key_id}", headers=dave), 404, f"no key {key_id!r}")
    assert problem(add_key(api, dave), 404, "no active subscription")
    assert api.get("/keys", headers=dave).json() == []
    assert [k["status"] for k in keys(api, carol).values()] == ["active"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/subscriptions/{API}/keys"),
        ("POST", "/keys/key_0123456789abcdef/rotate"),
        ("DELETE", "/keys/key_0123456789abcdef"),
        ("GET", "/keys"),
    ],
)
def test_creators_and_anonymous_callers_are_refused(
    api: TestClient, mint: Mint, listed: EventLog, method: str, path: str
) -> None:
    body = {"name": "ci"} if path.endswith("/keys") and method == "POST" else None
    creator = bearer(mint(ALICE, "creators"))
    assert problem(api.request(method, path, json=body, headers=creator), 403, "only consumers")
    assert problem(api.request(method, path, json=body), 401, "sign in first")


def test_a_key_past_its_grace_is_listed_expired_and_no_longer_sent_about(
    api: TestClient, carol: Headers, first: dict[str, Any], listed: EventLog
) -> None:
    new = api.post(f"/keys/{first['key_id']}/rotate", headers=carol).json()
    old_hash = listed.details()[-1][1]["key_hash"]
    table().update_item(
        Key={PK: key_pk(old_hash), SK: "KEY"},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": "2026-01-01T00:00:00.000000Z"},
    )
    assert keys(api, carol)[first["key_id"]]["status"] == "expired"
    assert api.delete(f"/subscriptions/{API}", headers=carol).status_code == 204
    assert [(kind, d["key_id"]) for kind, d in listed.details()[3:]] == [("KeyRevoked", new["key_id"])]


def test_rotations_in_their_grace_period_count_towards_the_bound(
    api: TestClient, carol: Headers, first: dict[str, Any]
) -> None:
    for number in range(1, MAX_KEYS):
        added(api, carol, f"app-{number}")
    refused = api.post(f"/keys/{first['key_id']}/rotate", headers=carol)
    assert problem(refused, 409, "rotate with a grace of 0 or revoke one first")
    assert api.post(f"/keys/{first['key_id']}/rotate", json={"grace_seconds": 0}, headers=carol).status_code == 201
