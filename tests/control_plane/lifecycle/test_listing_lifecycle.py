"""Unpublishing (off search, no new subscribers, subscriptions end on the date) and the listing's changelog."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from fastapi.testclient import TestClient

from api_direct.control_plane.api.outbox import OUTBOX_DAYS
from api_direct.control_plane.api.bus import _rule_name
from api_direct.control_plane.api.listing_changes import billed_plan
from tests.control_plane.lifecycle.plans import plans, publish_plans, subscribe
from tests.control_plane.lifecycle.sweeps import Outbox, sweep
from tests.control_plane.marketplace import EventLog, Headers, publish, published, table
from api_direct.project import PricingPlan
from tests.control_plane.resources import BUS, REGION


def unpublish(api: TestClient, creator: Headers, **body: Any) -> Any:
    return api.post("/listings/weather-api/unpublish", json=body, headers=creator)


def rules() -> list[str]:
    return [rule["Name"] for rule in boto3.client("events", region_name=REGION).list_rules(EventBusName=BUS)["Rules"]]


def test_the_changelog_lists_each_changing_publish_newest_first(api: TestClient, alice: Headers) -> None:
    published(api, alice)
    published(api, alice)  # no change, no note: no version
    publish_plans(api, alice, name="Weather API 2", note="Two new plans")
    changes = api.get("/listings/weather-api/changelog").json()["items"]
    assert [(v["number"], v["note"]) for v in changes] == [(2, "Two new plans"), (1, None)]
    # vip is private: what changed about it is left out, as the plan itself is.
    assert [c["text"] for c in changes[0]["changes"]] == ["title changed", "plan old added (free)"]
    publish_plans(api, alice, name="Weather API 2", plans=plans(pro={"deprecated": True}, vip={"private": False}))
    assert [c["type"] for c in api.get("/listings/weather-api/changelog").json()["items"][0]["changes"]] == [
        "plan_deprecated",
        "plan_unprivate",
    ]
    assert api.get("/listings/nope/changelog").status_code == 404


def test_a_price_change_without_subscribers_applies_at_once(api: TestClient, alice: Headers) -> None:
    published(api, alice)
    publish_plans(api, alice, plans=plans(pro={"monthly_fee": "12.00"})[:2])
    [change] = api.get("/listings/weather-api/changelog").json()["items"][0]["changes"]
    assert (
        change["text"]
        == "plan pro: 9.90 a month + 0.0125 per 1,000 units → 12.00 a month + 0.0125 per 1,000 units, at once (no subscribers)"
    )
    assert change["effective_from"] is None


def test_making_a_free_plan_with_subscribers_paid_is_refused(api: TestClient, alice: Headers, carol: Headers) -> None:
    published(api, alice)
    assert subscribe(api, carol, "free").status_code == 201
    refused = publish(api, alice, plans=plans(free={"monthly_fee": "1.00"})[:2])
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].startswith("plans: free is free and has subscribers")


def test_unpublishing_hides_the_api_refuses_new_subscribers_and_retires_it_on_the_date(
    api: TestClient, alice: Headers, carol: Headers, dave: Headers, key_bus: EventLog
) -> None:
    published(api, alice)
    assert subscribe(api, carol, "pro").status_code == 201
    assert _rule_name("weather-api") in rules()
    until = date.today() + timedelta(days=10)
    done = unpublish(api, alice, until=until.isoformat())
    assert done.status_code == 200, done.text
    assert done.json()["subscribers"] == 1
    assert api.get("/listings").json()["items"] == []
    refused = subscribe(api, dave, "free")
    assert refused.status_code == 410
    assert refused.json()["detail"] == f"weather-api is retiring on {until} and takes no new subscribers"
    outbox = Outbox()
    assert sweep(api.app, outbox, datetime.now(UTC)).notices == 1  # type: ignore[arg-type]
    [notice] = outbox.notices()
    assert (notice["type"], notice["consumer"], notice["details"]["retiring_at"][:10]) == (
        "listing.retiring",
        "consumer-carol",
        str(until),
    )
    assert sweep(api.app, outbox, datetime.now(UTC)).notices == 0  # type: ignore[arg-type]  # done once
    assert api.get("/subscriptions", headers=carol).json()[0]["status"] == "active"
    retired = sweep(api.app, outbox, datetime.combine(until, datetime.min.time(), UTC))  # type: ignore[arg-type]
    assert retired.retired == 1
    assert api.get("/subscriptions", headers=carol).json()[0]["status"] == "cancelled"
    assert [kind for kind, _ in key_bus.details()][-1] == "KeyRevoked"
    assert _rule_name("weather-api") in rules(), "kept while the outbox may still relay or replay the revocations"
    later = datetime.combine(until + timedelta(days=OUTBOX_DAYS), datetime.min.time(), UTC)
    assert sweep(api.app, outbox, later).retired == 0  # type: ignore[arg-type]
    assert _rule_name("weather-api") not in rules()


def test_publishing_again_before_the_date_lists_it_again_and_nothing_ends(
    api: TestClient, alice: Headers, carol: Headers
) -> None:
    published(api, alice)
    assert subscribe(api, carol, "pro").status_code == 201
    until = date.today() + timedelta(days=7)
    assert unpublish(api, alice, until=until.isoformat()).status_code == 200
    published(api, alice)
    assert [item["api_id"] for item in api.get("/listings").json()["items"]] == ["weather-api"]
    outbox = Outbox()
    summary = sweep(api.app, outbox, datetime.combine(until, datetime.min.time(), UTC))  # type: ignore[arg-type]
    assert (summary.retired, summary.notices, outbox.sent) == (0, 0, [])
    assert api.get("/subscriptions", headers=carol).json()[0]["status"] == "active"
    assert _rule_name("weather-api") in rules()
    assert api.get("/listings/weather-api/changelog").json()["items"][0]["changes"][0]["type"] == "relisted"


def test_only_the_owner_unpublishes_and_bad_dates_are_one_line(
    api: TestClient, alice: Headers, bob: Headers, carol: Headers
) -> None:
    published(api, alice)
    assert unpublish(api, bob).status_code == 403
    assert unpublish(api, carol).status_code == 403
    soon = unpublish(api, alice, until=(date.today() + timedelta(days=3)).isoformat())
    assert soon.status_code == 422
    assert soon.json()["detail"].endswith("give subscribers notice, or end it now (--now)")
    assert unpublish(api, alice, until=(date.today() + timedelta(days=400)).isoformat()).status_code == 422
    assert unpublish(api, alice, until=date.today().isoformat(), now=True).status_code == 422
    default = unpublish(api, alice).json()
    assert default["retiring_at"][:10] == str(date.today() + timedelta(days=30))
    now = unpublish(api, alice, now=True).json()
    assert datetime.fromisoformat(now["retiring_at"]) <= datetime.now(UTC)
    listing = table().get_item(Key={"pk": "API#weather-api", "sk": "LISTING"})["Item"]
    assert listing["retiring_at"][:10] == str(date.today())


def test_during_the_notice_a_subscriber_is_billed_and_alerted_at_the_old_price(
    api: TestClient, alice: Headers, carol: Headers, dave: Headers
) -> None:
    published(api, alice)
    assert subscribe(api, carol, "pro").status_code == 201
    published(api, alice, plans=plans(pro={"monthly_fee": "12.00", "free_calls": 500})[:2])
    assert subscribe(api, dave, "pro").status_code == 201  # after the publish: the new price at once
    assert sweep(api.app, Outbox(), datetime.now(UTC)).repriced == 1  # type: ignore[arg-type]
    store = api.app.state.services.store  # type: ignore[attr-defined]
    plan = PricingPlan.of(store.get("API#weather-api", "PLAN#pro"))
    carols, daves = (store.get(f"CONSUMER#{who}", "SUB#weather-api") for who in ("consumer-carol", "consumer-dave"))
    assert (billed_plan(plan, carols).monthly_fee, billed_plan(plan, carols).free_calls) == (Decimal("9.90"), 0)
    assert billed_plan(plan, daves) == plan
