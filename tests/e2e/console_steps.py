"""The API page's Try it console in headless Chromium, across origins: the steps of the consumer journey's console part.

The listing's base URL is the https URL API Gateway gave the stage; Chromium
reaches it on loopback (a TLS front relays to the sandbox's gateway,
:mod:`tests.e2e.tls_front`), so the marketplace (``http://127.0.0.1:<port>``) and
the API are different origins and the browser enforces CORS as it would in AWS:
the preflight, the gateway's rejections and the app's responses must each allow
the marketplace's origin.

Signed out (the console needs only a key), a consumer picks an operation, fills
its parameters, pastes the sandbox's key and sends; tries a wrong key; copies the
curl; reloads (the key is kept in sessionStorage) and forgets the key. Every
request the browser made to the control plane's origin is recorded, to be checked
for the key; a page on another origin tries to read the API.
"""

import re
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from api_direct.local.sandbox import Endpoints
from tests.e2e.browser import screenshot, unlabelled_controls

API = "weather-api"
WRONG_KEY = "apid_" + "x" * 43
SHOTS = ("try-it-console", "try-it-phone")


def try_the_console(browser: Browser, context: BrowserContext, endpoints: Endpoints, record: dict[str, Any]) -> None:
    """The console's steps, in ``context`` (whose base URL is the control plane's), and at a phone's width."""
    host = urlsplit(endpoints.api_url).hostname or ""
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=endpoints.control_plane)
    page = context.new_page()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    page.goto(f"{endpoints.marketplace}apis/{API}")
    record["console visible"] = page.locator("#try-it").is_visible()
    record["csp"] = page.evaluate("() => fetch(location.href).then((r) => r.headers.get('content-security-policy'))")
    call_with_the_key(page, endpoints, record)
    call_with_a_wrong_key(page, record)
    copy_and_keep(page, endpoints, record)
    another_site(context, endpoints, record)
    record["to the control plane"] = [
        (r.url, r.all_headers(), r.post_data or "") for r in requests if r.url.startswith(endpoints.control_plane)
    ]
    record["to the api"] = [(r.url, r.all_headers()) for r in requests if urlsplit(r.url).hostname == host]
    page.close()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, ignore_https_errors=True)
    small = phone.new_page()
    small.goto(f"{endpoints.marketplace}apis/{API}")
    small.locator("#try-it").scroll_into_view_if_needed()
    record["phone overflow"] = small.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    record["phone unlabelled"] = unlabelled_controls(small)
    record.setdefault("console screenshots", []).append(screenshot(small, SHOTS[1]))
    phone.close()


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
    record.setdefault("console screenshots", []).append(screenshot(page, SHOTS[0]))


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
