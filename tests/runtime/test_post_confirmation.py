"""The PostConfirmation trigger against a moto user pool: the chosen role's group, and nothing else."""

import json
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger

from api_direct.runtime import post_confirmation
from api_direct.runtime.post_confirmation import handler, role_group
from tests.runtime.emulated_aws import REGION
from tests.runtime.lambda_context import FakeLambdaContext

GROUPS = ("creators", "consumers")


@pytest.fixture(autouse=True)
def fresh_client() -> Iterator[None]:
    """The handler keeps its client for a container's life; each test gets its own emulated account."""
    post_confirmation.cognito_client.cache_clear()
    yield
    post_confirmation.cognito_client.cache_clear()


@pytest.fixture
def cognito(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ROLE_GROUPS", ",".join(GROUPS))
    return boto3.client("cognito-idp", region_name=REGION)


@pytest.fixture
def pool_id(cognito: Any) -> str:
    pool = cognito.create_user_pool(
        PoolName="apid-users",
        UsernameAttributes=["email"],
        Schema=[{"Name": "role", "AttributeDataType": "String", "Mutable": False}],
    )["UserPool"]["Id"]
    for group in GROUPS:
        cognito.create_group(UserPoolId=pool, GroupName=group)
    return pool  # type: ignore[no-any-return]


def signed_up(cognito: Any, pool_id: str, role: str | None) -> dict[str, Any]:
    """A user as sign-up left them, and the event Cognito sends when they confirm."""
    attributes = {"email": "ada@example.com", **({"custom:role": role} if role is not None else {})}
    username = cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=attributes["email"],
        UserAttributes=[{"Name": name, "Value": value} for name, value in attributes.items()],
        MessageAction="SUPPRESS",
    )["User"]["Username"]
    return {
        "version": "1",
        "region": REGION,
        "userPoolId": pool_id,
        "userName": username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "cli-client"},
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {"userAttributes": {"sub": "5f0c1a2b-0000-4000-8000-000000000001", **attributes}},
        "response": {},
    }


def groups_of(cognito: Any, pool_id: str, event: dict[str, Any]) -> list[str]:
    groups = cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username=event["userName"])["Groups"]
    return [group["GroupName"] for group in groups]


@pytest.mark.parametrize("role", GROUPS)
def test_confirmed_user_joins_the_group_of_their_role(
    cognito: Any, pool_id: str, role: str, lambda_context: FakeLambdaContext
) -> None:
    event = signed_up(cognito, pool_id, role)
    assert handler(event, lambda_context) == event
    assert groups_of(cognito, pool_id, event) == [role]


def test_confirming_twice_keeps_one_membership(cognito: Any, pool_id: str, lambda_context: FakeLambdaContext) -> None:
    event = signed_up(cognito, pool_id, "creators")
    handler(event, lambda_context)
    handler(event, lambda_context)
    assert groups_of(cognito, pool_id, event) == ["creators"]


@pytest.mark.parametrize("role", ["admins", "Creators", "creators,consumers", "", None])
def test_any_other_role_gets_no_group_and_a_warning(
    cognito: Any,
    pool_id: str,
    role: str | None,
    lambda_context: FakeLambdaContext,
    capture_logs: Callable[[Logger], StringIO],
) -> None:
    logs = capture_logs(post_confirmation.logger)
    event = signed_up(cognito, pool_id, role)
    assert handler(event, lambda_context) == event
    assert groups_of(cognito, pool_id, event) == []
    [line] = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert (line["level"], line["message"]) == ("WARNING", "no role group for this user")
    assert line["user"] == event["userName"]
    assert "ada@example.com" not in logs.getvalue()


def test_forgotten_password_confirmation_changes_no_group(
    cognito: Any, pool_id: str, lambda_context: FakeLambdaContext
) -> None:
    event = {**signed_up(cognito, pool_id, "creators"), "triggerSource": "PostConfirmation_ConfirmForgotPassword"}
    assert handler(event, lambda_context) == event
    assert groups_of(cognito, pool_id, event) == []


def test_role_group_only_names_allowed_groups() -> None:
    assert role_group({"custom:role": "consumers"}, GROUPS) == "consumers"
    assert role_group({"custom:role": "root"}, GROUPS) is None
    assert role_group({}, GROUPS) is None
