"""The pages, rendered by the real app against moto: what each shows, who may see it, and what its forms do.

Signed in with the cookie the sign-in form sets, holding a token minted as Cognito
would; the browser tests (tests/e2e/test_web_browser.py) sign in through the form
itself, against the sandbox's emulated Cognito.
"""

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.earnings import PaidInvoice, record_revenue
from api_direct.control_plane.billing.metering import Meter, UsageEvent
from tests.control_plane.billing.usage import API, CAROL, body, marketplace, usage_event
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import DAVE, ALICE, CREATOR_ACCOUNT, CREATOR_REGION, published, table
from tests.control_plane.web.pages import ORIGIN, as_user, text
from tests.control_plane.typed_client import InProcessControlPlane

PLAINTEXT_KEY = re.compile(r"apid_[A-Za-z0-9_-]{43}")


@pytest.fixture
def carols_key(api: TestClient, mint: Mint) -> str:
    """weather-api listed by Alice (plans free and pro), Carol on pro."""
    return marketplace(api, mint, plan="pro")


def now_hour() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:00:00Z")


def test_the_bare_url_leads_to_the_marketplace(api: TestClient) -> None:
    response = api.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, "/web/")


def test_home_lists_apis_with_rating_price_and_subscribers(api: TestClient, carols_key: str) -> None:
    page = api.get("/web/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    words = text(page.text)
    assert "All APIs" in words and "Weather API" in words and "Subscribers 1" in words
    assert "From 0.00 per 1000 calls" in words and "no reviews yet" in words
    assert page.headers["cache-control"] == "no-store"


def test_search_filters_by_words_category_and_price_and_says_when_nothing_matches(
    api: TestClient, carols_key: str
) -> None:
    assert "Weather API" in text(api.get("/web/", params={"q": "forecast", "category": "weather"}).text)
    nothing = text(api.get("/web/", params={"q": "stock quotes"}).text)
    assert "Search results for “stock quotes”" in nothing and "No API matches" in nothing
    assert "No API matches" in text(api.get("/web/", params={"category": "finance"}).text)
    # The form sends every field; an empty one means "any".
    blank = api.get("/web/", params={"q": "", "category": "", "max_price": "", "sort": "rating"})
    assert blank.status_code == 200 and "Weather API" in text(blank.text)


def test_bad_search_input_is_an_error_page_not_json(api: TestClient) -> None:
    page = api.get("/web/", params={"sort": "cheapest"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "Unprocessable Content" in page.text and "sort: Input should be" in text(page.text)


DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Weather", "version": "2.1.0"},
    "paths": {
        "/current/{city}": {
            "parameters": [{"$ref": "#/components/parameters/City"}],
            "get": {
                "summary": "Current conditions",
                "parameters": [
                    {"name": "units", "in": "query", "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
                ],
                "responses": {
                    "200": {"description": "The weather now"},
                    "404": {"$ref": "#/components/responses/Unknown"},
                },
            },
        }
    },
    "components": {
        "parameters": {
            "City": {
                "name": "city",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": "A city name",
            }
        },
        "responses": {"Unknown": {"description": "No such city"}},
    },
}


def test_an_api_page_compares_plans_and_renders_its_openapi_document(api: TestClient, mint: Mint) -> None:
    marketplace(api, mint, openapi=DOCUMENT)
    page = api.get(f"/web/apis/{API}")
    assert page.status_code == 200
    words = text(page.text)
    assert "Plan free pro" in words and "Monthly fee 0.00 USD 9.90 USD" in words
    assert "Price per 1000 calls 0.00 USD 0.0125 USD" in words and "Monthly quota 1,000 unlimited" in words
    assert "GET /current/{city} Current conditions" in words
    assert "city path string yes A city name" in words and "units query string | null no" in words
    assert "Responses: 200 The weather now; 404 No such city" in words
    # Signed out: each plan offers to sign in, and coming back lands on this page.
    assert page.text.count("Sign in to subscribe</a>") == 2 and "next=/web/apis/weather-api" in page.text


def test_an_api_page_gives_agents_its_mcp_url_only_when_it_serves_one(api: TestClient, mint: Mint) -> None:
    marketplace(api, mint)
    served = text(api.get(f"/web/apis/{API}").text)
    published(api, bearer(mint(ALICE, "creators")), mcp=None)
    without = text(api.get(f"/web/apis/{API}").text)
    assert "For AI agents https://abc123.execute-api.eu-west-1.amazonaws.com/v1/mcp (MCP" in served
    assert "For AI agents" not in without


def test_an_api_page_shows_its_route_weights_only_when_it_has_some(api: TestClient, mint: Mint) -> None:
    marketplace(api, mint)
    assert "Route weights" not in api.get(f"/web/apis/{API}").text
    weights = [{"path": "/current/{city}", "methods": ["GET"], "weight": 5}, {"path": "/health", "weight": 0}]
    published(api, bearer(mint(ALICE, "creators")), route_weights=weights)
    words = text(api.get(f"/web/apis/{API}").text)
    assert "Route weights" in words
    assert "Route Methods Units per call /current/{city} GET 5 /health all 0 (free)" in words


def test_a_subscriber_reviews_from_the_page_once_and_everyone_reads_it(
    api: TestClient, carols_key: str, mint: Mint
) -> None:
    as_user(api, mint(CAROL, "consumers"))
    assert "Your review" in api.get(f"/web/apis/{API}").text
    posted = api.post(
        f"/web/apis/{API}/reviews",
        data={"stars": "4", "text": "Accurate <b>enough</b>"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert (posted.status_code, posted.headers["location"]) == (303, "/web/apis/weather-api#reviews-heading")
    api.cookies.clear()
    page = api.get(f"/web/apis/{API}").text
    assert "★★★★☆" in page and "4 out of 5" in text(page) and "Accurate &lt;b&gt;enough&lt;/b&gt;" in page  # escaped
    assert "4.0 / 5 from 1 review" in text(page) and "Your review" not in page
    as_user(api, mint(CAROL, "consumers"))
    assert "Your review" not in api.get(f"/web/apis/{API}").text
    again = api.post(f"/web/apis/{API}/reviews", data={"stars": "5"}, headers=ORIGIN)
    assert again.status_code == 409 and "each consumer reviews an API once" in text(again.text)
    assert api.post(f"/web/apis/{API}/reviews", data={"stars": "9"}, headers=ORIGIN).status_code == 422


def test_search_pages_by_cursor(api: TestClient, carols_key: str, mint: Mint, monkeypatch: pytest.MonkeyPatch) -> None:
    from api_direct.control_plane.web import marketplace as pages

    published(api, bearer(mint(ALICE, "creators")), api_id="climate-api", name="Climate API")
    monkeypatch.setattr(pages, "PAGE_SIZE", 1)
    first = api.get("/web/", params={"sort": "newest"}).text
    more = re.search(r'href="(/web/\?[^"]*cursor=[^"]+)"', first)
    assert "Climate API" in first and "Weather API" not in first and more
    second = api.get(html.unescape(more.group(1))).text
    assert "Weather API" in second and "Climate API" not in second and "More results" not in second


def test_an_unknown_api_is_a_404_page(api: TestClient) -> None:
    page = api.get("/web/apis/nothing-here")
    assert page.status_code == 404 and "No API 'nothing-here' is listed" in text(page.text)


def test_subscribing_shows_the_key_once_with_a_copy_button_and_a_curl_example(
    api: TestClient, carols_key: str, mint: Mint
) -> None:
    as_user(api, mint(DAVE, "consumers"))
    assert text(api.get(f"/web/apis/{API}").text).count("Subscribe") >= 2
    page = api.post(f"/web/apis/{API}/subscribe", data={"plan": "free"}, headers=ORIGIN)
    assert page.status_code == 201 and page.headers["cache-control"] == "no-store"
    [key] = set(PLAINTEXT_KEY.findall(page.text))
    assert "it is shown only once" in page.text and 'data-copy="api-key"' in page.text
    assert f'curl -H "x-api-key: {key}" https://abc123.execute-api.eu-west-1.amazonaws.com/v1/current/' not in text(
        page.text
    )
    assert f'curl -H "x-api-key: {key}" https://abc123.execute-api.eu-west-1.amazonaws.com/v1/' in text(page.text)
    # Never again: not on the API page, not on the dashboard.
    for again in (api.get(f"/web/apis/{API}").text, api.get("/web/dashboard").text):
        assert key not in again and not PLAINTEXT_KEY.search(again)
    assert "You subscribe to the free plan" in text(api.get(f"/web/apis/{API}").text)
    again = api.post(f"/web/apis/{API}/subscribe", data={"plan": "pro"}, headers=ORIGIN)
    assert again.status_code == 409 and "rotate its key or cancel it on your dashboard" in text(again.text)


def test_forms_from_another_site_or_without_an_origin_are_refused(api: TestClient, carols_key: str, mint: Mint) -> None:
    as_user(api, mint(DAVE, "consumers"))
    for headers in ({}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}):
        page = api.post(f"/web/apis/{API}/subscribe", data={"plan": "free"}, headers=headers)
        assert page.status_code == 403 and "sent from this site's own page" in text(page.text)
    assert InProcessControlPlane(api, mint(DAVE, "consumers")).subscriptions() == []


def test_an_unknown_plan_is_explained_on_the_page(api: TestClient, carols_key: str, mint: Mint) -> None:
    as_user(api, mint(DAVE, "consumers"))
    page = api.post(f"/web/apis/{API}/subscribe", data={"plan": "gold"}, headers=ORIGIN)
    assert page.status_code == 422 and "choose one of: free, pro" in page.text


def test_signed_out_pages_redirect_to_sign_in_and_back(api: TestClient) -> None:
    for path in ("/web/dashboard", "/web/portal"):
        response = api.get(path, follow_redirects=False)
        assert (
            response.status_code == 303
            and response.headers["location"] == f"/web/sign-in?next={path.replace('/', '%2F')}"
        )


def test_a_form_sent_after_the_session_expired_signs_in_again_and_returns_to_its_page(
    api: TestClient, carols_key: str
) -> None:
    response = api.post(
        f"/web/apis/{API}/subscribe",
        data={"plan": "free"},
        follow_redirects=False,
        headers={**ORIGIN, "Referer": f"http://testserver/web/apis/{API}"},
    )
    assert (
        response.status_code == 303 and response.headers["location"] == "/web/sign-in?next=%2Fweb%2Fapis%2Fweather-api"
    )


def test_pages_forbid_framing_and_anything_from_elsewhere(api: TestClient) -> None:
    for path in ("/web/", "/web/sign-in", "/web/static/app.css", "/web/nothing"):
        headers = api.get(path).headers
        assert "default-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.get("/health").headers  # the JSON API is not a page


def test_each_role_has_its_own_pages(api: TestClient, carols_key: str, mint: Mint) -> None:
    as_user(api, mint(ALICE, "creators"))
    assert "Signed in as a creator" in text(api.get("/web/").text) and "Creator portal</a>" in api.get("/web/").text
    assert api.get("/web/dashboard").status_code == 403
    assert "consumers subscribe" in api.get(f"/web/apis/{API}").text
    as_user(api, mint(CAROL, "consumers"))
    assert api.get("/web/portal").status_code == 403


def test_an_expired_session_is_signed_out_not_an_error(api: TestClient, mint: Mint) -> None:
    as_user(api, mint(CAROL, "consumers", exp=1))
    assert "Sign in</a>" in api.get("/web/").text
    assert api.get("/web/dashboard", follow_redirects=False).status_code == 303


def test_the_dashboard_shows_usage_this_month_against_the_quota_and_invoices(
    api: TestClient, carols_key: str, mint: Mint
) -> None:
    as_user(api, mint(CAROL, "consumers"))
    assert "0 · units 0 · billable 0 (no monthly quota)" in text(api.get("/web/dashboard").text)
    store = Store(table())
    event = usage_event(carols_key, calls=42, ok=40, hour=now_hour(), record="now")
    assert Meter(store).apply(UsageEvent.parse(body(event)), datetime.now(UTC)) == "applied"
    record_revenue(store, PaidInvoice("in_1", 1900, "usd", API, CAROL), datetime.now(UTC))
    words = text(api.get("/web/dashboard").text)
    assert "42 · units 42 · billable 40 (no monthly quota)" in words
    assert "in_1 weather-api" in words and "19.00 USD" in words


def test_the_quota_is_a_meter(api: TestClient, mint: Mint) -> None:
    marketplace(api, mint, plan="free")
    as_user(api, mint(CAROL, "consumers"))
    page = api.get("/web/dashboard").text
    assert (
        "0 · units 0 of 1,000 (1,000 left) · billable 0 (1,000 free)" in text(page)
        and '<meter min="0" max="1000" high="900" value="0"' in page
    )


def test_rotating_shows_the_new_key_once_and_cancelling_revokes_it(
    api: TestClient, carols_key: str, mint: Mint
) -> None:
    as_user(api, mint(CAROL, "consumers"))
    rotated = api.post(f"/web/dashboard/{API}/rotate", data={}, headers=ORIGIN)
    assert (
        rotated.status_code == 201
        and PLAINTEXT_KEY.search(rotated.text)
        and "The old key no longer works" in rotated.text
    )
    cancelled = api.post(f"/web/dashboard/{API}/cancel", data={}, headers=ORIGIN, follow_redirects=False)
    assert (cancelled.status_code, cancelled.headers["location"]) == (303, "/web/dashboard?done=cancelled")
    words = text(api.get("/web/dashboard?done=cancelled").text)
    assert "Subscription cancelled" in words and "weather-api cancelled" in words
    keys = InProcessControlPlane(api, mint(CAROL, "consumers")).keys()
    assert [key["status"] for key in keys] == ["revoked", "revoked"]


def test_the_portal_shows_deployments_daily_usage_and_earnings(api: TestClient, carols_key: str, mint: Mint) -> None:
    report = {
        "api_id": API,
        "account_id": CREATOR_ACCOUNT,
        "region": CREATOR_REGION,
        "action": "deploy",
        "status": "UPDATE_COMPLETE",
        "stack_name": "apid-weather-api",
        "outputs": {"ApiUrl": "https://abc.execute-api.eu-west-1.amazonaws.com/v1/"},
        "changes": 2,
    }
    InProcessControlPlane(api, mint(ALICE, "creators")).record_deployment(report)
    store = Store(table())
    event = usage_event(
        carols_key, calls=30, hour=now_hour(), record="p", statuses={"2xx": 25, "3xx": 0, "4xx": 3, "5xx": 2}
    )
    assert Meter(store).apply(UsageEvent.parse(body(event)), datetime.now(UTC)) == "applied"
    record_revenue(store, PaidInvoice("in_2", 1900, "usd", API, CAROL), datetime.now(UTC))
    as_user(api, mint(ALICE, "creators"))
    page = api.get("/web/portal")
    assert page.status_code == 200
    words = text(page.text)
    assert "Weather API UPDATE_COMPLETE (deploy) https://abc.execute-api.eu-west-1.amazonaws.com/v1/" in words
    assert f"{datetime.now(UTC).date().isoformat()} 30 25 5" in words  # the numbers under the chart
    assert page.text.count('<rect class="bar calls"') == 14 and "30 calls</title>" in page.text
    assert "19.00 USD" in words and "open" in words and "Billing is not configured" in words


def test_sign_in_checks_the_form_and_keeps_wrong_passwords_out(api: TestClient, aws: Any) -> None:
    page = api.post("/web/sign-in", data={"username": "", "password": ""}, headers=ORIGIN)
    assert page.status_code == 401 and "enter your email address and password" in page.text


@pytest.mark.parametrize("next_url", ["https://evil.example/web/", "//evil.example/web/", "/elsewhere", "/web\\@evil"])
def test_sign_in_never_sends_anyone_off_site(api: TestClient, next_url: str) -> None:
    page = api.get("/web/sign-in", params={"next": next_url})
    assert 'name="next" value="/web/"' in page.text


def test_behind_api_gateway_every_link_keeps_the_stage(api: TestClient, carols_key: str, mint: Mint) -> None:
    """API Gateway strips ``/v1`` from the path it passes on; the browser still needs it in every link."""
    staged = TestClient(api.app, root_path="/v1")
    page = staged.get("/web/")
    links = re.findall(r'(?:href|action|src)="(/[^"]*)"', page.text)
    assert links and all(link.startswith("/v1/web/") for link in links), links
    assert staged.get("/", follow_redirects=False).headers["location"] == "/v1/web/"
    # Sign-in leads back to the page, stage included, from the header's link and from a signed-out page alike.
    assert 'href="/v1/web/sign-in?next=/v1/web/%3Fq%3Dforecast"' in staged.get("/web/", params={"q": "forecast"}).text
    redirect = staged.get("/web/dashboard", follow_redirects=False).headers["location"]
    assert redirect == "/v1/web/sign-in?next=%2Fv1%2Fweb%2Fdashboard"


def test_static_assets_are_served_by_the_app(api: TestClient) -> None:
    css, script = api.get("/web/static/app.css"), api.get("/web/static/app.js")
    assert css.status_code == script.status_code == 200
    assert css.headers["content-type"].startswith("text/css") and "navigator.clipboard" in script.text
