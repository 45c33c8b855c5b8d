"""``apid alerts show|set`` through the real CLI against the control plane on loopback."""

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_direct.errors import InputError, StateError
from api_direct.webhook_signature import SECRET_PREFIX
from tests.control_plane.billing.cli_harness import SignIn, apid, ok
from tests.control_plane.billing.usage import API, CAROL, marketplace
from tests.control_plane.tokens import Mint
from tests.errors import one_line_error

HOOK = "https://hooks.example.com/apid"


@pytest.fixture
def carol(control_plane: str, billed_app: FastAPI, sign_in_as: SignIn, mint: Mint) -> str:
    """Carol signed in, on weather-api's pro plan (paid)."""
    key_id = marketplace(TestClient(billed_app), mint, plan="pro")
    sign_in_as(control_plane, CAROL, "consumers")
    return key_id


def test_show_prints_the_defaults(carol: str) -> None:
    shown = ok(apid("alerts", "show", API))
    assert "thresholds: 80%, 100% of the monthly quota" in shown and "webhook:    (none)" in shown
    assert json.loads(ok(apid("alerts", "show", API, "--json")))["thresholds"] == [80, 100]


def test_set_changes_what_it_names_and_prints_the_secret_once(carol: str) -> None:
    first = json.loads(
        ok(apid("alerts", "set", API, "--threshold", "50", "--threshold", "90", "--webhook", HOOK, "--json"))
    )
    assert first["thresholds"] == [50, 90] and first["webhook_secret"].startswith(SECRET_PREFIX)

    capped = ok(apid("alerts", "set", API, "--spend-cap", "49.90", "--hard"))
    assert "spend cap:  49.90 (hard)" in capped and f"webhook:    {HOOK}" in capped
    assert "signing secret" not in capped  # the same webhook: no new secret

    kept = json.loads(ok(apid("alerts", "show", API, "--json")))
    assert (kept["thresholds"], kept["webhook_url"], kept["spend_cap"], kept["cap_mode"]) == (
        [50, 90],
        HOOK,
        "49.90",
        "hard",
    )
    rotated = ok(apid("alerts", "set", API, "--rotate-secret"))
    assert "shown only this once" in rotated and SECRET_PREFIX in rotated

    cleared = json.loads(ok(apid("alerts", "set", API, "--no-webhook", "--no-spend-cap", "--json")))
    assert (cleared["webhook_url"], cleared["spend_cap"], cleared["cap_mode"]) == (None, None, "soft")


def test_refusals_are_one_line_and_change_nothing(carol: str) -> None:
    one_line_error(apid("alerts", "set", API, "--webhook", "http://10.0.0.1/h"), InputError.exit_code, "https://")
    one_line_error(apid("alerts", "set", API, "--spend-cap", "1.005"), InputError.exit_code, "spend_cap")
    one_line_error(apid("alerts", "show", "no-such-api"), StateError.exit_code, "no active subscription to no-such-api")
    assert json.loads(ok(apid("alerts", "show", API, "--json")))["webhook_url"] is None
    usage = apid("alerts", "set", API, "--webhook", HOOK, "--no-webhook")
    assert usage.exit_code == 2 and "not both" in usage.output
