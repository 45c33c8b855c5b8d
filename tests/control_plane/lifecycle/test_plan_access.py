"""Deprecated and private plans: who may pick them, what is shown, and invite links counted exactly."""

from typing import Any

import pytest

from fastapi.testclient import TestClient

from api_direct.control_plane.api import mcp_marketplace, plan_choice
from api_direct.control_plane.api.mcp_marketplace import Caller
from tests.control_plane.lifecycle.plans import plans, publish_plans, subscribe
from tests.control_plane.marketplace import Headers, published, table
from tests.control_plane.tokens import Mint, bearer


def invite(api: TestClient, creator: Headers, **body: Any) -> Any:
    return api.post("/listings/weather-api/invites", json={"plan": "vip", **body}, headers=creator)


def test_a_deprecated_plan_takes_no_new_subscriber_and_keeps_its_own(
    api: TestClient, alice: Headers, carol: Headers
) -> None:
    published(api, alice, plans=plans(old={"deprecated": False}))
    assert subscribe(api, carol, "old").status_code == 201
    publish_plans(api, alice)
    mine = api.get("/subscriptions", headers=carol).json()
    assert [(s["plan"], s["status"]) for s in mine] == [("old", "active")]
    moved = api.put("/subscriptions/weather-api/plan", json={"plan": "free"}, headers=carol)
    assert moved.status_code == 200
    back = api.put("/subscriptions/weather-api/plan", json={"plan": "old"}, headers=carol)
    assert back.status_code == 422
    assert back.json()["detail"] == (
        "plan: old of weather-api is deprecated and takes no new subscribers; choose one of: free, pro"
    )


def test_a_new_consumer_cannot_pick_a_deprecated_plan(api: TestClient, alice: Headers, carol: Headers) -> None:
    publish_plans(api, alice)
    refused = subscribe(api, carol, "old")
    assert refused.status_code == 422 and "deprecated" in refused.json()["detail"]
    listing = api.get("/listings/weather-api").json()
    assert [(p["name"], p["deprecated"]) for p in listing["plans"]] == [("free", False), ("pro", False), ("old", True)]


def test_a_private_plan_without_an_invite_is_answered_as_no_plan(
    api: TestClient, alice: Headers, carol: Headers
) -> None:
    publish_plans(api, alice)
    private, unknown = subscribe(api, carol, "vip"), subscribe(api, carol, "gold")
    assert private.status_code == unknown.status_code == 422
    assert private.json()["detail"] == unknown.json()["detail"].replace("'gold'", "'vip'")
    assert "vip" not in api.get("/listings/weather-api").text


def test_an_invite_opens_its_private_plan_once_per_use(
    api: TestClient, alice: Headers, carol: Headers, mint: Mint
) -> None:
    publish_plans(api, alice)
    created = invite(api, alice, max_uses=1, expires_days=7)
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert created.json()["url"].endswith(f"/apis/weather-api?invite={token}")
    shown = api.get("/listings/weather-api", params={"invite": token}).json()
    assert [p["name"] for p in shown["plans"]] == ["free", "pro", "old", "vip"]
    assert subscribe(api, carol, "vip", token).status_code == 201
    spent = subscribe(api, bearer(mint("consumer-erin", "consumers")), "vip", token)
    assert spent.status_code == 410
    assert spent.json()["detail"].startswith("invite: this invite link has expired or is used up")
    assert subscribe(api, carol, "vip", "not-a-token").status_code in (404, 409)


def test_only_the_invites_hash_is_kept_and_listing_shows_no_token(api: TestClient, alice: Headers) -> None:
    publish_plans(api, alice)
    token = invite(api, alice).json()["token"]
    stored = [item for item in table().scan()["Items"] if item["pk"].startswith("INVITE#")]
    assert len(stored) == 1 and token not in str(stored)
    listed = api.get("/listings/weather-api/invites", headers=alice).json()
    assert token not in str(listed)
    assert [(i["plan"], i["uses"], i["max_uses"], i["usable"]) for i in listed] == [("vip", 0, None, True)]


def test_a_revoked_invite_opens_nothing(api: TestClient, alice: Headers, carol: Headers) -> None:
    publish_plans(api, alice)
    created = invite(api, alice).json()
    assert api.delete(f"/listings/weather-api/invites/{created['id']}", headers=alice).status_code == 204
    assert subscribe(api, carol, "vip", created["token"]).status_code == 404
    assert api.delete(f"/listings/weather-api/invites/{created['id']}", headers=alice).status_code == 404


def test_only_the_owner_manages_invites(api: TestClient, alice: Headers, bob: Headers, carol: Headers) -> None:
    publish_plans(api, alice)
    assert invite(api, bob).status_code == 403
    assert api.get("/listings/weather-api/invites", headers=bob).status_code == 403
    assert invite(api, carol).status_code == 403  # consumers are not creators
    made = invite(api, alice).json()
    assert api.delete(f"/listings/weather-api/invites/{made['id']}", headers=bob).status_code == 403


def test_bad_invite_input_is_one_line(api: TestClient, alice: Headers) -> None:
    publish_plans(api, alice)
    public = invite(api, alice, plan="pro")
    assert public.status_code == 422
    assert public.json()["detail"] == "plan: 'pro' is not a private plan of weather-api; private plans: vip"
    assert invite(api, alice, max_uses=0).status_code == 422
    assert invite(api, alice, expires_days=366).status_code == 422


def test_the_last_use_of_an_invite_goes_to_one_of_two_racing_consumers(
    api: TestClient, alice: Headers, carol: Headers, dave: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dave's check read the invite before Carol's subscription took its last use: his transaction refuses it."""
    publish_plans(api, alice)
    token = invite(api, alice, max_uses=1).json()["token"]
    stale = table().scan()["Items"]
    before = next(item for item in stale if item["pk"].startswith("INVITE#"))
    assert subscribe(api, carol, "vip", token).status_code == 201
    monkeypatch.setattr(plan_choice, "require_invite", lambda *_: before)
    raced = subscribe(api, dave, "vip", token)
    assert raced.status_code == 409, raced.text
    assert [int(i["uses"]) for i in api.get("/listings/weather-api/invites", headers=alice).json()] == [1]
    plan = table().get_item(Key={"pk": "API#weather-api", "sk": "PLAN#vip"})["Item"]
    assert int(plan["subscribers"]) == 1
    assert api.get("/subscriptions", headers=dave).json() == []


def test_agents_see_and_ask_for_only_the_plans_anyone_may_pick(api: TestClient, alice: Headers) -> None:
    publish_plans(api, alice)
    caller = Caller(services=api.app.state.services, site="http://testserver", source="127.0.0.1")  # type: ignore[attr-defined]
    got = mcp_marketplace.answer(caller, "get_api", {"api": "weather-api"})
    assert [plan["name"] for plan in got.structured_content["plans"]] == ["free", "pro"]  # type: ignore[index]
    for plan in ("old", "vip"):
        asked = mcp_marketplace.answer(caller, "subscribe", {"api": "weather-api", "plan": plan})
        assert asked.is_error


def test_search_prices_a_listing_by_the_plans_anyone_may_pick(api: TestClient, alice: Headers) -> None:
    publish_plans(api, alice, plans=plans(vip={"price_per_1000": "0.0001"})[1:])
    [found] = api.get("/listings").json()["items"]
    assert found["min_price_per_1000"] == "0.0125"  # pro's; not the private vip's, nor the deprecated old's 0
    assert api.get("/listings", params={"max_price": "0.001"}).json()["items"] == []
