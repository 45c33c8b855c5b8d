"""Reviews: subscribers only, once each, counted in the listing in the same transaction, read newest
first with anonymous cursors. AWS is moto; tokens are real."""

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import ALICE, creator_key_bus, link_account, published

Headers = dict[str, str]


@pytest.fixture
def listed(api: TestClient, mint: Mint) -> None:
    link_account(ALICE)
    published(api, bearer(mint(ALICE, "creators")))
    creator_key_bus()


def subscriber(api: TestClient, mint: Mint, name: str) -> Headers:
    """A consumer with an active subscription to weather-api."""
    headers = bearer(mint(name, "consumers"))
    assert (
        api.post("/subscriptions", json={"api_id": "weather-api", "plan": "free"}, headers=headers).status_code == 201
    )
    return headers


def review(api: TestClient, who: Headers, stars: int = 5, text: str = "") -> Any:
    return api.post("/listings/weather-api/reviews", json={"stars": stars, "text": text}, headers=who)


def rating(api: TestClient) -> tuple[float | None, int]:
    listing = api.get("/listings/weather-api").json()
    return listing["rating"], listing["review_count"]


@pytest.mark.usefixtures("listed")
def test_a_subscriber_reviews_and_the_listing_counts_it(api: TestClient, mint: Mint) -> None:
    response = review(api, subscriber(api, mint, "consumer-1"), 4, "Accurate and fast")
    assert response.status_code == 201
    assert set(response.json()) == {"stars", "text", "created_at"}
    assert rating(api) == (4.0, 1)
    review(api, subscriber(api, mint, "consumer-2"), 5)
    assert rating(api) == (4.5, 2)
    review(api, subscriber(api, mint, "consumer-3"), 5)
    assert rating(api) == (4.7, 3), "4.666… rounds half up to one decimal"


@pytest.mark.usefixtures("listed")
def test_reviews_are_newest_first_and_paginated(api: TestClient, mint: Mint) -> None:
    for number in range(5):
        assert (
            review(api, subscriber(api, mint, f"consumer-{number}"), 1 + number % 5, f"review {number}").status_code
            == 201
        )
    texts, cursor = [], None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/listings/weather-api/reviews", params=params).json()
        texts += [item["text"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert "consumer-" not in base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode(), (
            "reviews are anonymous"
        )
    assert texts == [f"review {number}" for number in reversed(range(5))]
    assert "consumer-" not in api.get("/listings/weather-api/reviews").text


@pytest.mark.usefixtures("listed")
def test_a_review_needs_an_active_subscription(api: TestClient, mint: Mint) -> None:
    former = subscriber(api, mint, "consumer-former")
    api.delete("/subscriptions/weather-api", headers=former)
    response = review(api, former)
    assert response.status_code == 403 and "subscribe first" in response.json()["detail"]
    assert rating(api) == (None, 0)


@pytest.mark.usefixtures("listed")
def test_a_lost_race_leaves_the_rating_untouched(api: TestClient, mint: Mint, monkeypatch: pytest.MonkeyPatch) -> None:
    """The counters move in the review's transaction: a second review that slips past the check changes nothing."""
    who = subscriber(api, mint, "consumer-racer")
    assert review(api, who, 5).status_code == 201
    store: Store = api.app.state.services.store
    real_get = store.get
    monkeypatch.setattr(store, "get", lambda pk, sk: None if sk.startswith("REVIEW#") else real_get(pk, sk))
    response = review(api, who, 1)
    assert response.status_code == 409 and "already reviewed" in response.json()["detail"]
    assert rating(api) == (5.0, 1)


@pytest.mark.parametrize(
    "body", [{"stars": 0}, {"stars": 6}, {"stars": 3, "text": "x" * 2001}, {"stars": 3, "extra": 1}]
)
@pytest.mark.usefixtures("listed")
def test_bad_reviews_are_422(api: TestClient, mint: Mint, body: dict[str, Any]) -> None:
    who = subscriber(api, mint, "consumer-x")
    assert api.post("/listings/weather-api/reviews", json=body, headers=who).status_code == 422


def test_reviewing_an_unknown_api_is_a_404(api: TestClient, mint: Mint) -> None:
    assert (
        api.post("/listings/no-such-api/reviews", json={"stars": 5}, headers=bearer(mint("c", "consumers"))).status_code
        == 404
    )
    assert api.get("/listings/no-such-api/reviews").status_code == 404


@pytest.mark.usefixtures("listed")
@pytest.mark.parametrize(
    "cursor", ["!!", base64.urlsafe_b64encode(b'["SUB#x"]').decode(), base64.urlsafe_b64encode(b"[1]").decode()]
)
def test_a_forged_review_cursor_is_a_400(api: TestClient, cursor: str) -> None:
    assert api.get("/listings/weather-api/reviews", params={"cursor": cursor}).status_code == 400
