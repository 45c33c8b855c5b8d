"""The web pages in headless Chromium, against a kept `apid sandbox`: what a consumer and a creator do.

One run of the real command with ``--keep``; while it is kept, a browser (Debian's
Chromium, driven by Playwright) goes through the marketplace as people would:

1. search from the home page, open the API, read its plans and reference;
2. the sandbox's consumer signs in through the form, cancels the subscription the
   sandbox made, and subscribes again on the free plan: the key is shown once, with a
   copy button and a curl example, and never again;
3. calls with that key through the kept sandbox's served API: the dashboard's count
   for this month goes up by exactly those calls;
4. the creator signs in: the portal shows the API's deployment, its usage chart,
   and the month paid out by the sandbox, less the platform fee, with Stripe
   Connect's payouts enabled.

Every page is saved as a screenshot (``test-artifacts/screenshots``, or
``$APID_SCREENSHOT_DIR``) at desktop width, and the marketplace, an API and the
portal at a phone's, where none may scroll sideways (wide tables scroll in place).
The browser's steps run inside the sandbox's keep callback, recording what they
saw; the tests below assert on the record, so each failure names its step.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from api_direct.local.sandbox import CONSUMER, CREATOR, Endpoints
from tests.e2e.browser import chromium, screenshot, unlabelled_controls, words
from tests.e2e.kept_sandbox import finished, recorded_kept_sandbox, status

CALLS = 20
#: Calls made with the key the browser got; the dashboard must count exactly these more.
BROWSER_CALLS = 7
PAGES = (
    "01-marketplace",
    "02-search",
    "03-api",
    "04-sign-in",
    "05-dashboard",
    "06-key",
    "07-dashboard-usage",
    "08-portal",
    "09-marketplace-phone",
    "10-api-phone",
    "11-portal-phone",
)


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the browser saw, step by step, while the sandbox was kept running."""
    return recorded_kept_sandbox(browse, calls=CALLS, temp=tmp_path_factory.mktemp("browser-sandbox"))


def browse(endpoints: Endpoints, record: dict[str, Any]) -> None:
    record["endpoints"] = endpoints
    record["unlabelled"] = {}
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=endpoints.control_plane)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=endpoints.control_plane)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        find_and_open(page, record)
        subscribe_once(page, endpoints, record)
        calls_go_up(page, endpoints, record)
        creator_portal(page, endpoints, record)
        phone_context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone_context.add_cookies(context.cookies())  # still the creator
        phone = phone_context.new_page()
        record["phone overflow"] = {}
        for name, url in (
            ("09-marketplace-phone", endpoints.marketplace),
            ("10-api-phone", f"{endpoints.marketplace}apis/weather-api"),
            ("11-portal-phone", endpoints.portal),
        ):
            phone.goto(url)
            record["phone overflow"][name] = phone.evaluate("document.documentElement.scrollWidth > window.innerWidth")
            shot(phone, name, record)


def shot(page: Page, name: str, record: dict[str, Any]) -> None:
    record.setdefault("screenshots", []).append(screenshot(page, name))
    record["unlabelled"][name] = unlabelled_controls(page)


def find_and_open(page: Page, record: dict[str, Any]) -> None:
    page.goto("/")  # the bare URL: redirected to the marketplace
    record["home url"] = page.url
    record["home"] = words(page.inner_text("main"))
    shot(page, "01-marketplace", record)
    page.keyboard.press("Tab")
    record["first tab"] = page.evaluate("document.activeElement.textContent.trim()")
    page.get_by_label("Search").fill("forecast")
    page.get_by_label("Search").press("Enter")
    page.wait_for_url(re.compile(r"q=forecast"))
    record["results"] = words(page.inner_text("main"))
    shot(page, "02-search", record)
    page.get_by_role("link", name="Weather API").click()
    page.wait_for_url(re.compile(r"/web/apis/weather-api$"))
    record["api page"] = words(page.inner_text("main"))
    record["plan columns"] = page.locator("table.plans thead th").all_inner_texts()
    record["operations"] = page.locator("section.operation h3").all_inner_texts()
    shot(page, "03-api", record)


def sign_in(page: Page, username: str, password: str, record: dict[str, Any], name: str | None = None) -> None:
    page.get_by_label("Email address").fill(username)
    page.get_by_label("Password").fill(password)
    if name:
        shot(page, name, record)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def subscribe_once(page: Page, endpoints: Endpoints, record: dict[str, Any]) -> None:
    page.get_by_role("link", name="Sign in to subscribe to the free plan").click()
    sign_in(page, CONSUMER, endpoints.password, record, "04-sign-in")
    record["back on"] = page.url
    record["subscribed before"] = words(page.locator("section[aria-labelledby=plans-heading] .notice").inner_text())
    cookie = next(c for c in page.context.cookies() if c["name"] == "apid_session")
    record["cookie"] = {name: cookie[name] for name in ("httpOnly", "sameSite", "path")}
    page.get_by_role("link", name="dashboard").first.click()
    shot(page, "05-dashboard", record)
    page.get_by_role("button", name="Revoke key and cancel").click()
    page.wait_for_url(re.compile(r"done=cancelled"))
    record["cancelled"] = words(page.inner_text("main"))
    page.goto(f"{endpoints.marketplace}apis/weather-api")
    page.get_by_role("button", name="Subscribe to the free plan").click()
    page.wait_for_url(re.compile(r"/subscribe$"))
    key = page.get_by_label("API key").input_value()
    record["key"] = key
    record["key page"] = words(page.inner_text("main"))
    record["curl"] = page.get_by_label("Try it").input_value()
    page.get_by_role("button", name="Copy key").click()
    expect(page.locator(".copy-status")).to_have_text(re.compile("Copied"))
    record["clipboard"] = page.evaluate("navigator.clipboard.readText()")
    shot(page, "06-key", record)
    page.reload()  # a form's answer: the browser resends it, which subscribes again (refused, with no key)
    record["reloaded"] = (words(page.inner_text("main")), key in page.content())
    page.goto(f"{endpoints.marketplace}apis/weather-api")
    record["key shown again"] = key in page.content()


def calls_go_up(page: Page, endpoints: Endpoints, record: dict[str, Any]) -> None:
    page.goto(f"{endpoints.marketplace}dashboard")
    record["calls before"] = dashboard_calls(page)
    endpoints.deliver()  # the KeyIssued event reaches the API's account (within half a second anyway)
    record["called at"] = datetime.now(UTC)
    record["statuses"] = [status(f"{endpoints.gateway}/cities", record["key"]) for _ in range(BROWSER_CALLS)]
    endpoints.deliver()  # their access-log lines become usage records, applied by the aggregator
    page.reload()
    record["calls after"] = dashboard_calls(page)
    record["dashboard"] = words(page.inner_text("main"))
    shot(page, "07-dashboard-usage", record)


def dashboard_calls(page: Page) -> int:
    return int(page.locator("[data-api=weather-api] .usage .calls").inner_text().replace(",", ""))


def creator_portal(page: Page, endpoints: Endpoints, record: dict[str, Any]) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.goto(endpoints.portal)
    record["portal redirect"] = page.url
    sign_in(page, CREATOR, endpoints.password, record)
    record["portal url"] = page.url
    record["portal"] = words(page.inner_text("main"))
    record["my apis"] = words(page.locator("table.my-apis tbody tr").inner_text())
    record["bars"] = page.locator("figure.chart:not(.margin) svg rect.bar").count()
    record["margin bars"] = page.locator("figure.chart.margin svg rect.bar").count()
    record["margin caption"] = words(page.locator("figure.chart.margin figcaption").inner_text())
    record["months"] = page.locator("table.earnings tbody tr").all_inner_texts()
    page.locator("details summary").first.click()
    record["today's usage"] = words(page.locator("table.usage-table tbody tr").last.inner_text())
    shot(page, "08-portal", record)


def test_search_and_open_an_api(seen: dict[str, Any]) -> None:
    record = finished(seen)
    assert record["home url"] == record["endpoints"].marketplace
    assert "All APIs" in record["home"] and "Weather API" in record["home"]
    assert record["first tab"] == "Skip to content"  # keyboard users skip the navigation first
    assert "Search results for “forecast”" in record["results"] and "Weather API" in record["results"]
    assert record["plan columns"] == ["Plan", "free", "pro", "starter", "credits"]
    assert "Monthly fee 0.00 USD 19.00 USD" in record["api page"]
    assert any("GET /forecast/{city_id}" in op for op in record["operations"])


def test_subscribe_and_see_the_key_once(seen: dict[str, Any]) -> None:
    record = finished(seen)
    endpoints: Endpoints = record["endpoints"]
    assert record["back on"] == f"{endpoints.marketplace}apis/weather-api"  # sign-in returned to the page
    assert "You subscribe to the pro plan" in record["subscribed before"]  # the sandbox's own subscription
    assert record["cookie"] == {"httpOnly": True, "sameSite": "Lax", "path": "/web"}
    assert "Subscription cancelled" in record["cancelled"]
    key = record["key"]
    assert re.fullmatch(r"apid_[A-Za-z0-9_-]{43}", key) and key != endpoints.consumer_key
    assert "it is shown only once" in record["key page"]
    assert record["curl"].startswith(f'curl -H "x-api-key: {key}" ') and record["clipboard"] == key
    reloaded, shown = record["reloaded"]
    assert "You already subscribe to weather-api: rotate its key or cancel it on your dashboard" in reloaded
    assert not shown
    assert not record["key shown again"]


def test_usage_goes_up_after_calls(seen: dict[str, Any]) -> None:
    record = finished(seen)
    assert record["statuses"] == [200] * BROWSER_CALLS
    # The kept sandbox counts new calls in the first hour its story left open (this one or the next): in a month's
    # last hour that may be next month's, which this month's count rightly leaves out.
    called_at: datetime = record["called at"]
    last_hour = (called_at + timedelta(hours=1)).month != called_at.month
    counted = record["calls after"] - record["calls before"]
    assert counted in (BROWSER_CALLS, 0) if last_hour else counted == BROWSER_CALLS
    assert f"Calls in {called_at:%Y-%m}" in record["dashboard"]


def test_the_creator_sees_deployment_usage_and_earnings_after_the_payout(seen: dict[str, Any]) -> None:
    record = finished(seen)
    endpoints: Endpoints = record["endpoints"]
    assert record["portal redirect"].startswith(f"{endpoints.marketplace}sign-in?next=")
    assert record["portal url"] == endpoints.portal
    assert re.search(r"Weather API (CREATE|UPDATE)_COMPLETE \(deploy\) https://", record["my apis"])
    assert record["bars"] == 14 * 3
    # Beside the calls, this month's margin: a bar a day so far, the payout's month less AWS's cost of its calls.
    assert record["margin bars"] == datetime.now(UTC).day
    assert re.search(r"margin per day this month \(14\.21\d{4} USD so far\)", record["margin caption"])
    [month] = record["months"]
    assert (
        "paid" in month
        and "19.00 USD" in month
        and "3.80 USD" in month
        and "14.22 USD" in month
        and "0.98 USD" in month
    )
    assert "payouts enabled" in record["portal"]
    day, calls, billable, errors = record["today's usage"].split()
    assert int(calls) >= CALLS - 2 * CALLS // 10 and int(errors) >= CALLS // 10  # the unknown cities answered 404


def test_every_page_is_screenshotted_usable_by_keyboard_and_screen_reader_and_fits_a_phone(
    seen: dict[str, Any],
) -> None:
    record = finished(seen)
    assert [path.stem for path in record["screenshots"]] == list(PAGES)
    assert all(path.stat().st_size > 10_000 for path in record["screenshots"])
    assert record["unlabelled"] == dict.fromkeys(PAGES, [])
    assert record["phone overflow"] == dict.fromkeys(PAGES[-3:], False)
