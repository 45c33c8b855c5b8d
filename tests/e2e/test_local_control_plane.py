"""The control plane deployed into moto_server through apid's own engine, as ``apid sandbox`` deploys it.

Asserts on what the emulator really holds (read back through each service's
API), not on the template: the stack's outputs name a user pool, app client,
groups, secret and bus that exist; the API function's environment gives settings
naming them; and a second deploy of the same code changes nothing.
"""

import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from api_direct.constructs.usage_billing import (
    AGGREGATE_HANDLER,
    CLOSE_HANDLER,
    DELIVER_ALERTS_HANDLER,
    PAY_OUT_HANDLER,
)
from api_direct.constructs.key_event_outbox import RELAY_HANDLER
from api_direct.control_plane.stack import STACK_NAME
from api_direct.deploy.assets import PublishedAsset
from api_direct.deploy.aws import Aws
from api_direct.deploy.change_sets import ChangeSet
from api_direct.deploy.planner import Step
from api_direct.deploy.stack_events import StackEvent
from api_direct.deploy.stacks import deployed_template
from api_direct.local.control_plane import API_HANDLER, ControlPlaneDeployment, asset_bucket_name, deploy_control_plane
from api_direct.contracts import USAGE_DETAIL_TYPE, USAGE_SOURCE
from tests.e2e.moto_account import MOTO_ACCOUNT, REGION

POST_CONFIRMATION_HANDLER = "api_direct.runtime.post_confirmation.handler"
#: Types moto still skips in this template; nothing in it refers to them (the README lists them).
SKIPPED_TYPES = {
    "AWS::ApiGateway::GatewayResponse",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::SQS::QueuePolicy",
    "AWS::CloudWatch::Alarm",
}


@dataclass
class Recorder:
    """What the deploy engine reported, in order."""

    steps: list[str] = field(default_factory=list)
    published: list[PublishedAsset] = field(default_factory=list)

    def step_started(self, step: Step) -> None:
        self.steps.append(step.describe())

    def asset_published(self, published: PublishedAsset) -> None:
        self.published.append(published)

    def change_set_ready(self, change_set: ChangeSet) -> None:
        pass

    def stack_event(self, event: StackEvent) -> None:
        pass


@dataclass(frozen=True)
class Deployed:
    deployment: ControlPlaneDeployment
    recorder: Recorder


@pytest.fixture(scope="module")
def aws(moto_endpoint: str) -> Aws:
    return Aws(boto3.Session(region_name=REGION), moto_endpoint)


@pytest.fixture(scope="module")
def first(aws: Aws, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    recorder = Recorder()
    outdir = tmp_path_factory.mktemp("control-plane.out")
    return Deployed(deploy_control_plane(aws, recorder, outdir), recorder)


@pytest.fixture(scope="module")
def outputs(first: Deployed) -> dict[str, str]:
    return first.deployment.outputs


def stack_resources(aws: Aws) -> list[dict[str, Any]]:
    return aws.client("cloudformation").list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]


def physical_id(aws: Aws, resource_type: str, logical_prefix: str = "") -> str:
    (found,) = [
        r["PhysicalResourceId"]
        for r in stack_resources(aws)
        if r["ResourceType"] == resource_type and r["LogicalResourceId"].startswith(logical_prefix)
    ]
    return str(found)


def test_stack_is_created_by_the_engine_with_every_output(aws: Aws, first: Deployed) -> None:
    deployment = first.deployment
    assert (deployment.stack_name, deployment.status) == (STACK_NAME, "CREATE_COMPLETE")
    assert set(deployment.outputs) == {
        "ApiUrl",
        "UserPoolId",
        "AppClientId",
        "EventBusArn",
        "StripeSecretArn",
        "StripeWebhookUrl",
    }
    assert {change.action for change in deployment.changes} == {"Add"}
    assert first.recorder.steps[0].startswith("publish ")
    assert all(p.uploaded and p.bucket == asset_bucket_name(MOTO_ACCOUNT, REGION) for p in first.recorder.published)
    resources = deployed_template(aws.client("cloudformation"), STACK_NAME)["Resources"].values()
    code = {r["Properties"]["Code"]["S3Key"] for r in resources if r["Type"] == "AWS::Lambda::Function"}
    assert {p.key for p in first.recorder.published} == code


def test_every_resource_but_the_skipped_types_is_created(aws: Aws, first: Deployed) -> None:
    template = deployed_template(aws.client("cloudformation"), STACK_NAME)
    declared = {r["Type"] for r in template["Resources"].values()}
    listed = stack_resources(aws)
    assert declared - {r["ResourceType"] for r in listed if r["LogicalResourceId"]} == SKIPPED_TYPES
    assert {r["ResourceStatus"] for r in listed} == {"CREATE_COMPLETE"}


def test_user_pool_with_its_trigger_client_and_groups(aws: Aws, first: Deployed, outputs: dict[str, str]) -> None:
    cognito = aws.client("cognito-idp")
    pool = cognito.describe_user_pool(UserPoolId=outputs["UserPoolId"])["UserPool"]
    assert (pool["UsernameAttributes"], pool["AutoVerifiedAttributes"]) == (["email"], ["email"])
    assert "custom:role" in {attribute["Name"] for attribute in pool["SchemaAttributes"]}
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert pool["DeletionProtection"] == "ACTIVE"
    confirmation = first.deployment.functions[POST_CONFIRMATION_HANDLER]
    assert pool["LambdaConfig"] == {"PostConfirmation": confirmation.arn}
    assert cognito.get_user_pool_mfa_config(UserPoolId=pool["Id"])["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    client = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=outputs["AppClientId"])["UserPoolClient"]
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert "ClientSecret" not in client
    groups = cognito.list_groups(UserPoolId=pool["Id"])["Groups"]
    assert {group["GroupName"] for group in groups} == {"creators", "consumers"}


def test_moto_serves_the_user_pool_jwks(aws: Aws, outputs: dict[str, str]) -> None:
    """So the sandbox verifies moto's tokens against moto itself: no JWKS server of its own."""
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open(f"{aws.endpoint_url}/{outputs['UserPoolId']}/.well-known/jwks.json", timeout=5) as response:
        (key,) = json.load(response)["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")


def test_stripe_secret_holds_a_generated_placeholder(aws: Aws, outputs: dict[str, str]) -> None:
    secrets = aws.client("secretsmanager")
    assert secrets.describe_secret(SecretId=outputs["StripeSecretArn"])["Description"].startswith("API-Direct's Stripe")
    value = json.loads(secrets.get_secret_value(SecretId=outputs["StripeSecretArn"])["SecretString"])
    assert value["api_key"] == "" and value["webhook_secret"]


def test_bus_table_usage_queue_and_its_rule(aws: Aws, outputs: dict[str, str]) -> None:
    events = aws.client("events")
    bus = events.describe_event_bus(Name=outputs["EventBusArn"])
    assert bus["Arn"] == outputs["EventBusArn"]
    table = physical_id(aws, "AWS::DynamoDB::Table")
    assert aws.client("dynamodb").describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
    queue_url = physical_id(aws, "AWS::SQS::Queue", "ServiceBillingUsage2")
    queue_arn = aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    (rule,) = events.list_rules(EventBusName=bus["Name"])["Rules"]
    assert json.loads(rule["EventPattern"]) == {"source": [USAGE_SOURCE], "detail-type": [USAGE_DETAIL_TYPE]}
    (target,) = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"])["Targets"]
    assert target["Arn"] == queue_arn


def test_settings_from_the_api_function_name_what_the_stack_created(
    aws: Aws, first: Deployed, outputs: dict[str, str]
) -> None:
    settings = first.deployment.settings
    assert (settings.region, settings.account_id) == (REGION, MOTO_ACCOUNT)
    assert settings.table_name == physical_id(aws, "AWS::DynamoDB::Table")
    assert outputs["EventBusArn"].endswith(f":event-bus/{settings.event_bus_name}")
    assert (settings.user_pool_id, settings.app_client_id) == (outputs["UserPoolId"], outputs["AppClientId"])
    assert settings.stripe_secret_arn == outputs["StripeSecretArn"]
    assert settings.key_forwarding_role_arn is not None
    role_name = settings.key_forwarding_role_arn.rsplit("/", 1)[1]
    assert aws.client("iam").get_role(RoleName=role_name)["Role"]["Arn"] == settings.key_forwarding_role_arn
    assert (settings.aws_endpoint_url, settings.stripe_api_base, settings.jwks_url) == (None, None, None)


def test_functions_by_handler_with_their_environment(first: Deployed) -> None:
    functions = first.deployment.functions
    assert set(functions) == {
        API_HANDLER,
        POST_CONFIRMATION_HANDLER,
        AGGREGATE_HANDLER,
        DELIVER_ALERTS_HANDLER,
        CLOSE_HANDLER,
        PAY_OUT_HANDLER,
        RELAY_HANDLER,
    }
    settings = first.deployment.settings
    for handler in (API_HANDLER, AGGREGATE_HANDLER, DELIVER_ALERTS_HANDLER, CLOSE_HANDLER, PAY_OUT_HANDLER):
        assert functions[handler].environment["APID_CP_TABLE_NAME"] == settings.table_name
    assert functions[POST_CONFIRMATION_HANDLER].environment["ROLE_GROUPS"] == "creators,consumers"
    assert all(function.name.startswith(STACK_NAME) for function in functions.values())


def test_deploying_again_changes_nothing(aws: Aws, first: Deployed, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Last: a fresh synthesis of the same code, every asset already there and an empty change set."""
    recorder = Recorder()
    outdir = tmp_path_factory.mktemp("control-plane-again.out")
    again = deploy_control_plane(aws, recorder, outdir)
    assert again.changes == ()
    assert again.status == "CREATE_COMPLETE"
    assert (again.outputs, again.settings) == (first.deployment.outputs, first.deployment.settings)
    assert recorder.published and not any(p.uploaded for p in recorder.published)
