"""The dashboard's keys: each with its name and last use, rotated with a chosen grace period."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.control_plane.billing.usage import CAROL, marketplace
from tests.control_plane.tokens import Mint
from tests.control_plane.typed_client import InProcessControlPlane
from tests.control_plane.web.pages import ORIGIN, as_user, text

PLAINTEXT_KEY = re.compile(r"apid_[A-Za-z0-9_-]{43}")


@pytest.fixture
def carols_key(api: TestClient, mint: Mint) -> str:
    """weather-api listed by Alice, Carol on its free plan and signed in to the web: her key's id."""
    key_id = marketplace(api, mint, plan="free")
    as_user(api, mint(CAROL, "consumers"))
    return key_id


def carols_keys(api: TestClient, mint: Mint) -> dict[str, Any]:
    """Carol's keys by id, as the API lists them."""
    listed = InProcessControlPlane(api, mint(CAROL, "consumers")).keys()
    return {key["key_id"]: key for key in listed}


def test_the_keys_table_offers_a_rotation_per_active_key(api: TestClient, carols_key: str) -> None:
    page = api.get("/web/dashboard").text
    assert f'action="/web/dashboard/keys/{carols_key}/rotate"' in page
    assert '<option value="24h" selected>' in page
    assert f"{carols_key} default weather-api free active" in text(page) and "never" in text(page)


def test_rotating_with_a_grace_period_shows_the_new_key_once_and_keeps_the_old_one(
    api: TestClient, carols_key: str, mint: Mint
) -> None:
    rotated = api.post(f"/web/dashboard/keys/{carols_key}/rotate", data={"grace": "1h"}, headers=ORIGIN)
    assert rotated.status_code == 201 and rotated.headers["cache-control"] == "no-store"
    assert PLAINTEXT_KEY.search(rotated.text) and "The old key keeps working until the end of its grace" in rotated.text
    keys = carols_keys(api, mint)
    assert keys[carols_key]["status"] == "expiring" and len(keys) == 2
    page = api.get("/web/dashboard").text
    assert f'action="/web/dashboard/keys/{carols_key}/rotate"' not in page
    assert "expiring (until" in text(page)


def test_rotating_with_no_grace_revokes_the_old_key(api: TestClient, carols_key: str, mint: Mint) -> None:
    rotated = api.post(f"/web/dashboard/keys/{carols_key}/rotate", data={"grace": "0"}, headers=ORIGIN)
    assert rotated.status_code == 201 and "The old key no longer works" in rotated.text
    keys = carols_keys(api, mint)
    assert keys[carols_key]["status"] == "revoked"


def test_a_grace_the_form_does_not_offer_is_refused(api: TestClient, carols_key: str, mint: Mint) -> None:
    refused = api.post(f"/web/dashboard/keys/{carols_key}/rotate", data={"grace": "99y"}, headers=ORIGIN)
    assert refused.status_code == 422 and "Grace must be one of 0, 1h, 24h, 7d" in text(refused.text)
    assert [key["status"] for key in carols_keys(api, mint).values()] == ["active"]


def test_another_consumers_key_is_not_found(api: TestClient, carols_key: str, mint: Mint) -> None:
    as_user(api, mint("consumer-dave", "consumers"))
    refused = api.post(f"/web/dashboard/keys/{carols_key}/rotate", data={"grace": "1h"}, headers=ORIGIN)
    assert refused.status_code == 404 and PLAINTEXT_KEY.search(refused.text) is None


def test_a_rotation_needs_a_signed_in_consumer(api: TestClient, carols_key: str) -> None:
    api.cookies.clear()
    refused = api.post(
        f"/web/dashboard/keys/{carols_key}/rotate", data={"grace": "1h"}, headers=ORIGIN, follow_redirects=False
    )
    assert refused.status_code in (303, 401) and PLAINTEXT_KEY.search(refused.text) is None
