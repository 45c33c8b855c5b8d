"""Who may do what on the marketplace: one test per cell that matters. AWS is moto; tokens are real."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import creator_key_bus, link_account, listing_body, publish, published

Headers = dict[str, str]


@pytest.fixture
def listed(api: TestClient, alice: Headers) -> dict[str, Any]:
    """Alice's weather-api, whose key bus exists."""
    creator_key_bus()
    return published(api, alice)


def subscribe(api: TestClient, who: Headers | None) -> Any:
    return api.post("/subscriptions", json={"api_id": "weather-api", "plan": "free"}, headers=who or {})


def review(api: TestClient, who: Headers | None) -> Any:
    return api.post("/listings/weather-api/reviews", json={"stars": 5, "text": "great"}, headers=who or {})


def refused(response: Any, status: int, words: str) -> bool:
    return response.status_code == status and words in response.json()["detail"]


def test_a_consumer_cannot_publish(api: TestClient, mint: Mint) -> None:
    link_account("consumer-carol")
    assert refused(publish(api, bearer(mint("consumer-carol", "consumers"))), 403, "only creators")
    assert api.get("/listings/weather-api").status_code == 404


def test_anonymous_cannot_publish(api: TestClient) -> None:
    assert refused(publish(api, {}), 401, "sign in first")


def test_a_creator_cannot_edit_another_creators_listing(api: TestClient, listed: dict[str, Any], bob: Headers) -> None:
    response = publish(api, bob, name="Hijacked", description="mine now")
    assert refused(response, 403, "owned by another creator")
    assert api.get("/listings/weather-api").json() == listed


def test_a_creator_cannot_subscribe(api: TestClient, listed: dict[str, Any], bob: Headers) -> None:
    assert refused(subscribe(api, bob), 403, "only consumers")


def test_anonymous_cannot_subscribe(api: TestClient, listed: dict[str, Any]) -> None:
    assert refused(subscribe(api, None), 401, "sign in first")


def test_anonymous_cannot_review(api: TestClient, listed: dict[str, Any]) -> None:
    assert refused(review(api, None), 401, "sign in first")


def test_a_creator_cannot_review(api: TestClient, listed: dict[str, Any], alice: Headers) -> None:
    assert refused(review(api, alice), 403, "only consumers")


def test_nobody_lists_another_consumers_keys(
    api: TestClient, listed: dict[str, Any], carol: Headers, dave: Headers
) -> None:
    carols = subscribe(api, carol).json()
    daves = subscribe(api, dave).json()
    assert [key["key_id"] for key in api.get("/keys", headers=dave).json()] == [daves["key_id"]]
    assert [key["key_id"] for key in api.get("/keys", headers=carol).json()] == [carols["key_id"]]
    assert refused(api.get("/keys"), 401, "sign in first")


def test_nobody_revokes_another_consumers_key(
    api: TestClient, listed: dict[str, Any], carol: Headers, dave: Headers
) -> None:
    carols = subscribe(api, carol).json()
    response = api.delete(f"/keys/{carols['key_id']}", headers=dave)
    assert (
        response.status_code == 404
        and response.json()["detail"] == f"you have no key {carols['key_id']!r}; list yours with GET /keys"
    )
    assert api.get("/keys", headers=carol).json()[0]["status"] == "active"


def test_nobody_cancels_another_consumers_subscription(
    api: TestClient, listed: dict[str, Any], carol: Headers, dave: Headers
) -> None:
    subscribe(api, carol)
    assert api.delete("/subscriptions/weather-api", headers=dave).status_code == 404
    assert api.post("/subscriptions/weather-api/rotate", headers=dave).status_code == 404
    assert api.get("/subscriptions", headers=carol).json()[0]["status"] == "active"


def test_a_consumer_cannot_review_an_api_they_do_not_subscribe_to(
    api: TestClient, listed: dict[str, Any], carol: Headers
) -> None:
    assert refused(review(api, carol), 403, "subscribe first")


def test_a_consumer_cannot_review_twice(api: TestClient, listed: dict[str, Any], carol: Headers) -> None:
    subscribe(api, carol)
    assert review(api, carol).status_code == 201
    assert refused(review(api, carol), 409, "already reviewed")


def test_anonymous_can_search_and_read(api: TestClient, listed: dict[str, Any]) -> None:
    assert [item["api_id"] for item in api.get("/listings", params={"q": "forecasts"}).json()["items"]] == [
        "weather-api"
    ]
    assert api.get("/listings/weather-api").json()["plans"] == listed["plans"]
    assert api.get("/listings/weather-api/reviews").json() == {"items": [], "next_cursor": None}


def test_an_expired_token_cannot_subscribe_and_public_reads_ignore_it(
    api: TestClient, listed: dict[str, Any], mint: Mint
) -> None:
    expired = bearer(mint("consumer-carol", "consumers", exp=1))
    assert refused(subscribe(api, expired), 401, "invalid access token")
    assert listing_body()["name"] == api.get("/listings/weather-api", headers=expired).json()["name"]


def test_alerts_are_the_subscribing_consumers_alone(
    api: TestClient, listed: dict[str, Any], carol: Headers, dave: Headers, bob: Headers
) -> None:
    subscribe(api, carol)
    path, body = "/subscriptions/weather-api/alerts", {"thresholds": [50], "webhook_url": "https://hooks.example.com"}
    assert api.put(path, json=body, headers=carol).status_code == 200
    assert refused(api.get(path, headers=dave), 404, "no active subscription")
    assert refused(api.put(path, json={"thresholds": [1]}, headers=dave), 404, "no active subscription")
    assert refused(api.get(path, headers=bob), 403, "only consumers")
    assert refused(api.put(path, json=body, headers=bob), 403, "only consumers")
    assert refused(api.get(path), 401, "sign in first")
    assert refused(api.put(path, json=body), 401, "sign in first")
    assert api.get(path, headers=carol).json()["thresholds"] == [50]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/subscriptions/weather-api/credits", None),
        ("POST", "/subscriptions/weather-api/credits/checkout", {"packs": 1}),
        ("PUT", "/subscriptions/weather-api/credits/auto-reload", {"enabled": False}),
    ],
)
def test_prepaid_credit_is_the_subscribing_consumers_alone(
    api: TestClient,
    listed: dict[str, Any],
    carol: Headers,
    dave: Headers,
    bob: Headers,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    subscribe(api, carol)
    assert refused(api.request(method, path, json=body, headers=carol), 409, "is not prepaid"), "carol's, on free"
    assert refused(api.request(method, path, json=body, headers=dave), 404, "no active subscription")
    assert refused(api.request(method, path, json=body, headers=bob), 403, "only consumers")
    assert refused(api.request(method, path, json=body), 401, "sign in first")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/listings/weather-api/invites", {"plan": "pro"}),
        ("GET", "/listings/weather-api/invites", None),
        ("DELETE", "/listings/weather-api/invites/inv_0123456789abcdef", None),
        ("POST", "/listings/weather-api/unpublish", {"now": True}),
    ],
)
def test_a_listings_invites_and_retirement_are_its_creators_alone(
    api: TestClient,
    listed: dict[str, Any],
    carol: Headers,
    bob: Headers,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    assert refused(api.request(method, path, json=body, headers=bob), 403, "another creator")
    assert refused(api.request(method, path, json=body, headers=carol), 403, "only creators")
    assert refused(api.request(method, path, json=body), 401, "sign in first")
    assert [item["api_id"] for item in api.get("/listings").json()["items"]] == ["weather-api"]  # still listed


def test_what_a_listing_pays_is_its_creators_alone(
    api: TestClient, listed: dict[str, Any], carol: Headers, bob: Headers, alice: Headers
) -> None:
    path = "/listings/weather-api/receipts"
    assert api.get(path, headers=alice).status_code == 200
    assert refused(api.get(path, headers=bob), 404, "you have no listed API")  # not revealed to other creators
    assert refused(api.get(path, headers=carol), 403, "only creators")
    assert refused(api.get(path), 401, "sign in first")


def test_refunds_are_creators(api: TestClient, listed: dict[str, Any], carol: Headers) -> None:
    """Another creator's payment is a 404 with billing on: tests/control_plane/billing/test_refunds.py."""
    body = {"invoice_id": "in_0123456789"}
    assert refused(api.post("/earnings/refunds", json=body, headers=carol), 403, "only creators")
    assert refused(api.post("/earnings/refunds", json=body), 401, "sign in first")


def test_a_trials_card_checkout_is_a_consumers(api: TestClient, listed: dict[str, Any], bob: Headers) -> None:
    body = {"api_id": "weather-api", "plan": "pro"}
    assert refused(api.post("/subscriptions/checkout", json=body, headers=bob), 403, "only consumers")
    assert refused(api.post("/subscriptions/checkout", json=body), 401, "sign in first")
