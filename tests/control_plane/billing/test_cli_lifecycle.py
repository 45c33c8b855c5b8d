"""``apid invite create | list | revoke`` and ``apid unpublish`` through the real CLI against the control plane."""

import json
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import Result
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_direct.cli import marketplace as marketplace_commands
from api_direct.client import publishing
from api_direct.control_plane.api.listings import listing_runtime
from api_direct.control_plane.api.store import Store, api_pk
from api_direct.deploy import operations, stacks
from api_direct.errors import InputError, StateError
from api_direct.project import load_project
from tests.control_plane.billing.cli_harness import SignIn, apid, ok
from tests.control_plane.billing.usage import API, CAROL, marketplace
from tests.control_plane.lifecycle.plans import plans
from tests.control_plane.marketplace import ALICE, CREATOR_ACCOUNT, CREATOR_REGION, DAVE, listing_body, table
from tests.control_plane.tokens import Mint, bearer
from tests.errors import one_line_error
from tests.example_project import copy_example


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


def published(result: Result) -> str:
    """`apid publish`'s output; its one warning is for the example's free plan, which always costs its calls."""
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.stderr or result.output}"
    assert result.stderr.startswith("warning: plan free is free") and result.stderr.count("\n") == 1
    return result.stdout


@pytest.fixture
def project(alice: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project as deployed in Alice's linked account: `apid publish` reads no AWS and imports no app."""
    root = copy_example(tmp_path)
    monkeypatch.setattr(
        operations,
        "open_session",
        lambda project_dir, *_, **__: SimpleNamespace(
            project=load_project(project_dir),
            link=SimpleNamespace(account_id=CREATOR_ACCOUNT, region=CREATOR_REGION, control_plane_url=None),
        ),
    )
    outputs = {"ApiUrl": listing_body()["base_url"]}
    stack = SimpleNamespace(name="apid-weather-api", outputs=outputs)
    monkeypatch.setattr(operations, "deployed_stack", lambda *_, **__: (SimpleNamespace(client=lambda _: None), stack))
    alarms = {f"Alarm{n}": ("AWS::CloudWatch::Alarm", f"alarm-{n}") for n in range(2)}
    monkeypatch.setattr(stacks, "stack_resources", lambda *_: alarms)
    template = {"Resources": {logical_id: {"Type": kind} for logical_id, (kind, _) in alarms.items()}}
    monkeypatch.setattr(marketplace_commands, "deployed_template", lambda *_: template)
    monkeypatch.setattr(publishing, "export_openapi", lambda _project: listing_body()["openapi"])
    return root


def test_publish_prints_what_changed_and_when_a_price_change_reaches_subscribers(
    project: Path, billed_app: FastAPI, mint: Mint
) -> None:
    first = published(apid("publish", "--project", str(project)))
    assert "Version 2:" in first and "plan pro: " in first  # the example's prices replace the listing's
    runtime = listing_runtime(Store(table()).get(api_pk(API), "LISTING") or {})
    assert (runtime.region, runtime.fixed_resources) == (CREATOR_REGION, {"AWS::CloudWatch::Alarm": 2})
    moved = TestClient(billed_app).put(
        f"/subscriptions/{API}/plan", json={"plan": "pro"}, headers=bearer(mint(CAROL, "consumers"))
    )
    assert moved.status_code == 200, moved.text
    toml = project / "apid.toml"
    toml.write_text(toml.read_text().replace("monthly_fee = 19.00", "monthly_fee = 25.00"))
    raised = published(apid("publish", "--project", str(project), "--note", "Costs went up"))
    assert "Version 3:" in raised and "(scheduled)" in raised
    assert "current subscribers from their first billing period starting on or after" in raised
    again = json.loads(published(apid("publish", "--project", str(project), "--json")))
    assert again["version"] is None
    assert "Nothing changed." in published(apid("publish", "--project", str(project)))


def test_a_consumer_subscribes_to_a_private_plan_with_the_invites_token(alice: str, sign_in_as: SignIn) -> None:
    made = json.loads(ok(apid("invite", "create", "--api", API, "--plan", "vip", "--json")))
    sign_in_as(alice, DAVE, "consumers")
    one_line_error(apid("keys", "create", "--api", API, "--plan", "vip"), InputError.exit_code, "has no plan 'vip'")
    created = json.loads(ok(apid("keys", "create", "--api", API, "--plan", "vip", "--invite", made["token"], "--json")))
    assert created["plan"] == "vip"
