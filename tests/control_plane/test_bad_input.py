"""Bad input to the control plane API: each is a 4xx problem+json naming what is wrong, and changes nothing.

One marketplace is set up per test (Alice's linked account and published listing,
Carol subscribed to its free plan); each case sends one bad request and checks the
problem, then that the table holds exactly what it held before (the Stripe
webhook's cases are in ``billing/test_stripe_webhook.py``, the usage events' in
``billing/test_metering.py``).
"""

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import (
    CAROL,
    CREATOR_ACCOUNT,
    CREATOR_REGION,
    creator_key_bus,
    listing_body,
    published,
    table,
)
from tests.errors import one_line_problem

Call = Callable[[TestClient, dict[str, dict[str, str]]], Any]


def as_(who: str, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Call:
    return lambda api, people: api.request(method, path, headers={**people[who], **(headers or {})}, **kwargs)


def listing(**overrides: Any) -> Call:
    return as_("alice", "PUT", "/listings/weather-api", json=listing_body(**overrides))


def alerts(**body: Any) -> Call:
    return as_("carol", "PUT", "/subscriptions/weather-api/alerts", json=body)


def credits(method: str, path: str, **kwargs: Any) -> Call:
    return as_("carol", method, f"/subscriptions/weather-api/credits{path}", **kwargs)


def plans_with(**change: Any) -> list[dict[str, Any]]:
    plans = listing_body()["plans"]
    plans[1].update(change)
    return plans


LARGE_OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "W", "version": "1"},
    "paths": {f"/p{i}": {"get": {"summary": "x" * 900}} for i in range(1200)},
}

DEPLOYMENT = {
    "api_id": "weather-api",
    "account_id": CREATOR_ACCOUNT,
    "region": CREATOR_REGION,
    "action": "deploy",
    "status": "UPDATE_COMPLETE",
    "stack_name": "apid-weather-api",
}

CASES = [
    pytest.param(
        as_("alice", "POST", "/accounts", json={"account_id": "12345678901", "region": "eu-west-1"}),
        422,
        "account_id",
        id="account-id-11-digits",
    ),
    pytest.param(
        as_("alice", "POST", "/accounts", json={"account_id": "12345678901a", "region": "eu-west-1"}),
        422,
        "account_id",
        id="account-id-not-digits",
    ),
    pytest.param(
        as_("alice", "POST", "/accounts", json={"account_id": "333333333333", "region": "mars-west-1"}),
        422,
        "region",
        id="region-does-not-exist",
    ),
    pytest.param(
        as_("alice", "POST", "/accounts", json={"account_id": "333333333333"}),
        422,
        "region",
        id="account-region-missing",
    ),
    pytest.param(listing(openapi=LARGE_OPENAPI), 413, "openapi: the document is", id="openapi-oversized"),
    pytest.param(listing(openapi={"swagger": "2.0", "info": {}}), 422, "OpenAPI 3", id="openapi-2"),
    pytest.param(listing(plans=plans_with(price_per_1000="-0.01")), 422, "price_per_1000", id="negative-price"),
    pytest.param(listing(plans=plans_with(rate_limit=0)), 422, "rate_limit", id="zero-rate-limit"),
    pytest.param(
        listing(plans=plans_with(monthly_quota=100_000_000, free_calls=200_000_000)),
        422,
        "free_calls",
        id="free-above-quota",
    ),
    pytest.param(listing(plans=[]), 422, "plans", id="no-plans"),
    pytest.param(listing(account_id="999999999999"), 409, "999999999999", id="listing-from-unlinked-account"),
    pytest.param(listing(base_url="http://evil.example/v1"), 422, "base_url", id="listing-base-url-not-api-gateway"),
    pytest.param(listing(colour="red"), 422, "colour", id="listing-unknown-field"),
    pytest.param(
        as_("alice", "PUT", "/listings/Weather_API!", json=listing_body()), 422, "api_id", id="api-id-illegal"
    ),
    pytest.param(
        as_(
            "alice", "PUT", "/listings/weather-api", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        422,
        "the request body is not valid JSON (at character 1)",
        id="body-not-json",
    ),
    pytest.param(
        as_("dave", "POST", "/listings/weather-api/reviews", json={"stars": 5, "text": "great"}),
        403,
        "subscribe first",
        id="review-without-subscription",
    ),
    pytest.param(
        as_("carol", "POST", "/listings/weather-api/reviews", json={"stars": 6}), 422, "stars", id="review-six-stars"
    ),
    pytest.param(
        as_("carol", "POST", "/subscriptions", json={"api_id": "weather-api", "plan": "free"}),
        409,
        "already",
        id="duplicate-subscription",
    ),
    pytest.param(
        as_("dave", "POST", "/subscriptions", json={"api_id": "weather-api", "plan": "gold"}),
        422,
        "weather-api has no plan 'gold'; choose one of: free, pro",
        id="subscribe-unknown-plan",
    ),
    pytest.param(
        as_("dave", "POST", "/subscriptions", json={"api_id": "no-such-api", "plan": "free"}),
        404,
        "no-such-api",
        id="subscribe-unknown-api",
    ),
    pytest.param(as_("carol", "DELETE", "/keys/key_0000000000000000"), 404, "key", id="revoke-unknown-key"),
    pytest.param(alerts(thresholds=[0]), 422, "thresholds.0", id="alert-threshold-zero"),
    pytest.param(alerts(thresholds=[101]), 422, "thresholds.0", id="alert-threshold-above-100"),
    pytest.param(alerts(thresholds=[80, 80]), 422, "differ", id="alert-thresholds-repeated"),
    pytest.param(alerts(thresholds=[10, 20, 30, 40, 50, 60]), 422, "thresholds", id="alert-thresholds-too-many"),
    pytest.param(alerts(thresholds=[]), 422, "thresholds", id="alert-thresholds-none"),
    pytest.param(alerts(webhook_url="ftp://hooks.example.com/h"), 422, "https://", id="alert-webhook-not-https"),
    pytest.param(alerts(webhook_url="https://192.168.1.10/h"), 422, "private", id="alert-webhook-private-address"),
    pytest.param(alerts(spend_cap="10.00"), 422, "free: a spend cap applies to paid plans only", id="alert-cap-free"),
    pytest.param(alerts(spend_cap="-1"), 422, "spend_cap", id="alert-cap-negative"),
    pytest.param(alerts(spend_cap="1.005"), 422, "spend_cap", id="alert-cap-fractions-of-cents"),
    pytest.param(alerts(cap_mode="hard"), 422, "needs a spend_cap", id="alert-hard-without-cap"),
    pytest.param(alerts(cap_mode="strict"), 422, "cap_mode", id="alert-cap-mode-unknown"),
    pytest.param(alerts(email=False), 422, "email", id="alert-unknown-field"),
    pytest.param(
        as_("dave", "PUT", "/subscriptions/weather-api/alerts", json={}), 404, "no active", id="alert-not-subscribed"
    ),
    pytest.param(as_("carol", "GET", "/subscriptions/no-such-api/alerts"), 404, "no-such-api", id="alerts-unknown-api"),
    pytest.param(credits("POST", "/checkout", json={"packs": 0}), 422, "packs", id="credits-no-packs"),
    pytest.param(credits("POST", "/checkout", json={"packs": 101}), 422, "packs", id="credits-too-many-packs"),
    pytest.param(
        credits("POST", "/checkout", json={"packs": 1}), 409, "free) is not prepaid", id="credits-not-prepaid"
    ),
    pytest.param(credits("GET", "", params={"session_id": "pi_1"}), 422, "session_id", id="credits-bad-session-id"),
    pytest.param(
        credits("PUT", "/auto-reload", json={"enabled": True, "below_units": 0}),
        422,
        "below_units",
        id="reload-below-0",
    ),
    pytest.param(credits("PUT", "/auto-reload", json={"on": True}), 422, "enabled", id="reload-unknown-field"),
    pytest.param(
        as_("dave", "POST", "/subscriptions/weather-api/credits/checkout", json={}), 404, "no active", id="credits-dave"
    ),
    pytest.param(
        as_("nobody", "GET", "/listings", params={"cursor": "not-a-cursor"}), 400, "cursor", id="tampered-cursor"
    ),
    pytest.param(as_("nobody", "GET", "/listings", params={"limit": 10_000}), 422, "limit", id="page-too-large"),
    pytest.param(
        as_("nobody", "POST", "/subscriptions", json={"api_id": "weather-api", "plan": "free"}), 401, "", id="no-token"
    ),
    pytest.param(as_("expired", "GET", "/subscriptions"), 401, "", id="expired-token"),
    pytest.param(as_("forged", "GET", "/subscriptions"), 401, "", id="forged-token"),
    pytest.param(as_("carol", "PUT", "/listings/weather-api", json=listing_body()), 403, "", id="consumer-publishes"),
    pytest.param(
        as_("alice", "POST", "/deployments", json={**DEPLOYMENT, "action": "explode"}),
        422,
        "action",
        id="deployment-record-bad-action",
    ),
    pytest.param(
        as_("alice", "POST", "/deployments", json={**DEPLOYMENT, "changes": -1}),
        422,
        "changes",
        id="deployment-record-negative-changes",
    ),
    pytest.param(
        as_("alice", "POST", "/deployments", json={**DEPLOYMENT, "account_id": "999999999999"}),
        409,
        "999999999999 is not linked",
        id="deployment-record-unlinked-account",
    ),
]


@pytest.fixture
def people(api: TestClient, alice: dict[str, str], mint: Mint) -> dict[str, dict[str, str]]:
    published(api, alice)
    creator_key_bus()
    carol = bearer(mint(CAROL, "consumers"))
    assert api.post("/subscriptions", json={"api_id": "weather-api", "plan": "free"}, headers=carol).status_code == 201
    return {
        "alice": alice,
        "carol": carol,
        "dave": bearer(mint("consumer-dave", "consumers")),
        "nobody": {},
        "expired": bearer(mint(CAROL, "consumers", exp=1_000_000_000)),
        "forged": bearer(mint(CAROL, "consumers", key=rsa.generate_private_key(public_exponent=65537, key_size=2048))),
    }


def everything() -> list[dict[str, Any]]:
    return sorted(table().scan()["Items"], key=lambda item: (item["pk"], item["sk"]))


@pytest.mark.parametrize(("call", "status", "fragment"), CASES)
def test_bad_request_is_a_4xx_problem_and_changes_nothing(
    api: TestClient, people: dict[str, dict[str, str]], call: Call, status: int, fragment: str
) -> None:
    before = everything()
    response = call(api, people)
    assert 400 <= status < 500
    one_line_problem(response, status, fragment)
    assert everything() == before
