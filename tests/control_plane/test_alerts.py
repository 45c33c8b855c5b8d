"""GET and PUT /subscriptions/{api_id}/alerts: a consumer's thresholds, webhook (its secret shown once) and spend cap.

Authorization and malformed bodies are in ``test_authorization_matrix.py`` and
``test_bad_input.py``; what fires the alerts is in ``billing/test_alerting.py``.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.billing.alerting import alerts_key
from api_direct.webhook_signature import SECRET_PREFIX
from tests.control_plane.billing.usage import API, marketplace
from tests.control_plane.marketplace import CAROL, EventLog, Headers, control_plane_events, table

HOOK = "https://hooks.example.com/apid"


@pytest.fixture
def on_free(api: TestClient, mint: Any) -> str:
    return marketplace(api, mint, plan="free")


@pytest.fixture
def on_pro(api: TestClient, mint: Any) -> str:
    return marketplace(api, mint, plan="pro")


def put(api: TestClient, who: Headers, **body: Any) -> Any:
    return api.put(f"/subscriptions/{API}/alerts", json=body, headers=who)


def test_a_subscription_has_the_default_alerts_until_set(api: TestClient, on_free: str, carol: Headers) -> None:
    assert api.get(f"/subscriptions/{API}/alerts", headers=carol).json() == {
        "api_id": API,
        "plan": "free",
        "thresholds": [80, 100],
        "webhook_url": None,
        "spend_cap": None,
        "cap_mode": "soft",
        "capped_until": None,
        "last_delivery": None,
        "webhook_secret": None,
    }


def test_the_webhook_secret_is_shown_once_and_kept_to_sign(api: TestClient, on_free: str, carol: Headers) -> None:
    registered = put(api, carol, thresholds=[100, 50], webhook_url=HOOK)
    assert registered.status_code == 200, registered.text
    assert registered.headers["cache-control"] == "no-store"
    secret = registered.json()["webhook_secret"]
    assert secret.startswith(SECRET_PREFIX) and len(secret) > 40
    assert registered.json()["thresholds"] == [50, 100]
    shown = api.get(f"/subscriptions/{API}/alerts", headers=carol).json()
    assert shown["webhook_url"] == HOOK and shown["webhook_secret"] is None
    assert table().get_item(Key=alerts_key(CAROL, API))["Item"]["webhook_secret"] == secret

    same_url = put(api, carol, thresholds=[90], webhook_url=HOOK)
    assert same_url.json()["webhook_secret"] is None and same_url.json()["thresholds"] == [90]
    assert table().get_item(Key=alerts_key(CAROL, API))["Item"]["webhook_secret"] == secret

    rotated = put(api, carol, webhook_url=HOOK, rotate_secret=True).json()["webhook_secret"]
    assert rotated.startswith(SECRET_PREFIX) and rotated != secret
    assert put(api, carol, webhook_url="https://other.example.com/h").json()["webhook_secret"] not in (None, rotated)


def test_removing_the_webhook_forgets_its_secret(api: TestClient, on_free: str, carol: Headers) -> None:
    put(api, carol, webhook_url=HOOK)
    assert put(api, carol).json()["webhook_url"] is None
    assert "webhook_secret" not in table().get_item(Key=alerts_key(CAROL, API))["Item"]


def test_a_paid_plan_takes_a_hard_spend_cap(api: TestClient, on_pro: str, carol: Headers) -> None:
    response = put(api, carol, spend_cap="25.50", cap_mode="hard")
    assert response.status_code == 200, response.text
    assert (response.json()["spend_cap"], response.json()["cap_mode"]) == ("25.50", "hard")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/h",
        "https://127.0.0.1/h",
        "https://10.1.2.3/h",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/h",
        "https://localhost/h",
        "https://metadata.google.internal/h",
        "https://user:pw@hooks.example.com/h",
        "https://intranet/h",
    ],
)
def test_webhooks_to_private_or_plain_http_hosts_are_refused(
    api: TestClient, on_free: str, carol: Headers, url: str
) -> None:
    response = put(api, carol, webhook_url=url)
    assert response.status_code == 422 and response.json()["detail"].startswith("webhook_url: "), response.text


def test_a_local_control_plane_may_call_loopback_webhooks(
    aws: Callable[[str], Any], settings: ControlPlaneSettings, mint: Any, carol: Headers
) -> None:
    local = TestClient(create_app(settings.model_copy(update={"webhooks_allow_loopback": True})))
    marketplace(local, mint, plan="free")
    assert put(local, carol, webhook_url="http://127.0.0.1:8123/hook").status_code == 200
    assert put(local, carol, webhook_url="http://localhost:8123/hook").status_code == 200
    assert put(local, carol, webhook_url="http://10.0.0.1/hook").status_code == 422


def test_raising_a_hard_cap_that_holds_uncaps_the_keys(api: TestClient, on_pro: str, carol: Headers) -> None:
    keys = control_plane_events()
    assert put(api, carol, spend_cap="5.00", cap_mode="hard").status_code == 200
    until = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    table().update_item(
        Key=alerts_key(CAROL, API), UpdateExpression="SET capped_until = :u", ExpressionAttributeValues={":u": until}
    )
    assert api.get(f"/subscriptions/{API}/alerts", headers=carol).json()["capped_until"] is not None
    keys.read()

    # The fee alone (9.90) is above a 9.00 cap: still capped, nothing sent.
    still = put(api, carol, spend_cap="9.00", cap_mode="hard").json()
    assert still["capped_until"] is not None and _uncapped(keys) == []

    raised = put(api, carol, spend_cap="50.00", cap_mode="hard").json()
    assert raised["capped_until"] is None
    assert _uncapped(keys) == [on_pro]


def test_making_a_held_cap_soft_uncaps_the_keys(api: TestClient, on_pro: str, carol: Headers) -> None:
    keys = control_plane_events()
    put(api, carol, spend_cap="5.00", cap_mode="hard")
    until = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    table().update_item(
        Key=alerts_key(CAROL, API), UpdateExpression="SET capped_until = :u", ExpressionAttributeValues={":u": until}
    )
    keys.read()
    assert put(api, carol, spend_cap="5.00", cap_mode="soft").json()["capped_until"] is None
    assert _uncapped(keys) == [on_pro]


def _uncapped(keys: EventLog) -> list[str]:
    return [detail["key_id"] for kind, detail in keys.details() if kind == "KeyUncapped"]
