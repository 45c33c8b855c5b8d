"""The API page's Try it console in headless Chromium, calling a kept `apid sandbox`'s API across origins.

One run of the real command with ``--keep``. The listing's base URL is the https
URL API Gateway gave the stage; Chromium reaches it on loopback (a TLS front relays
to the sandbox's gateway, :mod:`tests.e2e.tls_front`), so the marketplace
(``http://127.0.0.1:<port>``) and the API are different origins and the browser
enforces CORS as it would in AWS: the preflight, the gateway's rejections and the
app's responses must each allow the marketplace's origin.

A consumer opens the API page (signed out: the console needs only a key), picks an
operation, fills its parameters, pastes the sandbox's key and sends: status 200, the
exposed limit headers, the body. A wrong key shows the gateway's 403 and its
message; the curl shown matches the call and the copy button copies it; the key
survives a reload (sessionStorage) and is forgotten on request. Every request the
browser made to the control plane's origin is checked for the key: none carries it.
A script on another origin cannot read the API's answers. Screenshots at desktop
and phone width; the console's controls are all labelled and it fits a phone.
"""

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from api_direct.local.sandbox import Endpoints
from tests.e2e.browser import chromium, screenshot, unlabelled_controls
from tests.e2e.kept_sandbox import finished, recorded_kept_sandbox
from tests.e2e.tls_front import tls_front

WRONG_KEY = "apid_" + "x" * 43
SHOTS = ("try-it-console", "try-it-phone")


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the browser saw, step by step, while the sandbox was kept running."""
    folder = tmp_path_factory.mktemp("try-it")
    return recorded_kept_sandbox(lambda endpoints, record: try_it(endpoints, record, folder), calls=10, temp=folder)


def try_it(endpoints: Endpoints, record: dict[str, Any], folder: Path) -> None:
    record["endpoints"] = endpoints
    host = urlsplit(endpoints.api_url).hostname or ""
    with (
        tls_front(host, endpoints.gateway, folder) as port,
        chromium(f"--host-resolver-rules=MAP {host} 127.0.0.1:{port}") as browser,
    ):
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, base_url=endpoints.control_plane, ignore_https_errors=True
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=endpoints.control_plane)
        page = context.new_page()
        requests: list[Request] = []
        page.on("request", lambda request: requests.append(request))
        page.goto(f"{endpoints.marketplace}apis/weather-api")
        record["console visible"] = page.locator("#try-it").is_visible()
        record["csp"] = page.evaluate(
            "() => fetch(location.href).then((r) => r.headers.get('content-security-policy'))"
        )
        call_with_the_key(page, endpoints, record)
        call_with_a_wrong_key(page, record)
        copy_and_keep(page, endpoints, record)
        another_site(context, endpoints, record)
        record["to the control plane"] = [
            (r.url, r.all_headers(), r.post_data or "") for r in requests if r.url.startswith(endpoints.control_plane)
        ]
        record["to the api"] = [(r.url, r.all_headers()) for r in requests if urlsplit(r.url).hostname == host]
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, ignore_https_errors=True)
        small = phone.new_page()
        small.goto(f"{endpoints.marketplace}apis/weather-api")
        small.locator("#try-it").scroll_into_view_if_needed()
        record["phone overflow"] = small.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        record["phone unlabelled"] = unlabelled_controls(small)
        record.setdefault("screenshots", []).append(screenshot(small, SHOTS[1]))


def call_with_the_key(page: Page, endpoints: Endpoints, record: dict[str, Any]) -> None:
    page.get_by_label("Operation", exact=True).select_option("GET /forecast/{city_id}")
    record["filled"] = {
        "city_id": page.get_by_label(re.compile(r"^city_id")).input_value(),
        "days": page.get_by_label(re.compile(r"^days")).input_value(),
    }
    page.get_by_label(re.compile(r"^days")).fill("3")
    key = page.get_by_label("API key", exact=True)
    key.click()
    page.keyboard.type(endpoints.consumer_key)
    page.keyboard.press("Enter")  # the form submits from the keyboard
    expect(page.locator("#try-status")).to_have_text(re.compile(r"^\d{3}"), timeout=30_000)
    record["status"] = page.locator("#try-status").inner_text()
    record["headers"] = page.get_by_label("Headers the browser may read", exact=True).input_value()
    record["body"] = page.get_by_label("Body", exact=True).input_value()
    record["curl"] = page.get_by_label("curl", exact=True).input_value()
    record["python"] = page.get_by_label("Python (httpx)", exact=True).input_value()
    record["unlabelled"] = unlabelled_controls(page)
    record.setdefault("screenshots", []).append(screenshot(page, SHOTS[0]))


def call_with_a_wrong_key(page: Page, record: dict[str, Any]) -> None:
    page.get_by_label("API key", exact=True).fill(WRONG_KEY)
    page.get_by_role("button", name="Send request").click()
    expect(page.locator("#try-status")).to_have_text(re.compile(r"^403"), timeout=30_000)
    record["wrong key"] = (
        page.locator("#try-status").inner_text(),
        page.get_by_label("Body", exact=True).input_value(),
    )


def copy_and_keep(page: Page, endpoints: Endpoints, record: dict[str, Any]) -> None:
    page.get_by_role("button", name="Copy the curl code").click()
    expect(page.locator(".copy-status")).to_have_text(re.compile("Copied"))
    record["clipboard"] = page.evaluate("navigator.clipboard.readText()")
    page.get_by_label("API key", exact=True).fill(endpoints.consumer_key)
    page.get_by_role("button", name="Send request").click()
    expect(page.locator("#try-status")).to_have_text(re.compile(r"^200"), timeout=30_000)
    page.reload()
    record["kept over a reload"] = page.get_by_label("API key", exact=True).input_value()
    page.get_by_role("button", name="Forget the key").click()
    record["forgotten"] = (
        page.get_by_label("API key", exact=True).input_value(),
        page.evaluate("() => Object.keys(sessionStorage)"),
    )
    page.goto(f"{endpoints.marketplace}?q=weather")  # another page of the site, after the key was used


def another_site(context: Any, endpoints: Endpoints, record: dict[str, Any]) -> None:
    """A page on another origin (the emulator's) tries to read the API with the key: CORS refuses it."""
    page = context.new_page()
    page.goto(endpoints.aws)
    record["another origin"] = page.evaluate(
        """([url, key]) => fetch(url, {headers: {"x-api-key": key}}).then((r) => `read ${r.status}`, (e) => e.name)""",
        [f"{endpoints.api_url.rstrip('/')}/cities", endpoints.consumer_key],
    )
    page.close()


def test_a_call_with_the_key_shows_status_limits_and_body(seen: dict[str, Any]) -> None:
    record = finished(seen)
    endpoints: Endpoints = record["endpoints"]
    api_origin = f"https://{urlsplit(endpoints.api_url).hostname}"
    assert record["console visible"]
    assert f"connect-src 'self' {api_origin};" in record["csp"]
    assert record["filled"] == {"city_id": "london", "days": "7"}  # the parameter's example, the query's default
    assert record["status"] == "200 OK"
    headers = dict(line.split(": ", 1) for line in record["headers"].splitlines())
    assert headers["content-type"] == "application/json"
    assert "ratelimit-policy" in headers  # exposed by CORS; RateLimit needs GetUsage, which the emulator lacks
    body = json.loads(record["body"])
    assert body["city"]["id"] == "london" and len(body["days"]) == 3


def test_a_wrong_key_shows_the_gateways_403_and_why(seen: dict[str, Any]) -> None:
    status, body = finished(seen)["wrong key"]
    assert status.startswith("403") and json.loads(body) == {"message": "Invalid or revoked API key."}


def test_the_curl_shown_and_copied_is_the_call_without_the_key(seen: dict[str, Any]) -> None:
    record = finished(seen)
    endpoints: Endpoints = record["endpoints"]
    url = f"{endpoints.api_url.rstrip('/')}/forecast/london?days=3"
    assert record["curl"] == f"curl -X GET '{url}' \\\n  -H \"x-api-key: $APID_KEY\""
    assert record["clipboard"] == record["curl"]
    assert f'"{url}"' in record["python"] and 'os.environ["APID_KEY"]' in record["python"]
    assert endpoints.consumer_key not in record["curl"] + record["python"]


def test_the_key_goes_to_the_api_only_and_stays_in_the_tab(seen: dict[str, Any]) -> None:
    record = finished(seen)
    key = record["endpoints"].consumer_key
    sent = record["to the control plane"]
    assert len(sent) >= 4  # the page, its script and style, the reload, the search
    for url, headers, body in sent:
        assert key not in url and key not in body and all(key not in value for value in headers.values()), url
    assert any(headers.get("x-api-key") == key for _, headers in record["to the api"])
    assert all("cookie" not in headers and "referer" not in headers for _, headers in record["to the api"])
    assert record["kept over a reload"] == key
    assert record["forgotten"] == ("", [])


def test_another_origins_script_cannot_read_the_api(seen: dict[str, Any]) -> None:
    assert finished(seen)["another origin"] == "TypeError"  # a CORS refusal is a network error to the script


def test_the_console_is_labelled_screenshotted_and_fits_a_phone(seen: dict[str, Any]) -> None:
    record = finished(seen)
    assert [path.stem for path in record["screenshots"]] == list(SHOTS)
    assert all(path.stat().st_size > 10_000 for path in record["screenshots"])
    assert record["unlabelled"] == [] and record["phone unlabelled"] == []
    assert record["phone overflow"] is False
