"""Publishing and searching listings: ownership, linked accounts, key routing, and cursors that stay
stable while the marketplace changes. AWS is moto; tokens are real.

The helpers at the top (a linked account, a listing body, an event log on a bus, the
creator's key bus) are shared by the reviews, subscriptions and authorization tests.
"""

import base64
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.bus import creator_key_bus_arn
from api_direct.control_plane.api.listings import ListingSummary, page_of
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import PK, SK, api_pk
from tests.control_plane.resources import BUS
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import (
    ALICE,
    CREATOR_ACCOUNT,
    CREATOR_REGION,
    Headers,
    table,
    link_account,
    listing_body,
    publish,
    published,
    set_counters,
)


# --- publishing -----------------------------------------------------------------------------------


def test_first_publish_creates_the_listing_and_routes_its_keys(
    api: TestClient, alice: Headers, aws: Callable[[str], Any]
) -> None:
    listing = published(api, alice)
    assert listing["api_id"] == "weather-api" and listing["name"] == "Weather API"
    assert (listing["rating"], listing["review_count"], listing["subscribers"]) == (None, 0, 0)
    assert [plan["name"] for plan in listing["plans"]] == ["free", "pro"]
    assert listing["plans"][1]["price_per_1000"] == "0.0125" and listing["plans"][1]["rate_limit"] == 50.5
    assert listing["min_price_per_1000"] == "0"
    assert listing["openapi"] == listing_body()["openapi"]
    assert listing["published_at"] == listing["updated_at"]
    [target] = aws("events").list_targets_by_rule(Rule="apid-keys-weather-api", EventBusName=BUS)["Targets"]
    assert target["Arn"] == creator_key_bus_arn(CREATOR_ACCOUNT, CREATOR_REGION, "weather-api")
    assert target["Arn"] == f"arn:aws:events:{CREATOR_REGION}:{CREATOR_ACCOUNT}:event-bus/apid-weather-api-keys"
    assert target["RoleArn"].endswith(":role/apid-key-forwarding")


def test_anyone_reads_a_listing_with_its_plans_and_document(api: TestClient, alice: Headers) -> None:
    listing = published(api, alice)
    read = api.get("/listings/weather-api")
    assert read.status_code == 200 and read.json() == listing


def test_route_weights_are_listed_as_published_and_none_by_default(api: TestClient, alice: Headers) -> None:
    assert published(api, alice)["route_weights"] == []
    weights = [{"path": "/current/{city}", "methods": ["GET"], "weight": 5}]
    listing = published(api, alice, route_weights=weights)
    assert listing["route_weights"] == weights == api.get("/listings/weather-api").json()["route_weights"]
    bad = api.put(
        "/listings/weather-api", json=listing_body(route_weights=[{"path": "current", "weight": 2}]), headers=alice
    )
    assert bad.status_code == 422 and "route_weights" in bad.text


def test_an_unknown_listing_is_a_404_problem(api: TestClient) -> None:
    response = api.get("/listings/nothing-here")
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert "no API 'nothing-here'" in response.json()["detail"]


def test_republishing_replaces_plans_and_keeps_counters(api: TestClient, alice: Headers) -> None:
    first = published(api, alice)
    set_counters("weather-api", rating_sum=9, review_count=2)
    plans = [{**listing_body()["plans"][1], "name": "business", "price_per_1000": "0.01"}]
    again = published(api, alice, name="Weather API v2", plans=plans)
    assert again["name"] == "Weather API v2" and [p["name"] for p in again["plans"]] == ["business"]
    assert (again["rating"], again["review_count"]) == (4.5, 2)
    assert again["published_at"] == first["published_at"] and again["updated_at"] > first["updated_at"]
    assert again["min_price_per_1000"] == "0.01"
    assert table().get_item(Key={PK: api_pk("weather-api"), SK: "PLAN#free"}).get("Item") is None


def test_the_account_must_be_linked_by_this_creator(api: TestClient, mint: Mint) -> None:
    carol = bearer(mint("creator-carol", "creators"))
    link_account("creator-carol", status="pending")
    link_account("creator-carol", region="us-west-2")
    response = publish(api, carol)
    assert response.status_code == 409 and "link the account first" in response.json()["detail"]
    assert api.get("/listings/weather-api").status_code == 404


def test_an_openapi_document_over_the_limit_is_a_413(
    aws: Callable[[str], Any], settings: ControlPlaneSettings, alice: Headers
) -> None:
    small = TestClient(
        create_app(settings.model_copy(update={"max_openapi_bytes": 200})), raise_server_exceptions=False
    )
    big = {"openapi": "3.1.0", "info": {"title": "x" * 200, "version": "1"}, "paths": {}}
    response = publish(small, alice, openapi=big)
    assert response.status_code == 413 and "limit is 200" in response.json()["detail"]
    assert small.get("/listings/weather-api").status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("base_url", "http://abc.example.com/v1", "URL scheme should be 'https'"),
        ("category", "gossip", "Input should be 'ai'"),
        ("tags", [f"t{i}" for i in range(11)], "at most 10 items"),
        ("tags", ["Bad Tag"], "a lowercase tag"),
        ("tags", ["same", "same"], "tags must be unique"),
        ("openapi", {"swagger": "2.0"}, "OpenAPI 3 document"),
        ("account_id", "12345", "an AWS account id"),
        ("plans", [], "at least 1 item"),
    ],
)
def test_bad_listing_fields_are_named(api: TestClient, alice: Headers, field: str, value: Any, message: str) -> None:
    response = publish(api, alice, **{field: value})
    assert response.status_code == 422 and response.json()["detail"].startswith(field), response.text
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"burst": 0}, "plans.0.burst: Input should be greater than or equal to 1"),
        ({"name": "Free"}, "plans.0.name"),
        ({"monthly_quota": 1, "rate_limit": 2}, "monthly_quota (1) is below rate_limit"),
        ({"price_per_1000": "0.00001"}, "plans.0.price_per_1000"),
        ({"surprise": True}, "plans.0.surprise: Extra inputs are not permitted"),
    ],
)
def test_plans_follow_the_rules_of_apid_toml(
    api: TestClient, alice: Headers, change: dict[str, Any], message: str
) -> None:
    plans = listing_body()["plans"]
    response = publish(api, alice, plans=[{**plans[0], **change}, plans[1]])
    assert response.status_code == 422 and message in response.json()["detail"], response.text


def test_plan_names_must_be_unique(api: TestClient, alice: Headers) -> None:
    plans = listing_body()["plans"]
    response = publish(api, alice, plans=[plans[0], {**plans[1], "name": "free"}])
    assert response.status_code == 422 and "plan names must be unique; repeated: free" in response.json()["detail"]


def test_an_api_id_must_be_a_valid_api_name(api: TestClient, alice: Headers) -> None:
    response = publish(api, alice, api_id="Weather_API")
    assert response.status_code == 422 and "api_id" in response.json()["detail"]


def test_an_unroutable_first_publish_is_withdrawn(
    api: TestClient, alice: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutTargets")

    monkeypatch.setattr(api.app.state.services.bus._events, "put_targets", refuse)
    response = publish(api, alice)
    assert response.status_code == 502 and "nothing was published" in response.json()["detail"]
    assert api.get("/listings/weather-api").status_code == 404
    assert (
        list(
            table().query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": api_pk("weather-api")})[
                "Items"
            ]
        )
        == []
    )


def test_moving_to_another_account_reroutes_unless_there_are_subscribers(
    api: TestClient, alice: Headers, aws: Callable[[str], Any]
) -> None:
    published(api, alice)
    link_account(ALICE, account="333333333333", region="us-west-2")
    published(api, alice, account_id="333333333333", region="us-west-2")
    [target] = aws("events").list_targets_by_rule(Rule="apid-keys-weather-api", EventBusName=BUS)["Targets"]
    assert target["Arn"] == creator_key_bus_arn("333333333333", "us-west-2", "weather-api")
    set_counters("weather-api", subscribers=1)
    response = publish(api, alice)
    assert response.status_code == 409 and "cannot move to another account" in response.json()["detail"]


def test_a_plan_consumers_are_on_cannot_be_dropped(api: TestClient, alice: Headers) -> None:
    published(api, alice)
    table().update_item(
        Key={PK: api_pk("weather-api"), SK: "PLAN#pro"},
        UpdateExpression="SET subscribers = :one",
        ExpressionAttributeValues={":one": 1},
    )
    response = publish(api, alice, plans=listing_body()["plans"][:1])
    assert response.status_code == 409 and "plans pro have subscribers" in response.json()["detail"]
    assert [plan["name"] for plan in api.get("/listings/weather-api").json()["plans"]] == ["free", "pro"]


# --- search ---------------------------------------------------------------------------------------


@pytest.fixture
def marketplace(api: TestClient, alice: Headers, bob: Headers) -> None:
    """Five listings with known ratings, subscribers, prices and words."""
    catalogue = {
        "weather-api": (alice, "Weather API", "Forecasts for any city", "weather", ["forecast"], "0"),
        "storm-alerts": (bob, "Storm alerts", "Severe weather warnings", "weather", ["alerts"], "2"),
        "fx-rates": (alice, "FX rates", "Currency exchange rates", "finance", ["money", "forecast"], "1"),
        "stock-quotes": (bob, "Stock quotes", "Real-time equity prices", "finance", ["stocks"], "5"),
        "image-tags": (alice, "Image tags", "Label photos with AI", "ai", ["vision"], "0.5"),
    }
    for api_id, (who, name, description, category, tags, price) in catalogue.items():
        plans = [{**listing_body()["plans"][1], "price_per_1000": price}]
        published(api, who, api_id, name=name, description=description, category=category, tags=tags, plans=plans)
    set_counters("weather-api", rating_sum=9, review_count=2, subscribers=10)  # 4.5
    set_counters("storm-alerts", rating_sum=4, review_count=1, subscribers=30)  # 4.0
    set_counters("fx-rates", rating_sum=9, review_count=2, subscribers=20)  # 4.5
    set_counters("stock-quotes", rating_sum=0, review_count=0, subscribers=20)  # none


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["api_id"] for item in response.json()["items"]]


@pytest.mark.usefixtures("marketplace")
@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("rating", ["fx-rates", "weather-api", "storm-alerts", "image-tags", "stock-quotes"]),
        ("popularity", ["storm-alerts", "fx-rates", "stock-quotes", "weather-api", "image-tags"]),
        ("newest", ["image-tags", "stock-quotes", "fx-rates", "storm-alerts", "weather-api"]),
    ],
)
def test_sorting_is_a_total_order_with_ties_broken_by_api_id(api: TestClient, sort: str, expected: list[str]) -> None:
    assert ids(api.get("/listings", params={"sort": sort})) == expected


@pytest.mark.usefixtures("marketplace")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "FORECAST"}, {"weather-api", "fx-rates"}),
        ({"q": "weather warnings"}, {"storm-alerts"}),
        ({"q": "weather money"}, set()),
        ({"q": "  rates   currency "}, {"fx-rates"}),
        ({"category": "finance"}, {"fx-rates", "stock-quotes"}),
        ({"max_price": "1"}, {"weather-api", "fx-rates", "image-tags"}),
        ({"max_price": "0.5", "category": "ai"}, {"image-tags"}),
        ({"q": "forecast", "max_price": "0"}, {"weather-api"}),
    ],
)
def test_search_filters(api: TestClient, params: dict[str, str], expected: set[str]) -> None:
    assert set(ids(api.get("/listings", params=params))) == expected


@pytest.mark.usefixtures("marketplace")
def test_summaries_carry_no_document_or_plans(api: TestClient) -> None:
    [item] = api.get("/listings", params={"q": "storm"}).json()["items"]
    assert "openapi" not in item and "plans" not in item
    assert (item["rating"], item["review_count"], item["subscribers"], item["min_price_per_1000"]) == (4.0, 1, 30, "2")


@pytest.mark.usefixtures("marketplace")
def test_pages_follow_cursors_to_the_end(api: TestClient) -> None:
    seen, cursor = [], None
    for _ in range(5):
        page = api.get(
            "/listings", params={"sort": "rating", "limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [item["api_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids(api.get("/listings", params={"sort": "rating"}))


@pytest.mark.usefixtures("marketplace")
def test_cursors_stay_stable_while_listings_are_added_and_rerated(api: TestClient, alice: Headers) -> None:
    first = api.get("/listings", params={"sort": "rating", "limit": 2}).json()
    assert [i["api_id"] for i in first["items"]] == ["fx-rates", "weather-api"]
    published(api, alice, "new-top", name="New top")
    set_counters("new-top", rating_sum=5, review_count=1)  # ranks before the cursor: not shown now
    set_counters("weather-api", rating_sum=10, review_count=2)  # already seen; moves up: not repeated
    set_counters("image-tags", rating_sum=3, review_count=1)  # unseen; moves within the rest
    rest = api.get("/listings", params={"sort": "rating", "limit": 50, "cursor": first["next_cursor"]}).json()
    assert [i["api_id"] for i in rest["items"]] == ["storm-alerts", "image-tags", "stock-quotes"]
    assert rest["next_cursor"] is None


@pytest.mark.usefixtures("marketplace")
@pytest.mark.parametrize("cursor", ["garbage!", base64.urlsafe_b64encode(b'["rating","4.5","x"]').decode(), "W10"])
def test_a_forged_cursor_is_a_400(api: TestClient, cursor: str) -> None:
    response = api.get("/listings", params={"sort": "rating", "cursor": cursor})
    assert response.status_code == 400 and response.json()["detail"].startswith("cursor:")


@pytest.mark.usefixtures("marketplace")
def test_a_cursor_belongs_to_its_sort_order(api: TestClient) -> None:
    cursor = api.get("/listings", params={"sort": "newest", "limit": 1}).json()["next_cursor"]
    response = api.get("/listings", params={"sort": "popularity", "cursor": cursor})
    assert response.status_code == 400 and "sort=newest" in response.json()["detail"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 51}, {"sort": "cheapest"}, {"max_price": "-1"}])
def test_bad_search_parameters_are_422(api: TestClient, params: dict[str, Any]) -> None:
    assert api.get("/listings", params=params).status_code == 422


# --- the ordering, as a property --------------------------------------------------------------------


def summary(api_id: str, rating: float | None, subscribers: int, published_at: str) -> ListingSummary:
    return ListingSummary(
        api_id=api_id,
        name=api_id,
        description="d",
        category="other",
        tags=[],
        base_url="https://x",
        min_price_per_1000=Decimal(0),
        rating=rating,
        review_count=0 if rating is None else 1,
        subscribers=subscribers,
        published_at=published_at,
        updated_at=published_at,
    )


# Few distinct values, so ties are common.
listings_strategy = st.lists(
    st.builds(
        summary,
        st.text("abcdef", min_size=3, max_size=3),
        st.sampled_from([None, 1.0, 3.5, 5.0]),
        st.integers(0, 3),
        st.sampled_from([f"2025-01-0{d}T00:00:00.000000Z" for d in range(1, 4)]),
    ),
    max_size=25,
    unique_by=lambda listing: listing.api_id,
)


def all_pages(
    listings: list[ListingSummary],
    sort: Any,
    limit: int,
    change: Callable[[list[ListingSummary]], list[ListingSummary]] = lambda same: same,
) -> list[str]:
    """Follow cursors to the end, applying ``change`` to the marketplace after the first page."""
    seen: list[str] = []
    page = page_of(listings, sort, limit, None)
    listings = change(listings)
    for _ in range(len(listings) + 1):  # a cursor that never advances fails instead of hanging
        seen += [item.api_id for item in page.items]
        if page.next_cursor is None:
            return seen
        page = page_of(listings, sort, limit, page.next_cursor)
    raise AssertionError(f"more pages than listings: {seen}")


def sort_key(listing: ListingSummary, sort: str) -> Any:
    return {"rating": listing.rating or 0, "popularity": listing.subscribers, "newest": listing.published_at}[sort]


@settings(max_examples=200, deadline=None)
@given(listings_strategy, st.sampled_from(["rating", "popularity", "newest"]), st.integers(1, 6))
def test_pages_concatenate_to_the_whole_order(listings: list[ListingSummary], sort: str, limit: int) -> None:
    seen = all_pages(listings, sort, limit)
    assert sorted(seen) == sorted(listing.api_id for listing in listings)
    by_id = {listing.api_id: listing for listing in listings}
    for earlier, later in zip(seen, seen[1:], strict=False):
        a, b = sort_key(by_id[earlier], sort), sort_key(by_id[later], sort)
        assert a > b or (a == b and earlier < later)


@settings(max_examples=200, deadline=None)
@given(
    listings_strategy,
    st.sampled_from(["rating", "popularity", "newest"]),
    st.integers(1, 6),
    st.builds(
        summary,
        st.text("abcdef", min_size=4, max_size=4),
        st.sampled_from([None, 1.0, 3.5, 5.0]),
        st.integers(0, 3),
        st.sampled_from([f"2025-01-0{d}T00:00:00.000000Z" for d in range(1, 5)]),
    ),
    st.integers(0, 24),
)
def test_changes_between_pages_never_repeat_or_skip_the_others(
    listings: list[ListingSummary], sort: str, limit: int, newcomer: ListingSummary, rerated: int
) -> None:
    """One listing is added and one re-ranked after the first page: every other listing is still seen exactly once."""
    moved = listings[rerated].api_id if rerated < len(listings) else None

    def change(current: list[ListingSummary]) -> list[ListingSummary]:
        changed = [
            item.model_copy(update={"rating": 5.0, "subscribers": 9, "published_at": newcomer.published_at})
            if item.api_id == moved
            else item
            for item in current
        ]
        return [*changed, newcomer]

    seen = all_pages(listings, sort, limit, change)
    others = [listing.api_id for listing in listings if listing.api_id != moved]
    assert sorted(api_id for api_id in seen if api_id in others) == sorted(others)
    assert seen.count(newcomer.api_id) <= 1
