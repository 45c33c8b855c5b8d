"""``apid invite create | list | revoke`` and ``apid unpublish`` through the real CLI against the control plane."""

import json
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_direct.errors import InputError, StateError
from tests.control_plane.billing.cli_harness import SignIn, apid, ok
from tests.control_plane.billing.usage import API, marketplace
from tests.control_plane.lifecycle.plans import plans
from tests.control_plane.marketplace import ALICE
from tests.control_plane.tokens import Mint
from tests.errors import one_line_error


@pytest.fixture
def alice(control_plane: str, billed_app: FastAPI, sign_in_as: SignIn, mint: Mint) -> str:
    """Alice signed in; weather-api listed with a private plan vip, Carol on free."""
    marketplace(TestClient(billed_app), mint, plan="free", plans=plans())
    sign_in_as(control_plane, ALICE, "creators")
    return control_plane


def test_an_invite_is_shown_once_listed_without_its_link_and_revoked(alice: str) -> None:
    made = ok(apid("invite", "create", "--api", API, "--plan", "vip", "--uses", "5", "--days", "7"))
    assert "shown only this once" in made and f"{alice}/web/apis/{API}?invite=" in made
    token = made.split("?invite=", 1)[1].split()[0]
    listed = ok(apid("invite", "list", "--api", API))
    assert token not in listed and "vip" in listed and "uses 0/5" in listed
    [invite] = json.loads(ok(apid("invite", "list", "--api", API, "--json")))["items"]
    assert (invite["plan"], invite["max_uses"], invite["usable"]) == ("vip", 5, True)
    assert ok(apid("invite", "revoke", invite["id"], "--api", API)).strip() == f"Revoked {invite['id']}."
    assert json.loads(ok(apid("invite", "list", "--api", API, "--json")))["items"] == []


def test_invite_refusals_are_one_line(alice: str, sign_in_as: SignIn) -> None:
    one_line_error(apid("invite", "create", "--api", API, "--plan", "pro"), InputError.exit_code, "not a private plan")
    one_line_error(apid("invite", "revoke", "inv_000000000000", "--api", API), StateError.exit_code, "has no invite")
    assert apid("invite", "create", "--api", API, "--plan", "vip", "--uses", "0").exit_code == 2
    sign_in_as(alice, "creator-bob", "creators")
    one_line_error(apid("invite", "list", "--api", API), 4, "owned by another creator")


def test_unpublish_asks_first_then_retires_on_the_date(alice: str) -> None:
    until = date.today() + timedelta(days=14)
    one_line_error(apid("unpublish", "--api", API, "--until", str(until)), StateError.exit_code, "rerun with --yes")
    done = ok(apid("unpublish", "--api", API, "--until", str(until), "--yes"))
    assert f"1 subscription(s) end on {until}" in done
    again = json.loads(ok(apid("unpublish", "--api", API, "--until", str(until), "--yes", "--json")))
    assert again["retiring_at"].startswith(str(until))
    one_line_error(
        apid("unpublish", "--api", API, "--until", str(date.today()), "--yes"), InputError.exit_code, "--now"
    )
    assert apid("unpublish", "--api", API, "--until", str(until), "--now", "--yes").exit_code == 2
