"""The dashboard's usage downloads and invoice links: what the API exports, behind the pages' cookie."""

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.earnings import PaidInvoice, record_revenue
from api_direct.control_plane.billing.metering import Meter, UsageEvent
from api_direct.control_plane.billing.periods import hour_text
from tests.control_plane.billing.usage import API, CAROL, body, marketplace, usage_event
from tests.control_plane.marketplace import ALICE, table
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.web.pages import as_user, text

LINK = "https://invoice.stripe.com/i/acct_1/test_YWNjdA"


@pytest.fixture
def carol(api: TestClient, mint: Mint) -> str:
    """Carol on weather-api's free plan with 42 calls this hour and a paid invoice; signed in to the pages."""
    key_id = marketplace(api, mint, plan="free")
    store = Store(table())
    now = datetime.now(UTC)
    event = usage_event(key_id, calls=42, hour=hour_text(now), plan="free", record="now")
    assert Meter(store).apply(UsageEvent.parse(body(event)), now) == "applied"
    paid = PaidInvoice(
        "in_1",
        1900,
        "usd",
        API,
        CAROL,
        hosted_invoice_url=LINK,
        period_start=datetime(2026, 11, 1, tzinfo=UTC),
        period_end=datetime(2026, 12, 1, tzinfo=UTC),
    )
    record_revenue(store, paid, now)
    as_user(api, mint(CAROL, "consumers"))
    return key_id


def links(page: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', page)


def test_the_dashboard_links_to_this_months_usage_as_csv_and_json(api: TestClient, carol: str, mint: Mint) -> None:
    page = api.get("/web/dashboard").text
    assert {"/web/dashboard/usage.csv", "/web/dashboard/usage.json"} <= set(links(page))
    assert '<form method="get" action="/web/dashboard/usage.csv"' in page
    assert 'formaction="/web/dashboard/usage.json"' in page
    token = bearer(mint(CAROL, "consumers"))

    downloaded = api.get("/web/dashboard/usage.csv")
    assert downloaded.status_code == 200 and downloaded.headers["content-type"] == "text/csv; charset=utf-8"
    assert downloaded.headers["content-disposition"].startswith('attachment; filename="usage-')
    assert downloaded.text == api.get("/usage/calls.csv", headers=token).text
    assert downloaded.text.splitlines()[1].endswith(f",{API},{carol},default,42")

    document = api.get("/web/dashboard/usage.json")
    assert document.headers["content-disposition"].endswith('.json"')
    assert document.json() == api.get("/usage/calls", headers=token).json()
    assert document.json()["calls"] == 42


def test_a_range_from_the_form_is_the_apis_range(api: TestClient, carol: str, mint: Mint) -> None:
    query = "from=2026-11-01&to=2026-11-30"
    downloaded = api.get(f"/web/dashboard/usage.json?{query}")
    assert downloaded.json() == api.get(f"/usage/calls?{query}", headers=bearer(mint(CAROL, "consumers"))).json()
    assert (downloaded.json()["from"], downloaded.json()["to"]) == ("2026-11-01", "2026-11-30")


def test_a_bad_range_is_an_error_page_with_the_apis_sentence(api: TestClient, carol: str) -> None:
    response = api.get("/web/dashboard/usage.csv?from=2026-11-30&to=2026-11-01")
    assert response.status_code == 422 and "text/html" in response.headers["content-type"]
    assert "From (2026-11-30) is after to (2026-11-01)" in text(response.text)


def test_each_paid_invoice_links_to_its_stripe_page(api: TestClient, carol: str) -> None:
    page = api.get("/web/dashboard").text
    assert LINK in links(page)
    assert "in_1 weather-api 2026-11-01 to 2026-12-01 19.00 USD" in text(page)
    assert "View invoice in_1" in text(page)


@pytest.mark.parametrize("path", ["/web/dashboard/usage.csv", "/web/dashboard/usage.json"])
def test_a_creator_cannot_download_and_anonymous_is_sent_to_sign_in(api: TestClient, mint: Mint, path: str) -> None:
    assert api.get(path, follow_redirects=False).status_code == 303
    as_user(api, mint(ALICE, "creators"))
    assert api.get(path).status_code == 403
