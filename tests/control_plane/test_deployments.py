"""Deployment records: only for linked accounts, only the creator's own, newest first."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.control_plane.account_links import ACCOUNT, REGION, link, register, unlink
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import Headers

API = "weather-api"


def report(**overrides: Any) -> dict[str, Any]:
    """What ``apid deploy`` sends after a successful first deploy."""
    return {
        "api_id": API,
        "account_id": ACCOUNT,
        "region": REGION,
        "action": "deploy",
        "status": "CREATE_COMPLETE",
        "stack_name": f"apid-{API}",
        "outputs": {"ApiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/"},
        "changes": 17,
        **overrides,
    }


def record(api: TestClient, who: Headers, **overrides: Any) -> Any:
    return api.post("/deployments", json=report(**overrides), headers=who)


def history(api: TestClient, who: Headers, api_id: str = API, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/deployments", params={"api_id": api_id, **params}, headers=who)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_record_returns_the_report_with_an_id_and_time(api: TestClient, unlinked_alice: Headers) -> None:
    link(api, unlinked_alice)

    response = record(api, unlinked_alice)

    assert response.status_code == 201, response.text
    recorded = response.json()
    assert {k: recorded[k] for k in report()} == report()
    assert len(recorded["deployment_id"]) == 32
    assert recorded["recorded_at"].endswith("Z")
    assert history(api, unlinked_alice) == [recorded]


def test_history_is_newest_first_and_limited(api: TestClient, unlinked_alice: Headers) -> None:
    link(api, unlinked_alice)
    ids = [
        record(api, unlinked_alice, action=action, status=status, changes=changes).json()["deployment_id"]
        for action, status, changes in [
            ("plan", "NO_CHANGES", 0),
            ("deploy", "CREATE_COMPLETE", 17),
            ("deploy", "UPDATE_COMPLETE", 1),
            ("destroy", "DELETE_COMPLETE", 17),
        ]
    ]

    everything = history(api, unlinked_alice)

    assert [d["deployment_id"] for d in everything] == ids[::-1]
    assert [d["recorded_at"] for d in everything] == sorted((d["recorded_at"] for d in everything), reverse=True)
    assert [d["deployment_id"] for d in history(api, unlinked_alice, limit=2)] == ids[::-1][:2]


def test_history_holds_only_that_api(api: TestClient, unlinked_alice: Headers) -> None:
    link(api, unlinked_alice)
    record(api, unlinked_alice)
    record(api, unlinked_alice, api_id="weather", stack_name="apid-weather")

    assert [d["api_id"] for d in history(api, unlinked_alice)] == [API]
    assert [d["api_id"] for d in history(api, unlinked_alice, "weather")] == ["weather"]


def test_creators_see_only_their_own_records(api: TestClient, unlinked_alice: Headers, unlinked_bob: Headers) -> None:
    link(api, unlinked_alice)
    link(api, unlinked_bob, "210987654321")
    alices = record(api, unlinked_alice).json()
    bobs = record(api, unlinked_bob, account_id="210987654321").json()

    assert history(api, unlinked_alice) == [alices]
    assert history(api, unlinked_bob) == [bobs]


@pytest.mark.parametrize("state", ["never registered", "pending", "unlinked", "another creator's"])
def test_recording_for_an_account_not_linked_is_409(
    api: TestClient, unlinked_alice: Headers, unlinked_bob: Headers, state: str
) -> None:
    if state == "pending":
        register(api, unlinked_alice)
    elif state == "unlinked":
        link(api, unlinked_alice)
        unlink(api, unlinked_alice)
    elif state == "another creator's":
        link(api, unlinked_bob)

    response = record(api, unlinked_alice)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "link the account first (`apid aws link`)" in response.json()["detail"]
    assert history(api, unlinked_alice) == []


def test_the_account_must_be_linked_in_that_region(api: TestClient, unlinked_alice: Headers) -> None:
    link(api, unlinked_alice)

    assert record(api, unlinked_alice, region="us-east-1").status_code == 409


def test_consumers_may_neither_record_nor_list(api: TestClient, mint: Mint) -> None:
    consumer = bearer(mint("consumer-1", "consumers"))

    assert api.post("/deployments", json=report(), headers=consumer).status_code == 403
    assert api.get("/deployments", params={"api_id": API}, headers=consumer).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": "rollback"}, "action"),
        ({"changes": -1}, "changes"),
        ({"status": "done"}, "status"),
        ({"api_id": "Weather API"}, "api_id"),
        ({"account_id": "42"}, "account_id"),
        ({"outputs": {"ApiUrl": 42}}, "outputs.ApiUrl"),
        ({"stack": "apid-x"}, "stack"),
    ],
)
def test_invalid_report_is_422_naming_the_field(
    api: TestClient, unlinked_alice: Headers, change: dict[str, Any], field: str
) -> None:
    link(api, unlinked_alice)

    response = api.post("/deployments", json={**report(), **change}, headers=unlinked_alice)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith(f"{field}: ")
    assert history(api, unlinked_alice) == []


@pytest.mark.parametrize("params", [{}, {"api_id": API, "limit": 0}, {"api_id": API, "limit": 101}])
def test_invalid_history_query_is_422(api: TestClient, unlinked_alice: Headers, params: dict[str, Any]) -> None:
    response = api.get("/deployments", params=params, headers=unlinked_alice)

    assert response.status_code == 422
    assert response.json()["detail"].startswith("query.")
