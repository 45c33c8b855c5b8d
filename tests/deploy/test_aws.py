"""AWS errors become one-line messages naming the cause; credentials never appear."""

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from api_direct.deploy.aws import Aws, assume_role, aws_errors, creator_aws
from api_direct.deploy.aws_target import AwsTarget
from api_direct.errors import AccessError, ApidError, InputError

ROLE = "arn:aws:iam::123456789012:role/apid-deploy-us-east-1"


def stubbed_sts(error_code: str, message: str = "") -> tuple[Aws, Stubber]:
    aws = creator_aws(AwsTarget(region="us-east-1"))
    sts = aws.client("sts")
    stubber = Stubber(sts)
    stubber.add_client_error(
        "assume_role", service_error_code=error_code, service_message=message, http_status_code=403
    )
    stubber.activate()
    return aws, stubber


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDenied", "ExternalId in .apid/state.json does not match"),
        ("ExpiredToken", "credentials have expired"),
        ("InvalidClientTokenId", "rejected as invalid"),
        ("ValidationError", "cannot assume"),
    ],
)
def test_assume_role_failures_name_the_likely_cause(code: str, expected: str) -> None:
    aws, _ = stubbed_sts(code, "details from STS")
    with pytest.raises(AccessError) as error:
        assume_role(aws, ROLE, "external-id-value-123", purpose="deploying")
    message = str(error.value)
    assert expected in message and "\n" not in message
    assert "external-id-value-123" not in message and "testing" not in message


def test_assume_role_sends_external_id_and_short_session() -> None:
    aws = creator_aws(AwsTarget(region="us-east-1"))
    stubber = Stubber(aws.client("sts"))
    expected: dict[str, Any] = {
        "RoleArn": ROLE,
        "ExternalId": "the-external-id-1234",
        "DurationSeconds": 3600,
        "RoleSessionName": ANY,
    }
    stubber.add_response(
        "assume_role",
        {
            "Credentials": {
                "AccessKeyId": "AKIAEXAMPLEEXAMPLE12",
                "SecretAccessKey": "s" * 40,
                "SessionToken": "t" * 20,
                "Expiration": "2030-01-01T00:00:00Z",
            }
        },
        expected,
    )
    with stubber:
        assumed = assume_role(aws, ROLE, "the-external-id-1234", purpose="deploying")
    assert assumed.region == "us-east-1"


def test_unknown_profile_is_input_error() -> None:
    with pytest.raises(InputError, match="profile 'nope' not found"):
        creator_aws(AwsTarget(profile="nope", region="us-east-1"))


def test_no_region_is_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(InputError, match="no AWS region"):
        creator_aws(AwsTarget())


def test_client_errors_inside_a_block_are_one_line() -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(cloudformation) as stubber:
        stubber.add_client_error("describe_stacks", "ValidationError", "Template format error\nsecond line", 400)
        with pytest.raises(ApidError) as error, aws_errors("reading stack x"):
            cloudformation.describe_stacks(StackName="x")
    assert str(error.value) == "reading stack x: Template format error"


def test_clients_use_standard_retries() -> None:
    client = creator_aws(AwsTarget(region="us-east-1")).client("cloudformation")
    assert client.meta.config.retries["mode"] == "standard"
