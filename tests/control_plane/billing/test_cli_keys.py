"""``apid keys add | rotate | list | revoke`` through the real CLI against a real control plane.

The control plane runs under uvicorn on loopback (moto, the Stripe fake); the harness is this
folder's, since it is the one that serves the app the CLI talks to.
"""

import json
import re

import boto3
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.key_use import record_use
from api_direct.errors import InputError, StateError
from tests.control_plane.billing.cli_harness import SignIn, apid, ok
from tests.control_plane.billing.usage import API, CAROL, marketplace
from tests.control_plane.resources import REGION, TABLE
from tests.control_plane.tokens import Mint
from tests.errors import one_line_error

PLAINTEXT_KEY = re.compile(r"apid_[A-Za-z0-9_-]{43}")


@pytest.fixture
def carol(control_plane: str, billed_app: FastAPI, sign_in_as: SignIn, mint: Mint) -> str:
    """Carol signed in, on weather-api's free plan: her first key's id."""
    key_id = marketplace(TestClient(billed_app), mint, plan="free")
    sign_in_as(control_plane, CAROL, "consumers")
    return key_id


def listed() -> dict[str, dict[str, str]]:
    return {key["key_id"]: key for key in json.loads(ok(apid("keys", "list", "--json")))["items"]}


def test_add_shows_the_named_key_once_and_list_shows_names_and_last_use(carol: str) -> None:
    out = ok(apid("keys", "add", "--api", API, "--name", "ci"))
    [key] = PLAINTEXT_KEY.findall(out)
    assert "Key 'ci' added to weather-api" in out and "shown only this once" in out
    record_use(Store(boto3.resource("dynamodb", region_name=REGION).Table(TABLE)), carol, "2026-11-25T14:00:00Z")
    text = ok(apid("keys", "list"))
    assert key not in text and not PLAINTEXT_KEY.search(text)
    [first] = [line for line in text.splitlines() if line.startswith(carol)]
    assert "default" in first and "active" in first and "last used 2026-11-25T14:00:00Z" in first
    assert [line for line in text.splitlines() if " ci " in line][0].endswith("last used never")
    assert {(k["name"], k["status"]) for k in listed().values()} == {("default", "active"), ("ci", "active")}


def test_rotate_keeps_the_old_key_for_the_grace_period(carol: str) -> None:
    result = json.loads(ok(apid("keys", "rotate", carol, "--grace", "2h", "--json")))
    assert (result["replaced"], result["grace_seconds"], result["name"]) == (carol, 7200, "default")
    assert PLAINTEXT_KEY.fullmatch(result["api_key"])
    keys = listed()
    assert (keys[carol]["status"], keys[result["key_id"]]["status"]) == ("expiring", "active")
    assert f"(until {keys[carol]['expires_at']})" in ok(apid("keys", "list"))


def test_rotate_with_no_grace_revokes_the_old_key_at_once(carol: str) -> None:
    out = ok(apid("keys", "rotate", carol, "--grace", "0"))
    assert f"Rotated {carol}: the old key was revoked." in out and PLAINTEXT_KEY.search(out)
    assert listed()[carol]["status"] == "revoked"


@pytest.mark.parametrize(
    ("grace", "words"),
    [("tomorrow", "give a number and a unit"), ("24", "give a number and a unit"), ("8d", "longer than")],
)
def test_a_bad_grace_is_refused_in_one_line_before_anything_changes(carol: str, grace: str, words: str) -> None:
    one_line_error(apid("keys", "rotate", carol, "--grace", grace), InputError.exit_code, words)
    assert listed()[carol]["status"] == "active"


def test_a_bad_name_and_a_taken_name_are_refused_in_one_line(carol: str) -> None:
    one_line_error(apid("keys", "add", "--api", API, "--name", "Prod!"), InputError.exit_code, "1 to 40 characters")
    ok(apid("keys", "add", "--api", API, "--name", "ci"))
    result = apid("keys", "add", "--api", API, "--name", "ci")
    one_line_error(result, StateError.exit_code, "already has a key named 'ci'")


def test_revoking_one_key_keeps_the_subscription_and_the_last_one_cancels_it(carol: str) -> None:
    ci = json.loads(ok(apid("keys", "add", "--api", API, "--name", "ci", "--json")))["key_id"]
    ok(apid("--yes", "keys", "revoke", carol))
    assert (listed()[carol]["status"], listed()[ci]["status"]) == ("revoked", "active")
    ok(apid("--yes", "keys", "revoke", ci))
    assert {key["status"] for key in listed().values()} == {"revoked"}


def test_another_consumers_key_is_not_found(carol: str, control_plane: str, sign_in_as: SignIn) -> None:
    sign_in_as(control_plane, "consumer-dave", "consumers")
    one_line_error(apid("keys", "rotate", carol), StateError.exit_code, f"no key '{carol}'")
