"""The lifecycle on the pages: only pickable plans (and one's own, and an invite's), retiring, the changelog."""

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient

from tests.control_plane.lifecycle.plans import plans, publish_plans, subscribe
from tests.control_plane.lifecycle.sweeps import Outbox, sweep
from tests.control_plane.marketplace import Headers, published
from tests.control_plane.tokens import Mint
from tests.control_plane.web.pages import ORIGIN, as_user, text

PAGE = "/web/apis/weather-api"


def plan_headers(page: str) -> list[str]:
    """The plans table's column headings, as a reader sees them."""
    head = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    return [text(cell) for cell in head.split('<th scope="col">')[2:]]


def test_the_page_shows_only_the_plans_one_may_pick(api: TestClient, alice: Headers, mint: Mint) -> None:
    publish_plans(api, alice)
    assert plan_headers(api.get(PAGE).text) == ["free", "pro"]
    as_user(api, mint("consumer-carol", "consumers"))
    assert plan_headers(api.get(PAGE).text) == ["free", "pro"]


def test_a_subscriber_of_a_deprecated_plan_sees_it_marked_on_the_page_and_dashboard(
    api: TestClient, alice: Headers, carol: Headers, mint: Mint
) -> None:
    published(api, alice, plans=plans(old={"deprecated": False}))
    assert subscribe(api, carol, "old").status_code == 201
    publish_plans(api, alice)
    as_user(api, mint("consumer-carol", "consumers"))
    assert plan_headers(api.get(PAGE).text) == ["free", "pro", "old deprecated"]
    assert "Your plan old is deprecated: you keep it" in text(api.get("/web/dashboard").text)


def test_an_invite_link_shows_its_private_plan_and_subscribes_with_it(
    api: TestClient, alice: Headers, mint: Mint
) -> None:
    publish_plans(api, alice)
    link = api.post("/listings/weather-api/invites", json={"plan": "vip", "max_uses": 1}, headers=alice).json()
    token = link["token"]
    as_user(api, mint("consumer-carol", "consumers"))
    page = api.get(PAGE, params={"invite": token}).text
    assert plan_headers(page) == ["free", "pro", "vip by invitation"]
    assert page.count(f'name="invite" value="{token}"') == 1  # on the private plan's form only
    assert plan_headers(api.get(PAGE, params={"invite": "wrong"}).text) == ["free", "pro"]
    done = api.post(f"{PAGE}/subscribe", data={"plan": "vip", "invite": token}, headers=ORIGIN)
    assert done.status_code == 201, text(done.text)
    assert "You subscribe to the vip plan" in text(api.get(PAGE).text)
    assert "vip" not in text(api.get("/web/apis/weather-api").text.split("Changelog", 1)[1])


def test_a_private_plan_without_its_invite_is_explained_as_no_plan(api: TestClient, alice: Headers, mint: Mint) -> None:
    publish_plans(api, alice)
    as_user(api, mint("consumer-carol", "consumers"))
    page = api.post(f"{PAGE}/subscribe", data={"plan": "vip"}, headers=ORIGIN)
    assert page.status_code == 422 and "has no plan 'vip'; choose one of: free, pro" in text(page.text)


def test_a_retiring_api_says_so_and_offers_no_subscribe_button(
    api: TestClient, alice: Headers, carol: Headers, mint: Mint
) -> None:
    published(api, alice)
    assert subscribe(api, carol, "pro").status_code == 201
    until = date.today() + timedelta(days=8)
    assert api.post("/listings/weather-api/unpublish", json={"until": str(until)}, headers=alice).status_code == 200
    as_user(api, mint("consumer-dave", "consumers"))
    page = text(api.get(PAGE).text)
    assert f"Retiring on {until}: this API takes no new subscribers." in page
    assert "Subscribe to the" not in api.get(PAGE).text
    assert "weather-api" not in text(api.get("/web/").text)
    as_user(api, mint("consumer-carol", "consumers"))
    assert "and your subscription ends then" in text(api.get(PAGE).text)
    assert f"weather-api is retiring on {until}: your subscription ends then" in text(api.get("/web/dashboard").text)


def test_the_changelog_is_on_the_page_newest_first(api: TestClient, alice: Headers) -> None:
    published(api, alice)
    published(api, alice, name="Weather API v2", note="Better forecasts")
    changelog = text(api.get(PAGE).text).split("Changelog", 1)[1]
    assert changelog.index("Version 2") < changelog.index("Version 1")
    assert "Better forecasts title changed" in changelog


def test_the_dashboard_tells_of_a_price_change_coming(
    api: TestClient, alice: Headers, carol: Headers, mint: Mint
) -> None:
    published(api, alice)
    assert subscribe(api, carol, "pro").status_code == 201
    published(api, alice, plans=plans(pro={"monthly_fee": "12.00"})[:2])
    assert sweep(api.app, Outbox(), datetime.now(UTC)).repriced == 1  # type: ignore[arg-type]
    as_user(api, mint("consumer-carol", "consumers"))
    said = text(api.get("/web/dashboard").text)
    assert "The price of pro changes from your billing period starting" in said
    assert "9.90 a month + 0.0125 per 1,000 units becomes 12.00 a month + 0.0125 per 1,000 units" in said
