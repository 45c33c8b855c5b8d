"""Linking accounts: ExternalIds issued once, one creator per account and region, and the bus admitting
exactly the linked accounts. AWS is moto; tokens are real."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api import accounts
from tests.control_plane.account_links import ACCOUNT, REGION, confirm, link, link_body, register, unlink
from tests.control_plane.resources import BUS, CONTROL_PLANE_ACCOUNT, TABLE
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import Headers

OTHER_ACCOUNT = "210987654321"


def admitted(aws: Callable[[str], Any]) -> set[str]:
    """Accounts the control plane bus's resource policy lets put events."""
    policy = aws("events").describe_event_bus(Name=BUS).get("Policy")
    if policy is None:
        return set()
    statements = json.loads(policy)["Statement"]
    assert all(s["Effect"] == "Allow" and s["Action"] == "events:PutEvents" for s in statements)
    return {s["Principal"]["AWS"].split(":")[4] for s in statements}


def table_items(aws: Callable[[str], Any]) -> list[dict[str, Any]]:
    return aws("dynamodb").scan(TableName=TABLE)["Items"]  # type: ignore[no-any-return]


def reservations(aws: Callable[[str], Any]) -> list[str]:
    return sorted(item["pk"]["S"] for item in table_items(aws) if item["pk"]["S"].startswith("EXTERNALID#"))


def test_register_issues_a_pending_link_with_a_fresh_external_id(
    api: TestClient, aws: Any, unlinked_alice: Headers
) -> None:
    response = register(api, unlinked_alice)

    assert response.status_code == 201, response.text
    account = response.json()
    assert account["account_id"] == ACCOUNT and account["region"] == REGION
    assert account["status"] == "pending"
    assert account["trusted_account_id"] == CONTROL_PLANE_ACCOUNT
    assert len(account["external_id"]) == 32
    assert account["created_at"].endswith("Z")
    assert reservations(aws) == [f"EXTERNALID#{account['external_id']}"]
    assert admitted(aws) == set()


def test_registering_again_is_idempotent_while_pending_or_linked(
    api: TestClient, aws: Any, unlinked_alice: Headers
) -> None:
    first = register(api, unlinked_alice).json()

    again = register(api, unlinked_alice)
    confirm(api, unlinked_alice)
    after_link = register(api, unlinked_alice)

    assert again.status_code == 200 and after_link.status_code == 200
    assert again.json() == first
    assert after_link.json()["external_id"] == first["external_id"]
    assert after_link.json()["status"] == "linked"
    assert len(reservations(aws)) == 1


def test_external_ids_differ_per_registration(api: TestClient, unlinked_alice: Headers, unlinked_bob: Headers) -> None:
    ids = {
        register(api, unlinked_alice).json()["external_id"],
        register(api, unlinked_alice, OTHER_ACCOUNT).json()["external_id"],
        register(api, unlinked_alice, region="us-east-1").json()["external_id"],
        register(api, unlinked_bob, "333333333333").json()["external_id"],
    }

    assert len(ids) == 4


def test_an_external_id_already_issued_is_never_issued_again(
    api: TestClient, unlinked_alice: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidates = iter(["A" * 32, "A" * 32, "B" * 32])
    monkeypatch.setattr(accounts, "new_external_id", lambda: next(candidates))

    first = register(api, unlinked_alice)
    second = register(api, unlinked_alice, OTHER_ACCOUNT)

    assert first.json()["external_id"] == "A" * 32
    assert second.status_code == 201
    assert second.json()["external_id"] == "B" * 32


def test_confirm_links_the_account_and_admits_exactly_it_to_the_bus(
    api: TestClient, aws: Any, unlinked_alice: Headers
) -> None:
    register(api, unlinked_alice)

    response = confirm(api, unlinked_alice)

    assert response.status_code == 200, response.text
    account = response.json()
    assert account["status"] == "linked"
    assert {k: account[k] for k in link_body()} == link_body()
    assert account["linked_at"] >= account["created_at"]
    assert admitted(aws) == {ACCOUNT}
    assert api.get("/accounts", headers=unlinked_alice).json() == [account]


def test_each_linked_account_gets_its_own_statement(
    api: TestClient, aws: Any, unlinked_alice: Headers, unlinked_bob: Headers
) -> None:
    link(api, unlinked_alice)
    link(api, unlinked_bob, OTHER_ACCOUNT)

    assert admitted(aws) == {ACCOUNT, OTHER_ACCOUNT}


def test_a_pending_account_is_not_admitted(api: TestClient, aws: Any, unlinked_alice: Headers) -> None:
    link(api, unlinked_alice)
    register(api, unlinked_alice, OTHER_ACCOUNT)

    assert admitted(aws) == {ACCOUNT}


def test_unlink_removes_the_account_from_the_bus_and_keeps_the_others(
    api: TestClient, aws: Any, unlinked_alice: Headers
) -> None:
    link(api, unlinked_alice)
    link(api, unlinked_alice, OTHER_ACCOUNT)

    response = unlink(api, unlinked_alice)

    assert response.status_code == 204 and response.content == b""
    assert admitted(aws) == {OTHER_ACCOUNT}
    statuses = {(a["account_id"], a["status"]) for a in api.get("/accounts", headers=unlinked_alice).json()}
    assert statuses == {(ACCOUNT, "unlinked"), (OTHER_ACCOUNT, "linked")}


def test_unlinking_one_region_keeps_the_account_admitted_while_linked_in_another(
    api: TestClient, aws: Any, unlinked_alice: Headers
) -> None:
    link(api, unlinked_alice)
    link(api, unlinked_alice, region="us-east-1")

    unlink(api, unlinked_alice)
    assert admitted(aws) == {ACCOUNT}

    unlink(api, unlinked_alice, region="us-east-1")
    assert admitted(aws) == set()


def test_unlink_is_safe_to_repeat(api: TestClient, aws: Any, unlinked_alice: Headers) -> None:
    link(api, unlinked_alice)

    assert unlink(api, unlinked_alice).status_code == 204
    assert unlink(api, unlinked_alice).status_code == 204
    assert admitted(aws) == set()


def test_registering_after_unlink_issues_a_new_external_id(api: TestClient, aws: Any, unlinked_alice: Headers) -> None:
    old = link(api, unlinked_alice)
    unlink(api, unlinked_alice)

    response = register(api, unlinked_alice)

    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    assert response.json()["external_id"] != old["external_id"]
    assert len(reservations(aws)) == 2
    assert admitted(aws) == set()


def test_confirming_an_unlinked_registration_is_refused(api: TestClient, aws: Any, unlinked_alice: Headers) -> None:
    link(api, unlinked_alice)
    unlink(api, unlinked_alice)

    assert confirm(api, unlinked_alice).status_code == 404
    assert admitted(aws) == set()


@pytest.mark.parametrize("alice_state", ["pending", "linked"])
def test_another_creator_cannot_register_a_held_account(
    api: TestClient, aws: Any, unlinked_alice: Headers, unlinked_bob: Headers, alice_state: str
) -> None:
    register(api, unlinked_alice)
    if alice_state == "linked":
        confirm(api, unlinked_alice)
    before = table_items(aws)

    response = register(api, unlinked_bob)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "already registered by another creator" in response.json()["detail"]
    assert "creator-alice" not in response.text
    assert table_items(aws) == before
    assert api.get("/accounts", headers=unlinked_bob).json() == []


def test_another_creator_may_register_the_account_once_unlinked(
    api: TestClient, aws: Any, unlinked_alice: Headers, unlinked_bob: Headers
) -> None:
    alices = link(api, unlinked_alice)
    unlink(api, unlinked_alice)

    bobs = link(api, unlinked_bob)

    assert bobs["external_id"] != alices["external_id"]
    assert admitted(aws) == {ACCOUNT}
    assert register(api, unlinked_alice).status_code == 409


def test_the_same_account_in_another_region_is_a_separate_registration(
    api: TestClient, unlinked_alice: Headers, unlinked_bob: Headers
) -> None:
    register(api, unlinked_alice)

    assert register(api, unlinked_bob, region="us-east-1").status_code == 201


# Authorization matrix: what another creator may do with alice's registration.
OTHERS_ATTEMPTS: dict[str, Callable[[TestClient, Headers], Any]] = {
    "confirm": confirm,
    "unlink": unlink,
}


@pytest.mark.parametrize("alice_state", ["pending", "linked"])
@pytest.mark.parametrize("attempt", sorted(OTHERS_ATTEMPTS))
def test_another_creator_cannot_touch_alices_account(
    api: TestClient, aws: Any, unlinked_alice: Headers, unlinked_bob: Headers, attempt: str, alice_state: str
) -> None:
    register(api, unlinked_alice)
    if alice_state == "linked":
        confirm(api, unlinked_alice)
    before, bus_before = table_items(aws), admitted(aws)

    response = OTHERS_ATTEMPTS[attempt](api, unlinked_bob)

    assert response.status_code == 404, response.text
    assert "no registration" in response.json()["detail"]
    assert table_items(aws) == before
    assert admitted(aws) == bus_before


def test_another_creator_cannot_see_alices_accounts(
    api: TestClient, unlinked_alice: Headers, unlinked_bob: Headers
) -> None:
    link(api, unlinked_alice)
    register(api, unlinked_alice, OTHER_ACCOUNT)
    register(api, unlinked_bob, "333333333333")

    bobs = api.get("/accounts", headers=unlinked_bob).json()

    assert [a["account_id"] for a in bobs] == ["333333333333"]
    assert {a["account_id"] for a in api.get("/accounts", headers=unlinked_alice).json()} == {ACCOUNT, OTHER_ACCOUNT}


@pytest.mark.parametrize("attempt", ["register", "confirm", "unlink", "list"])
def test_consumers_may_not_manage_accounts(api: TestClient, aws: Any, mint: Mint, attempt: str) -> None:
    consumer = bearer(mint("consumer-1", "consumers"))
    calls = {
        "register": register,
        "confirm": confirm,
        "unlink": unlink,
        "list": lambda api, who: api.get("/accounts", headers=who),
    }

    assert calls[attempt](api, consumer).status_code == 403
    assert table_items(aws) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"account_id": "12345", "region": REGION}, "account_id"),
        ({"account_id": "12345678901a", "region": REGION}, "account_id"),
        ({"account_id": 123456789012, "region": REGION}, "account_id"),
        ({"account_id": ACCOUNT, "region": "eu-west"}, "region"),
        ({"account_id": ACCOUNT, "region": "EU-WEST-1"}, "region"),
        ({"account_id": ACCOUNT}, "region"),
        ({"account_id": ACCOUNT, "region": REGION, "externalId": "mine"}, "externalId"),
    ],
)
def test_invalid_registration_is_422_naming_the_field(
    api: TestClient, aws: Any, unlinked_alice: Headers, body: dict[str, Any], field: str
) -> None:
    response = api.post("/accounts", json=body, headers=unlinked_alice)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}: ") and "\n" not in detail
    assert table_items(aws) == []


def test_government_regions_are_accepted(api: TestClient, unlinked_alice: Headers) -> None:
    assert register(api, unlinked_alice, region="us-gov-west-1").status_code == 201


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (
            {"deploy_role_arn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/apid-deploy-{REGION}"},
            "deploy_role_arn",
            f"must be a role in account {ACCOUNT}",
        ),
        (
            {"execution_role_arn": f"arn:aws:iam::{ACCOUNT}:user/apid-execution"},
            "execution_role_arn",
            "must be an IAM role ARN",
        ),
        ({"deploy_role_arn": "apid-deploy"}, "deploy_role_arn", "must be an IAM role ARN"),
        ({"asset_bucket": "Apid_Assets"}, "asset_bucket", "must be an S3 bucket name"),
    ],
)
def test_invalid_link_is_422_naming_the_field(
    api: TestClient, aws: Any, unlinked_alice: Headers, change: dict[str, str], field: str, says: str
) -> None:
    register(api, unlinked_alice)
    before = table_items(aws)

    response = api.put(f"/accounts/{ACCOUNT}/{REGION}", json={**link_body(), **change}, headers=unlinked_alice)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith(f"{field}: {says}")
    assert table_items(aws) == before
    assert admitted(aws) == set()


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/accounts/1234/{REGION}", "path.account_id"),
        (f"/accounts/{ACCOUNT}/mars-1", "path.region"),
    ],
)
def test_invalid_path_is_422_naming_the_parameter(
    api: TestClient, unlinked_alice: Headers, path: str, field: str
) -> None:
    response = api.put(path, json=link_body(), headers=unlinked_alice)

    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{field}: must be")
