"""A consumer's journey in headless Chromium against a kept `apid sandbox`: try, alert, call, rotate.

One run of the real command with ``--keep``, the weather example's paid plan cut to
a quota of :data:`~tests.e2e.small_quota.QUOTA` calls a month. While it is kept, a
browser does what a consumer would:

1. opens the API's page and uses its Try it console (:mod:`tests.e2e.console_steps`):
   an operation called with the sandbox's key across origins (the listing's https
   URL reaches the sandbox's gateway through a TLS front, so CORS is Chromium's, as
   in AWS), a wrong key's readable 403, the curl copied, the key kept in the tab
   and never sent to the control plane, another origin refused, a phone's width;
2. signs in, and on the dashboard sets an 80 % alert with a webhook on this machine:
   the signing secret is shown once;
3. calls the API until the alert fires: the email is in the emulator's SES, the
   webhook arrives signed with that secret, and the dashboard shows the delivery;
4. rotates the key with the default grace period: the new key is shown once, and
   both keys work while the old one is in its grace;
5. sets a hard spend cap below the plan's fee on the dashboard: once usage is
   counted the keys answer 402, and raising the cap lets them through again.

Last, the sandbox's logs are searched for the webhook's signing secret: shown
once, logged never.

The browser's steps run inside the sandbox's keep callback, recording what they
saw; the tests assert on the record, so each failure names its step.
"""

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from api_direct.local.emulator import sent_emails
from api_direct.local.sandbox import CONSUMER, Endpoints
from api_direct.webhook_signature import SIGNATURE_HEADER, verify
from tests.control_plane.webhook_receiver import Receiver, webhook_receiver
from tests.e2e.browser import chromium, screenshot, words
from tests.e2e.console_steps import API, SHOTS, try_the_console
from tests.e2e.kept_sandbox import deliver_until, fetch, finished, recorded_kept_sandbox, status
from tests.e2e.small_quota import QUOTA, small_quota_project
from tests.e2e.tls_front import tls_front


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the browser saw, step by step, while the sandbox was kept running."""
    folder = tmp_path_factory.mktemp("journey")
    project = small_quota_project(tmp_path_factory.mktemp("project"))
    return recorded_kept_sandbox(
        lambda endpoints, record: journey(endpoints, record, folder), calls=5, temp=folder, project=project
    )


def journey(endpoints: Endpoints, record: dict[str, Any], folder: Path) -> None:
    record["endpoints"] = endpoints
    host = urlsplit(endpoints.api_url).hostname or ""
    with (
        webhook_receiver() as receiver,
        tls_front(host, endpoints.gateway, folder) as port,
        chromium(f"--host-resolver-rules=MAP {host} 127.0.0.1:{port}") as browser,
    ):
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, base_url=endpoints.control_plane, ignore_https_errors=True
        )
        try_the_console(browser, context, endpoints, record)
        page = context.new_page()
        set_an_alert(page, endpoints, receiver, record)
        call_until_it_fires(page, endpoints, receiver, record)
        rotate_with_grace(page, endpoints, record)
        hard_cap(page, endpoints, receiver, record)
    record["logs"] = "\n".join(path.read_text(errors="replace") for path in endpoints.workdir.rglob("*.log"))


def set_an_alert(page: Page, endpoints: Endpoints, receiver: Receiver, record: dict[str, Any]) -> None:
    page.goto(f"{endpoints.marketplace}dashboard")  # signed out: the sign-in form, then back here
    page.get_by_label("Email address").fill(CONSUMER)
    page.get_by_label("Password").fill(endpoints.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard"))
    card = page.locator(f"[data-api={API}]")
    card.locator("details.alerts summary").click()
    card.get_by_label(re.compile(r"^Thresholds")).fill("80")
    card.get_by_label(re.compile(r"^Webhook URL")).fill(receiver.url)
    card.get_by_role("button", name="Save alerts").click()
    record["secret"] = page.get_by_label("Signing secret").input_value()
    record["secret page"] = words(page.inner_text("main"))
    record.setdefault("screenshots", []).append(screenshot(page, "journey-2-alert-secret"))
    page.goto(f"{endpoints.marketplace}dashboard")
    record["secret shown again"] = record["secret"] in page.content()


def call_until_it_fires(page: Page, endpoints: Endpoints, receiver: Receiver, record: dict[str, Any]) -> None:
    """Calls paced by a delivery each (the plan allows 5 a second), until the webhook arrives; a bound of twice the quota."""
    statuses: list[int] = []
    while not receiver.received and len(statuses) < 2 * QUOTA:
        statuses.append(status(f"{endpoints.gateway}/cities", endpoints.consumer_key))
        endpoints.deliver()
    record["statuses"] = statuses
    record["webhook fired"] = deliver_until(lambda: bool(receiver.received), endpoints)
    record["emailed"] = deliver_until(
        lambda: any("80%" in email.subject for email in sent_emails(endpoints.aws)), endpoints
    )
    record["webhooks"] = list(receiver.received)
    record["emails"] = sent_emails(endpoints.aws)
    page.reload()
    page.locator(f"[data-api={API}] details.alerts summary").click()
    record["dashboard alerts"] = words(page.locator(f"[data-api={API}] details.alerts").inner_text())
    record.setdefault("screenshots", []).append(screenshot(page, "journey-3-alert-delivered"))


def rotate_with_grace(page: Page, endpoints: Endpoints, record: dict[str, Any]) -> None:
    row = page.locator("tr[data-key]").filter(has_text="active")
    record["old key id"] = row.get_attribute("data-key")
    record["grace chosen"] = row.get_by_label("Old key works for").input_value()
    row.get_by_role("button", name="Rotate", exact=True).click()
    new_key = page.get_by_label(re.compile(r"^API key")).input_value()
    record["new key"] = new_key
    record["rotated page"] = words(page.inner_text("main"))
    endpoints.deliver()  # the new key's KeyIssued and the old key's KeyRevoked with its expiry reach the API's account
    gateway = f"{endpoints.gateway}/cities"
    record["during grace"] = {
        "old": status(gateway, endpoints.consumer_key),
        "new": status(gateway, new_key),
    }
    page.goto(f"{endpoints.marketplace}dashboard")
    record["keys table"] = [words(text) for text in page.locator("tr[data-key]").all_inner_texts()]
    record.setdefault("screenshots", []).append(screenshot(page, "journey-4-rotated"))


def hard_cap(page: Page, endpoints: Endpoints, receiver: Receiver, record: dict[str, Any]) -> None:
    """A hard cap of 10.00 is below the paid plan's monthly fee: the next counted call reaches it."""
    gateway = f"{endpoints.gateway}/cities"
    endpoints.deliver()  # the calls made so far counted before the cap exists: the next counted call reaches it
    save_cap(page, endpoints, "10", "hard")
    record["before cap"] = status(gateway, endpoints.consumer_key)

    def capped() -> bool:
        page.reload()
        return page.locator(f"[data-api={API}] .warning").count() > 0

    record["capped"] = deliver_until(capped, endpoints)
    endpoints.deliver()  # the KeyCapped events of the cap just shown reach the API's key table
    record["cap warning"] = words(page.locator(f"[data-api={API}] details.alerts").inner_text())
    record.setdefault("screenshots", []).append(screenshot(page, "journey-5-capped"))
    record["while capped"] = [status(gateway, endpoints.consumer_key) for _ in range(2)]
    record["capped body"] = fetch(gateway, endpoints.consumer_key)
    save_cap(page, endpoints, "1000", "hard")
    endpoints.deliver()
    record["after raising"] = status(gateway, endpoints.consumer_key)
    record["cap events"] = [json.loads(call.body)["type"] for call in receiver.received]


def save_cap(page: Page, endpoints: Endpoints, amount: str, mode: str) -> None:
    page.goto(f"{endpoints.marketplace}dashboard")
    card = page.locator(f"[data-api={API}]")
    if card.locator("details.alerts").get_attribute("open") is None:
        card.locator("details.alerts summary").click()
    card.get_by_label(re.compile(r"^Monthly spend cap")).fill(amount)
    card.get_by_label("At the cap").select_option(mode)
    card.get_by_role("button", name="Save alerts").click()
    page.wait_for_load_state()


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
    assert [path.stem for path in record["console screenshots"]] == list(SHOTS)
    assert all(path.stat().st_size > 10_000 for path in record["console screenshots"])
    assert record["unlabelled"] == [] and record["phone unlabelled"] == []
    assert record["phone overflow"] is False


def test_the_alerts_signing_secret_is_shown_once(seen: dict[str, Any]) -> None:
    record = finished(seen)
    assert record["secret"].startswith("whsec_") and "shown only once" in record["secret page"]
    assert not record["secret shown again"]


def test_the_80_percent_alert_fires_by_email_and_signed_webhook(seen: dict[str, Any]) -> None:
    record = finished(seen)
    assert record["webhook fired"] and record["emailed"]
    assert set(record["statuses"]) <= {200, 429}, "429 only from the plan's rate, never the quota, before 80 %"
    first = record["webhooks"][0]
    assert verify(first.body, first.headers[SIGNATURE_HEADER.lower()], record["secret"]) > 0
    event = json.loads(first.body)
    assert (event["type"], event["api_id"], event["threshold"], event["limit"]) == (
        "quota.threshold_reached",
        API,
        80,
        QUOTA,
    )
    assert 0.8 * QUOTA <= event["used"] <= QUOTA
    [email] = [email for email in record["emails"] if "80%" in email.subject]
    assert (email.source, email.to) == ("alerts@sandbox.example", (CONSUMER,)) and event["id"] in email.body
    assert email.subject == f"{API}: 80% of your monthly quota used"
    assert "quota.threshold_reached delivered" in record["dashboard alerts"]


def test_a_rotated_key_and_its_predecessor_both_work_during_the_grace(seen: dict[str, Any]) -> None:
    record = finished(seen)
    assert record["grace chosen"] == "24h"
    assert record["new key"].startswith("apid_") and record["new key"] != record["endpoints"].consumer_key
    assert "keeps working until the end of its grace period" in record["rotated page"]
    assert record["during grace"] == {"old": 200, "new": 200}
    old = next(row for row in record["keys table"] if row.startswith(record["old key id"]))
    assert "expiring (until" in old


def test_a_hard_cap_answers_402_until_it_is_raised(seen: dict[str, Any]) -> None:
    record = finished(seen)
    assert record["before cap"] == 200
    assert record["capped"], "the cap never held"
    assert "keys answer 402" in record["cap warning"]
    assert record["while capped"] == [402, 402]
    capped = record["capped body"]
    assert capped.header_values("content-type") == ["application/problem+json"]
    problem = json.loads(capped.body)
    assert (problem["status"], problem["title"]) == (402, "Payment Required") and "spend cap" in problem["detail"]
    assert record["after raising"] == 200
    assert "spend_cap.reached" in record["cap events"]


def test_the_signing_secret_is_never_logged(seen: dict[str, Any]) -> None:
    record = finished(seen)
    assert "alert messages" in record["logs"], "the alert deliverer's log is among those searched"
    assert record["secret"] not in record["logs"]
