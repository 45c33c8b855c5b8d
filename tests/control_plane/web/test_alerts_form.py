"""The dashboard's alert form per subscription: saved whole, a new webhook secret shown once, refusals as pages."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.webhook_signature import SECRET_PREFIX
from tests.control_plane.billing.usage import API, CAROL, marketplace
from tests.control_plane.tokens import Mint
from tests.control_plane.typed_client import InProcessControlPlane
from tests.control_plane.web.pages import ORIGIN, as_user, text

HOOK = "https://hooks.example.com/apid"
FORM = {"thresholds": "90, 50", "webhook_url": "", "spend_cap": "", "cap_mode": "soft"}


@pytest.fixture
def carol(api: TestClient, mint: Mint) -> InProcessControlPlane:
    """weather-api listed by Alice, Carol on its pro plan and signed in to the web; her API client."""
    marketplace(api, mint, plan="pro")
    as_user(api, mint(CAROL, "consumers"))
    return InProcessControlPlane(api, mint(CAROL, "consumers"))


def save(api: TestClient, **fields: str) -> Any:
    return api.post(f"/web/dashboard/{API}/alerts", data={**FORM, **fields}, headers=ORIGIN, follow_redirects=False)


def test_each_subscription_has_its_alert_form_with_the_defaults(api: TestClient, carol: InProcessControlPlane) -> None:
    page = api.get("/web/dashboard").text
    assert f'action="/web/dashboard/{API}/alerts"' in page
    assert 'name="thresholds" value="80, 100"' in page and "Alerts: 80%, 100%" in text(page)


def test_saving_without_a_new_webhook_goes_back_to_the_dashboard(api: TestClient, carol: InProcessControlPlane) -> None:
    saved = save(api, spend_cap="25.50", cap_mode="hard")
    assert saved.status_code == 303 and saved.headers["location"].endswith(f"/dashboard?done=alerts#alerts-{API}")
    assert (carol.alerts(API)["thresholds"], carol.alerts(API)["spend_cap"], carol.alerts(API)["cap_mode"]) == (
        [50, 90],
        "25.50",
        "hard",
    )
    assert "Alerts saved." in text(api.get("/web/dashboard?done=alerts").text)


def test_a_new_webhook_shows_its_secret_once(api: TestClient, carol: InProcessControlPlane) -> None:
    shown = save(api, webhook_url=HOOK)
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert SECRET_PREFIX in shown.text and "shown only once" in text(shown.text)
    again = save(api, webhook_url=HOOK)
    assert again.status_code == 303
    assert SECRET_PREFIX not in api.get("/web/dashboard").text
    rotated = save(api, webhook_url=HOOK, rotate_secret="on")
    assert rotated.status_code == 200 and SECRET_PREFIX in rotated.text


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"thresholds": "eighty"}, "Thresholds: give whole numbers"),
        ({"thresholds": "0"}, "Thresholds.0"),
        ({"webhook_url": "http://10.0.0.1/h"}, "https://"),
        ({"cap_mode": "hard"}, "needs a spend_cap"),
    ],
)
def test_refusals_are_error_pages_and_change_nothing(
    api: TestClient, carol: InProcessControlPlane, fields: dict[str, str], words: str
) -> None:
    refused = save(api, **fields)
    assert refused.status_code == 422 and words in text(refused.text)
    assert carol.alerts(API)["thresholds"] == [80, 100]


def test_another_consumer_cannot_save_them(api: TestClient, carol: InProcessControlPlane, mint: Mint) -> None:
    as_user(api, mint("consumer-dave", "consumers"))
    assert save(api).status_code == 404
    assert carol.alerts(API)["thresholds"] == [80, 100]
