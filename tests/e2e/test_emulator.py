"""The harness deploys our two stacks through change sets on a real moto server, as ``apid`` will on AWS.

The first part asserts what moto really creates from our templates (read back
through each service's own API, not from the template). The second pins every gap
the README's "What the emulator cannot show" lists, so that list stays true when
moto changes. The last part proves each patch listed in ``api_direct/local/emulator/patches.py`` fixes
a real defect: the same probe against unpatched moto, in process, shows it.
"""

import copy
import io
import json
import socket
import unittest.mock
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from moto import mock_aws

from api_direct.contracts import KEY_EVENT_TYPES
from api_direct.deploy.synthesis import ControlPlaneRef, SynthesizedStack, synthesize_project
from api_direct.project import load_project
from api_direct.user_stack import AccountLinkStack
from api_direct.local import emulator as moto_emulator
from api_direct.local.emulator import patches
from tests.example_project import CONTROL_PLANE_ACCOUNT, CONTROL_PLANE_BUS_ARN, EXAMPLE_DIR
from tests.e2e.moto_account import MOTO_ACCOUNT, REGION
from tests.dynamodb_transactions import count_and_mark, transaction_table

LINK_STACK = "apid-link"
API_STACK = "apid-weather-api"
EXTERNAL_ID = "ext-0123456789abcdef"
ASSET_BUCKET = f"apid-assets-{MOTO_ACCOUNT}-{REGION}"
EXECUTION_ROLE_ARN = f"arn:aws:iam::{MOTO_ACCOUNT}:role/apid-cfn-exec-{REGION}"
QUEUE = {"Queue": {"Type": "AWS::SQS::Queue"}}
#: Types moto's CloudFormation skips with a warning. Left unpatched: apart from the methods'
#: ``RequestValidatorId``, nothing in our templates refers to them.
SKIPPED_TYPES = {
    "AWS::ApiGateway::Account",
    "AWS::ApiGateway::GatewayResponse",
    "AWS::ApiGateway::RequestValidator",
    "AWS::Events::EventBusPolicy",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Logs::SubscriptionFilter",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
}


@dataclass(frozen=True)
class Aws:
    """Clients for the moto server, as the deploy engine would make them for AWS."""

    endpoint: str

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)

    @property
    def cloudformation(self) -> Any:
        return self.client("cloudformation")


@dataclass(frozen=True)
class Deployed:
    """A stack deployed by executing a change set, with the change set that did it."""

    stack: dict[str, Any]
    change_set: dict[str, Any]

    @property
    def outputs(self) -> dict[str, str]:
        return {output["OutputKey"]: output["OutputValue"] for output in self.stack["Outputs"]}


def deploy(
    aws: Aws, stack_name: str, template: dict[str, Any], change_set_type: str, name: str, **extra: Any
) -> Deployed:
    """Create a change set, check it is ready, execute it: the sequence ``apid deploy`` runs.

    The change set is addressed by its ARN, as it must be on moto (names are not
    scoped to the stack there, see the README).
    """
    cloudformation = aws.cloudformation
    created = cloudformation.create_change_set(
        StackName=stack_name,
        ChangeSetName=name,
        ChangeSetType=change_set_type,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        **extra,
    )
    change_set = cloudformation.describe_change_set(ChangeSetName=created["Id"])
    assert (change_set["Status"], change_set["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    return Deployed(cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0], change_set)


def zip_folder(folder: Path) -> bytes:
    """The folder as a zip whose bytes depend only on file names and contents, so a bundle always uploads the same."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def publish_assets(aws: Aws, synthesized: SynthesizedStack) -> None:
    s3 = aws.client("s3")
    for asset in synthesized.assets:
        bucket = asset.bucket_name.replace("${AWS::AccountId}", MOTO_ACCOUNT).replace("${AWS::Region}", REGION)
        body = zip_folder(asset.source) if asset.packaging == "zip" else asset.source.read_bytes()
        s3.put_object(Bucket=bucket, Key=asset.object_key, Body=body)


def physical_ids(aws: Aws, stack_name: str, resource_type: str, logical_prefix: str = "") -> list[str]:
    """Physical ids of the stack's resources of a type (and logical id prefix), as CloudFormation lists them."""
    summaries = aws.cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    return [
        summary["PhysicalResourceId"]
        for summary in summaries
        if summary["ResourceType"] == resource_type and summary["LogicalResourceId"].startswith(logical_prefix)
    ]


@pytest.fixture(scope="module")
def aws(moto_endpoint: str) -> Aws:
    return Aws(moto_endpoint)


@pytest.fixture(scope="module")
def link_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The link as ``apid aws link`` synthesizes it: trusting the control plane, ExternalId a parameter.

    It trusts moto's own account, the only account a moto server answers as.
    """
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("link-cdk.out")), analytics_reporting=False)
    AccountLinkStack(app, "Link", stack_name=LINK_STACK, trusted_account_id=MOTO_ACCOUNT)
    return app.synth().get_stack_by_name(LINK_STACK).template  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def api_stack(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStack:
    """The example's API stack reporting to a control plane: every construct, the usage forwarder included."""
    return synthesize_project(
        load_project(EXAMPLE_DIR),
        tmp_path_factory.mktemp("api-cdk.out"),
        control_plane=ControlPlaneRef(CONTROL_PLANE_ACCOUNT, CONTROL_PLANE_BUS_ARN),
    )


def deploy_link(aws: Aws, link_template: dict[str, Any]) -> Deployed:
    return deploy(
        aws,
        LINK_STACK,
        link_template,
        "CREATE",
        "apid-link-1",
        Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": EXTERNAL_ID}],
    )


def deploy_api(aws: Aws, api_stack: SynthesizedStack) -> Deployed:
    """Assets published to the link's bucket, then the stack deployed with the link's execution role."""
    publish_assets(aws, api_stack)
    return deploy(aws, API_STACK, api_stack.template, "CREATE", "apid-deploy-1", RoleARN=EXECUTION_ROLE_ARN)


@pytest.fixture(scope="module")
def link(aws: Aws, link_template: dict[str, Any]) -> Deployed:
    return deploy_link(aws, link_template)


@pytest.fixture(scope="module")
def api(aws: Aws, link: Deployed, api_stack: SynthesizedStack) -> Deployed:
    return deploy_api(aws, api_stack)


@pytest.fixture
def own_aws(moto_endpoint: str) -> Iterator[Aws]:
    """A moto server of the test's own, for a test that changes or deletes the stacks the others read.

    ``moto_endpoint`` is asked for the environment it sets (fake credentials, the region, no proxy).
    """
    with moto_emulator.running_moto_server() as endpoint:
        yield Aws(endpoint)


# --- What moto creates from our templates -------------------------------------------------------------


def test_link_deploys_with_its_outputs(link: Deployed) -> None:
    assert link.stack["StackStatus"] == "CREATE_COMPLETE"
    assert link.outputs == {
        "DeployRoleArn": f"arn:aws:iam::{MOTO_ACCOUNT}:role/apid-deploy-{REGION}",
        "ExecutionRoleArn": EXECUTION_ROLE_ARN,
        "AssetBucketName": ASSET_BUCKET,
        "PermissionsBoundaryArn": f"arn:aws:iam::{MOTO_ACCOUNT}:policy/apid-boundary-{REGION}",
    }


def test_link_roles_carry_trust_boundary_and_session_limit(aws: Aws, link: Deployed) -> None:
    iam = aws.client("iam")
    deploy_role = iam.get_role(RoleName=f"apid-deploy-{REGION}")["Role"]
    (trust,) = deploy_role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{MOTO_ACCOUNT}:root"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}
    assert deploy_role["MaxSessionDuration"] == 3600
    execution_role = iam.get_role(RoleName=f"apid-cfn-exec-{REGION}")["Role"]
    assert execution_role["PermissionsBoundary"]["PermissionsBoundaryArn"] == link.outputs["PermissionsBoundaryArn"]
    boundary = iam.get_policy(PolicyArn=link.outputs["PermissionsBoundaryArn"])["Policy"]
    document = iam.get_policy_version(PolicyArn=boundary["Arn"], VersionId=boundary["DefaultVersionId"])
    sids = {statement.get("Sid") for statement in document["PolicyVersion"]["Document"]["Statement"]}
    assert {"Functions", "Tables", "ApiGateway"} <= sids


def test_link_bucket_is_encrypted(aws: Aws, link: Deployed) -> None:
    encryption = aws.client("s3").get_bucket_encryption(Bucket=ASSET_BUCKET)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_external_id_is_never_shown(aws: Aws, link: Deployed) -> None:
    masked = [{"ParameterKey": "ExternalId", "ParameterValue": "****"}]
    assert link.stack["Parameters"] == masked
    assert link.change_set["Parameters"] == masked


def test_api_deploys_with_its_outputs(api: Deployed) -> None:
    assert api.stack["StackStatus"] == "CREATE_COMPLETE"
    rest_api_id = api.outputs["RestApiId"]
    assert api.outputs["ApiUrl"] == f"https://{rest_api_id}.execute-api.{REGION}.amazonaws.com/v1/"
    assert api.outputs["KeyBusArn"] == f"arn:aws:events:{REGION}:{MOTO_ACCOUNT}:event-bus/apid-weather-api-keys"
    assert api.outputs["AppFunctionName"].startswith("apid-weather-api-App")


def test_functions_run_our_code_on_arm64(aws: Aws, api: Deployed) -> None:
    ours = set(physical_ids(aws, API_STACK, "AWS::Lambda::Function"))  # other tests' stacks have functions too
    functions = {
        f["Handler"]: f for f in aws.client("lambda").list_functions()["Functions"] if f["FunctionName"] in ours
    }
    assert set(functions) == {
        "apid_handler.handler",
        *(f"api_direct.runtime.{name}.handler" for name in ("authorizer", "key_sync", "usage_forwarder", "mcp_server")),
    }
    for function in functions.values():
        assert (function["Runtime"], function["Architectures"]) == ("python3.12", ["arm64"])
        assert function["CodeSize"] > 0
    app = functions["apid_handler.handler"]
    assert (app["FunctionName"], app["MemorySize"], app["Timeout"]) == (api.outputs["AppFunctionName"], 512, 10)
    (table,) = physical_ids(aws, API_STACK, "AWS::DynamoDB::Table")
    key_sync = functions["api_direct.runtime.key_sync.handler"]["Environment"]["Variables"]
    assert key_sync["KEY_TABLE_NAME"] == table
    plans = {plan["name"]: plan["id"] for plan in aws.client("apigateway").get_usage_plans()["items"]}
    assert json.loads(key_sync["USAGE_PLANS"]) == plans
    forwarder = functions["api_direct.runtime.usage_forwarder.handler"]["Environment"]["Variables"]
    assert forwarder["CONTROL_PLANE_BUS_ARN"] == CONTROL_PLANE_BUS_ARN


def test_key_store_table_bus_and_rule(aws: Aws, api: Deployed) -> None:
    (table,) = physical_ids(aws, API_STACK, "AWS::DynamoDB::Table")
    description = aws.client("dynamodb").describe_table(TableName=table)["Table"]
    assert description["KeySchema"] == [{"AttributeName": "key_hash", "KeyType": "HASH"}]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    events = aws.client("events")
    (rule,) = events.list_rules(EventBusName="apid-weather-api-keys")["Rules"]
    assert json.loads(rule["EventPattern"]) == {
        "account": [CONTROL_PLANE_ACCOUNT],
        "detail-type": list(KEY_EVENT_TYPES),
        "source": ["api-direct.control-plane"],
    }
    (target,) = events.list_targets_by_rule(Rule=rule["Name"], EventBusName="apid-weather-api-keys")["Targets"]
    assert ":function:apid-weather-api-KeysSync" in target["Arn"]
    assert ":apid-weather-api-KeysSyncDeadLetters" in target["DeadLetterConfig"]["Arn"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_rest_api_methods_authorizer_stage_and_plans(aws: Aws, api: Deployed) -> None:
    apigateway = aws.client("apigateway")
    rest_api_id = api.outputs["RestApiId"]
    rest_api = apigateway.get_rest_api(restApiId=rest_api_id)
    assert (rest_api["apiKeySource"], rest_api["endpointConfiguration"]["types"]) == ("AUTHORIZER", ["REGIONAL"])
    (authorizer,) = apigateway.get_authorizers(restApiId=rest_api_id)["items"]
    assert (authorizer["type"], authorizer["identitySource"]) == ("REQUEST", "method.request.header.x-api-key")
    assert authorizer["authorizerResultTtlInSeconds"] == 300
    assert ":function:apid-weather-api-GatewayAuthorizer" in authorizer["authorizerUri"]
    resources = apigateway.get_resources(restApiId=rest_api_id, embed=["methods"])["items"]
    methods = {r["path"]: r["resourceMethods"]["ANY"] for r in resources}
    assert set(methods) == {
        "/",
        "/{proxy+}",
        "/mcp",
        *("/forecast", "/forecast/{city_id}", "/forecast/{city_id}/{proxy+}"),  # the weighted route's resources
    }
    for path, method in methods.items():
        assert (method["authorizationType"], method["authorizerId"]) == ("CUSTOM", authorizer["id"])
        assert method["requestParameters"] == {"method.request.header.x-api-key": True}
        assert method["methodIntegration"]["type"] == "AWS_PROXY"
        # The app's routes count against the plans; /mcp (listing tools) does not: its tool calls are route calls.
        assert method["apiKeyRequired"] is (path != "/mcp")
        assert (api.outputs["AppFunctionName"] in method["methodIntegration"]["uri"]) is (path != "/mcp")
    (stage,) = apigateway.get_stages(restApiId=rest_api_id)["item"]
    assert (stage["stageName"], stage["tracingEnabled"]) == ("v1", True)
    (access_logs,) = physical_ids(aws, API_STACK, "AWS::Logs::LogGroup", "GatewayAccessLogs")
    assert stage["accessLogSettings"]["destinationArn"].endswith(f":log-group:{access_logs}")
    assert json.loads(stage["accessLogSettings"]["format"])["keyId"] == "$context.authorizer.keyId"
    plans = {plan["name"]: plan for plan in apigateway.get_usage_plans()["items"]}
    # Every plan shape gets its usage plan: a prepaid plan is rate-limited like any other, its credit kept elsewhere.
    assert set(plans) == {"free", "pro", "starter", "credits"}
    assert plans["pro"]["throttle"] == {"rateLimit": 50.0, "burstLimit": 100}
    assert plans["free"]["quota"] == {"limit": 1000, "period": "MONTH"}
    assert plans["free"]["apiStages"][0]["apiId"] == rest_api_id
    # The weighted forecast (5 units) at a fifth of each plan's rate and burst, as API Gateway keys a method.
    assert [plans[name]["apiStages"][0]["throttle"] for name in ("free", "pro")] == [
        {"/forecast/{city_id}/ANY": {"rateLimit": 0.4, "burstLimit": 1}},
        {"/forecast/{city_id}/ANY": {"rateLimit": 10.0, "burstLimit": 20}},
    ]


def test_log_groups_and_queues(aws: Aws, api: Deployed) -> None:
    listed = aws.client("logs").describe_log_groups(logGroupNamePrefix=API_STACK)["logGroups"]
    groups = {group["logGroupName"]: group for group in listed}
    assert set(groups) == set(physical_ids(aws, API_STACK, "AWS::Logs::LogGroup"))
    assert sorted(g["retentionInDays"] for g in groups.values()) == [
        30,
        30,
        30,
        30,
        30,
        365,
    ]  # four functions, the MCP function, access logs
    sqs = aws.client("sqs")
    queues = physical_ids(aws, API_STACK, "AWS::SQS::Queue")
    assert len(queues) == 2
    for url in queues:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (attributes["SqsManagedSseEnabled"], attributes["MessageRetentionPeriod"]) == ("true", "1209600")


def test_every_resource_but_the_skipped_types_is_created(
    aws: Aws, link: Deployed, api: Deployed, link_template: dict[str, Any], api_stack: SynthesizedStack
) -> None:
    """Pins the README's list of skipped types: a type moto starts supporting makes this fail.

    moto lists each skipped resource as a blank entry (no logical id, no type) marked complete,
    and gives Lambda permissions and API methods no physical id.
    """
    for stack_name, template in ((LINK_STACK, link_template), (API_STACK, api_stack.template)):
        listed = aws.cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
        types = {logical_id: resource["Type"] for logical_id, resource in template["Resources"].items()}
        created = {k: t for k, t in types.items() if t not in SKIPPED_TYPES}
        assert {s["LogicalResourceId"]: s["ResourceType"] for s in listed if s["LogicalResourceId"]} == created
        assert len([s for s in listed if not s["LogicalResourceId"]]) == len(types) - len(created)
        assert {s["ResourceStatus"] for s in listed} == {"CREATE_COMPLETE"}
    used = {r["Type"] for t in (link_template, api_stack.template) for r in t["Resources"].values()}
    assert used >= SKIPPED_TYPES
    for without_physical_id in ("AWS::Lambda::Permission", "AWS::ApiGateway::Method"):
        assert set(physical_ids(aws, API_STACK, without_physical_id)) == {""}


# --- The control plane's identity and secret, which moto skipped ----------------------------------------
# As our control plane template declares them (tests/e2e/test_local_control_plane.py deploys that template).


def identity_template(*, deletion_protection: str = "INACTIVE", retained: bool = False) -> dict[str, Any]:
    """A user pool with an app client, two groups and a generated secret; the pool and secret retained if asked."""
    retain = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"} if retained else {}
    pool = {"Ref": "Pool"}
    return {
        "Resources": {
            "Pool": {
                "Type": "AWS::Cognito::UserPool",
                **retain,
                "Properties": {
                    "UserPoolName": "apid-probe-users",
                    "UsernameAttributes": ["email"],
                    "AutoVerifiedAttributes": ["email"],
                    "Schema": [
                        {"Name": "email", "Required": True, "Mutable": True},
                        {
                            "Name": "role",
                            "AttributeDataType": "String",
                            "Mutable": False,
                            "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "32"},
                        },
                    ],
                    "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": True}},
                    "MfaConfiguration": "OPTIONAL",
                    "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
                    "LambdaConfig": {"PostConfirmation": f"arn:aws:lambda:{REGION}:{MOTO_ACCOUNT}:function:confirm"},
                    "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
                    "DeletionProtection": deletion_protection,
                },
            },
            "Client": {
                "Type": "AWS::Cognito::UserPoolClient",
                "Properties": {
                    "UserPoolId": pool,
                    "ClientName": "cli",
                    "GenerateSecret": False,
                    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                    "AccessTokenValidity": 60,
                    "TokenValidityUnits": {"AccessToken": "minutes"},
                    "PreventUserExistenceErrors": "ENABLED",
                },
            },
            "Creators": {
                "Type": "AWS::Cognito::UserPoolGroup",
                "Properties": {"UserPoolId": pool, "GroupName": "creators", "Description": "Creators", "Precedence": 1},
            },
            "Consumers": {"Type": "AWS::Cognito::UserPoolGroup", "Properties": {"UserPoolId": pool}},
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                **retain,
                "Properties": {
                    "Description": "Stripe keys",
                    "GenerateSecretString": {
                        "SecretStringTemplate": json.dumps({"api_key": ""}),
                        "GenerateStringKey": "webhook_secret",
                    },
                },
            },
        },
        "Outputs": {
            "PoolId": {"Value": pool},
            **{name: {"Value": {"Fn::GetAtt": ["Pool", name]}} for name in ("Arn", "ProviderName", "ProviderURL")},
            "ClientId": {"Value": {"Ref": "Client"}},
            "CreatorsGroup": {"Value": {"Ref": "Creators"}},
            "SecretArn": {"Value": {"Ref": "Secret"}},
        },
    }


def test_user_pool_client_groups_and_secret_are_created_as_declared(aws: Aws) -> None:
    outputs = deploy(aws, "apid-identity", identity_template(), "CREATE", "c").outputs
    cognito = aws.client("cognito-idp")
    pool_id = outputs["PoolId"]
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    provider = f"cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    assert (outputs["Arn"], outputs["ProviderName"]) == (pool["Arn"], provider)
    assert outputs["ProviderURL"] == f"https://{provider}"
    assert (pool["Name"], pool["UsernameAttributes"], pool["AutoVerifiedAttributes"]) == (
        "apid-probe-users",
        ["email"],
        ["email"],
    )
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert pool["LambdaConfig"] == {"PostConfirmation": f"arn:aws:lambda:{REGION}:{MOTO_ACCOUNT}:function:confirm"}
    assert pool["AccountRecoverySetting"]["RecoveryMechanisms"] == [{"Name": "verified_email", "Priority": 1}]
    assert {a["Name"] for a in pool["SchemaAttributes"]} >= {"email", "custom:role"}
    mfa = cognito.get_user_pool_mfa_config(UserPoolId=pool_id)
    assert (mfa["MfaConfiguration"], mfa["SoftwareTokenMfaConfiguration"]) == ("OPTIONAL", {"Enabled": True})
    client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=outputs["ClientId"])["UserPoolClient"]
    assert client["ClientName"] == "cli" and "ClientSecret" not in client
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert (client["AccessTokenValidity"], client["PreventUserExistenceErrors"]) == (60, "ENABLED")
    groups = {g["GroupName"]: g for g in cognito.list_groups(UserPoolId=pool_id)["Groups"]}
    assert outputs["CreatorsGroup"] == "creators"
    assert (groups["creators"]["Description"], groups["creators"]["Precedence"]) == ("Creators", 1)
    consumers = physical_ids(aws, "apid-identity", "AWS::Cognito::UserPoolGroup", "Consumers")
    assert [name for name in groups if name != "creators"] == consumers
    secrets = aws.client("secretsmanager")
    assert secrets.describe_secret(SecretId=outputs["SecretArn"])["Description"] == "Stripe keys"
    value = json.loads(secrets.get_secret_value(SecretId=outputs["SecretArn"])["SecretString"])
    assert value["api_key"] == "" and len(value["webhook_secret"]) == 32


def test_identity_and_secret_go_with_their_stack_unless_retained(aws: Aws) -> None:
    cognito, secrets = aws.client("cognito-idp"), aws.client("secretsmanager")
    deleted = deploy(aws, "apid-identity-deleted", identity_template(), "CREATE", "c").outputs
    retained = deploy(aws, "apid-identity-retained", identity_template(retained=True), "CREATE", "c").outputs
    aws.cloudformation.delete_stack(StackName="apid-identity-deleted")
    aws.cloudformation.delete_stack(StackName="apid-identity-retained")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        cognito.describe_user_pool(UserPoolId=deleted["PoolId"])
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        secrets.describe_secret(SecretId=deleted["SecretArn"])
    assert cognito.describe_user_pool(UserPoolId=retained["PoolId"])["UserPool"]["Id"] == retained["PoolId"]
    assert cognito.list_user_pool_clients(UserPoolId=retained["PoolId"], MaxResults=10)["UserPoolClients"] == []
    assert cognito.list_groups(UserPoolId=retained["PoolId"])["Groups"] == []
    assert secrets.describe_secret(SecretId=retained["SecretArn"])["ARN"] == retained["SecretArn"]


def test_a_secret_both_given_and_generated_is_rejected(aws: Aws) -> None:
    secret = {
        "Secret": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {"SecretString": "s3cr3t", "GenerateSecretString": {}},
        }
    }
    with pytest.raises(ClientError, match="cannot both be specified"):
        deploy(aws, "apid-gap-secret", {"Resources": secret}, "CREATE", "c")


# --- What the emulator cannot show (README), each checked --------------------------------------------


def test_only_stack_level_events_are_emitted(aws: Aws, api: Deployed) -> None:
    events = aws.cloudformation.describe_stack_events(StackName=API_STACK)["StackEvents"]
    assert {e["ResourceType"] for e in events} == {"AWS::CloudFormation::Stack"}
    assert [e["ResourceStatus"] for e in events] == ["CREATE_COMPLETE", "CREATE_IN_PROGRESS", "REVIEW_IN_PROGRESS"]


def test_trust_policy_external_id_and_session_limit_are_not_enforced(aws: Aws, link: Deployed) -> None:
    session = aws.client("sts").assume_role(
        RoleArn=link.outputs["DeployRoleArn"], RoleSessionName="no-external-id", DurationSeconds=43200
    )
    assert session["Credentials"]["AccessKeyId"]


def test_permissions_boundary_and_iam_policies_are_not_enforced(aws: Aws, link: Deployed) -> None:
    """The bounded execution role's session creates an IAM user and key, which its boundary denies."""
    credentials = aws.client("sts").assume_role(RoleArn=link.outputs["ExecutionRoleArn"], RoleSessionName="bounded")[
        "Credentials"
    ]
    iam = boto3.client(
        "iam",
        endpoint_url=aws.endpoint,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    iam.create_user(UserName="apid-gap-escalation")
    assert iam.create_access_key(UserName="apid-gap-escalation")["AccessKey"]["Status"] == "Active"


def test_execution_role_is_neither_reported_nor_checked(aws: Aws, api: Deployed) -> None:
    assert "RoleARN" not in api.change_set
    missing_role = f"arn:aws:iam::{MOTO_ACCOUNT}:role/apid-no-such-role"
    deployed = deploy(aws, "apid-gap-role", {"Resources": QUEUE}, "CREATE", "c", RoleARN=missing_role)
    assert deployed.stack["StackStatus"] == "CREATE_COMPLETE"


def test_properties_moto_does_not_apply(aws: Aws, link: Deployed, api: Deployed) -> None:
    s3 = aws.client("s3")
    with pytest.raises(ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        s3.get_public_access_block(Bucket=ASSET_BUCKET)
    with pytest.raises(ClientError, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket=ASSET_BUCKET)
    (table,) = physical_ids(aws, API_STACK, "AWS::DynamoDB::Table")
    dynamodb = aws.client("dynamodb")
    assert "SSEDescription" not in dynamodb.describe_table(TableName=table)["Table"]
    backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    lambda_ = aws.client("lambda")
    app = lambda_.get_function(FunctionName=api.outputs["AppFunctionName"])
    assert "LoggingConfig" not in app["Configuration"] and "Tags" not in app
    iam = aws.client("iam")
    assert iam.list_attached_role_policies(RoleName=f"apid-cfn-exec-{REGION}")["AttachedPolicies"] == []
    assert "cloudwatchRoleArn" not in aws.client("apigateway").get_account()


def test_change_set_checks_moto_skips(aws: Aws, link: Deployed) -> None:
    """No capability check, no parameter constraints, a second CREATE for an existing stack accepted."""
    role = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "apid-gap-named",
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                },
            }
        }
    }
    created = aws.cloudformation.create_change_set(
        StackName="apid-gap-caps", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=json.dumps(role)
    )
    aws.cloudformation.execute_change_set(ChangeSetName=created["Id"])
    assert aws.client("iam").get_role(RoleName="apid-gap-named")["Role"]
    short = {"Parameters": {"Id": {"Type": "String", "MinLength": 16}}, "Resources": QUEUE}
    deployed = deploy(
        aws, "apid-gap-param", short, "CREATE", "c", Parameters=[{"ParameterKey": "Id", "ParameterValue": "x"}]
    )
    assert deployed.stack["StackStatus"] == "CREATE_COMPLETE"
    aws.cloudformation.create_change_set(
        StackName="apid-gap-param", ChangeSetName="again", ChangeSetType="CREATE", TemplateBody=json.dumps(short)
    )
    assert [s["StackName"] for s in aws.cloudformation.list_stacks()["StackSummaries"]].count("apid-gap-param") == 2


def test_change_set_names_are_not_scoped_to_their_stack(aws: Aws, link: Deployed, api: Deployed) -> None:
    by_name = aws.cloudformation.describe_change_set(ChangeSetName="apid-link-1", StackName=API_STACK)
    assert by_name["StackName"] == LINK_STACK
    listed = aws.cloudformation.list_change_sets(StackName=API_STACK)["Summaries"]
    assert {s["StackName"] for s in listed} >= {LINK_STACK, API_STACK}
    assert {s["ExecutionStatus"] for s in listed if s["ChangeSetName"] == "apid-deploy-1"} == {"EXECUTE_COMPLETE"}


def test_missing_code_object_is_accepted(aws: Aws, link: Deployed) -> None:
    template = {
        "Resources": {
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": ASSET_BUCKET, "S3Key": "assets/never-uploaded.zip"},
                    "Handler": "index.handler",
                    "Runtime": "python3.12",
                    "Role": link.outputs["ExecutionRoleArn"],
                },
            }
        }
    }
    deployed = deploy(aws, "apid-gap-code", template, "CREATE", "c")
    (name,) = physical_ids(aws, "apid-gap-code", "AWS::Lambda::Function")
    assert deployed.stack["StackStatus"] == "CREATE_COMPLETE"
    assert aws.client("lambda").get_function(FunctionName=name)["Configuration"]["CodeSize"] == 0


def test_failed_execution_is_an_error_response_without_rollback(aws: Aws) -> None:
    bus = {"Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "apid-gap-bus"}}}
    deploy(aws, "apid-gap-first", {"Resources": bus}, "CREATE", "c")
    queue = {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "apid-gap-partial"}}}
    created = aws.cloudformation.create_change_set(
        StackName="apid-gap-second",
        ChangeSetName="c",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps({"Resources": {**queue, **bus}}),
    )
    with pytest.raises(ResponseParserError, match="Event bus apid-gap-bus already exists"):
        aws.cloudformation.execute_change_set(ChangeSetName=created["Id"])
    (stack,) = aws.cloudformation.describe_stacks(StackName="apid-gap-second")["Stacks"]
    assert stack["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert aws.client("sqs").get_queue_url(QueueName="apid-gap-partial")["QueueUrl"]


def test_deleting_a_stack_with_a_non_empty_bucket_succeeds_and_keeps_the_bucket(aws: Aws) -> None:
    bucket = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "apid-gap-bucket"}}}}
    deploy(aws, "apid-gap-bucket", bucket, "CREATE", "c")
    aws.client("s3").put_object(Bucket="apid-gap-bucket", Key="object", Body=b"1")
    aws.cloudformation.delete_stack(StackName="apid-gap-bucket")
    assert aws.client("s3").head_bucket(Bucket="apid-gap-bucket")


def test_deleting_a_stack_with_a_protected_user_pool_fails_and_the_stack_is_gone(aws: Aws) -> None:
    """Cognito refuses to delete the pool; moto drops the stack anyway and answers with a JSON error."""
    outputs = deploy(aws, "apid-gap-protected", identity_template(deletion_protection="ACTIVE"), "CREATE", "c").outputs
    with pytest.raises(ResponseParserError, match="deletion protection is activated"):
        aws.cloudformation.delete_stack(StackName="apid-gap-protected")
    assert aws.client("cognito-idp").describe_user_pool(UserPoolId=outputs["PoolId"])["UserPool"]
    with pytest.raises(ClientError, match="does not exist"):
        aws.cloudformation.describe_stacks(StackName="apid-gap-protected")


# --- Updates, no-op updates and deletion (each on a server of its own: they change the stacks) ---------


def test_unchanged_update_change_set_reports_no_changes(
    aws: Aws, link: Deployed, link_template: dict[str, Any]
) -> None:
    created = aws.cloudformation.create_change_set(
        StackName=LINK_STACK,
        ChangeSetName="apid-link-2",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(link_template),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": "ExternalId", "UsePreviousValue": True}],
    )
    change_set = aws.cloudformation.describe_change_set(ChangeSetName=created["Id"])
    assert (change_set["Status"], change_set["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert change_set["StatusReason"].startswith("The submitted information didn't contain changes.")
    aws.cloudformation.delete_change_set(ChangeSetName=created["Id"])


def test_update_change_set_changes_only_what_changed(
    own_aws: Aws, link_template: dict[str, Any], api_stack: SynthesizedStack
) -> None:
    """More memory for the app and a longer log retention: two modifications, listed, then applied.

    moto has no update handler for log groups: the group stays in the stack (a patch)
    but keeps its old retention (a gap the README lists).
    """
    aws = own_aws
    deploy_link(aws, link_template)
    api = deploy_api(aws, api_stack)
    template = json.loads(json.dumps(api_stack.template))
    resources = template["Resources"]
    (app_id,) = (k for k, r in resources.items() if r["Properties"].get("Handler") == "apid_handler.handler")
    logs_id = resources[app_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    resources[app_id]["Properties"]["MemorySize"] = 1024
    resources[logs_id]["Properties"]["RetentionInDays"] = 90
    updated = deploy(aws, API_STACK, template, "UPDATE", "apid-deploy-2", RoleARN=EXECUTION_ROLE_ARN)
    changes = sorted(
        (c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"]) for c in updated.change_set["Changes"]
    )
    assert changes == [("Modify", app_id), ("Modify", logs_id)]
    assert updated.stack["StackStatus"] == "UPDATE_COMPLETE"
    assert updated.outputs == api.outputs
    function = aws.client("lambda").get_function(FunctionName=api.outputs["AppFunctionName"])["Configuration"]
    assert (function["MemorySize"], function["Architectures"]) == (1024, ["arm64"])
    (logs,) = physical_ids(aws, API_STACK, "AWS::Logs::LogGroup", logs_id)
    (group,) = aws.client("logs").describe_log_groups(logGroupNamePrefix=logs)["logGroups"]
    assert group["retentionInDays"] == 30


def test_delete_stack_removes_what_the_stacks_created(
    own_aws: Aws, link_template: dict[str, Any], api_stack: SynthesizedStack
) -> None:
    """The API stack, then the emptied link (whose logs role is retained by design); then the account links again."""
    aws = own_aws
    link = deploy_link(aws, link_template)
    deploy_api(aws, api_stack)
    aws.cloudformation.delete_stack(StackName=API_STACK)
    functions = aws.client("lambda").list_functions()["Functions"]
    assert not [f for f in functions if f["FunctionName"].startswith(API_STACK)]
    assert not [t for t in aws.client("dynamodb").list_tables()["TableNames"] if t.startswith(API_STACK)]
    assert aws.client("apigateway").get_rest_apis()["items"] == []
    assert aws.client("apigateway").get_usage_plans()["items"] == []
    assert not [b for b in aws.client("events").list_event_buses()["EventBuses"] if b["Name"].startswith(API_STACK)]
    assert aws.client("logs").describe_log_groups(logGroupNamePrefix=API_STACK)["logGroups"] == []
    assert "QueueUrls" not in aws.client("sqs").list_queues(QueueNamePrefix=API_STACK)
    assert not [r for r in aws.client("iam").list_roles()["Roles"] if r["RoleName"].startswith(API_STACK)]

    s3 = aws.client("s3")
    for listed in s3.list_objects_v2(Bucket=ASSET_BUCKET).get("Contents", []):
        s3.delete_object(Bucket=ASSET_BUCKET, Key=listed["Key"])
    aws.cloudformation.delete_stack(StackName=link.stack["StackId"])
    iam = aws.client("iam")
    link_role_prefixes = ("apid-deploy", "apid-cfn-exec", LINK_STACK)
    link_roles = [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(link_role_prefixes)]
    assert [r["Path"] for r in link_roles] == ["/api-direct-link/"]
    assert iam.list_policies(Scope="Local")["Policies"] == []
    assert ASSET_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    relinked = deploy(
        aws,
        "apid-link-again",
        link_template,
        "CREATE",
        "apid-link-3",
        Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": EXTERNAL_ID}],
    )
    assert relinked.stack["StackStatus"] == "CREATE_COMPLETE"


def test_server_stops_even_when_the_block_fails() -> None:
    """A failing test must not leave a server behind: the port is closed once the block exits."""
    with pytest.raises(RuntimeError, match="test failed"):
        with moto_emulator.running_moto_server() as endpoint:
            raise RuntimeError("test failed")
    address = urllib.parse.urlsplit(endpoint)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address.hostname, address.port), timeout=2).close()


def test_a_cancelled_transaction_leaves_every_item_as_it_was(aws: Aws) -> None:
    dynamodb = aws.client("dynamodb")
    transaction_table(dynamodb)
    dynamodb.transact_write_items(TransactItems=count_and_mark("seen"))
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[*count_and_mark("new"), *count_and_mark("seen")[1:]])
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == [
        "None",
        "None",
        "ConditionalCheckFailed",
    ]
    items = {item["pk"]["S"]: item for item in dynamodb.scan(TableName="tx")["Items"]}
    assert sorted(items) == ["counter", "seen"]
    assert items["counter"]["calls"] == {"N": "2"}
    dynamodb.transact_write_items(TransactItems=count_and_mark("new"))
    assert dynamodb.get_item(TableName="tx", Key={"pk": {"S": "counter"}, "sk": {"S": "c"}})["Item"]["calls"] == {
        "N": "3"
    }
    dynamodb.delete_table(TableName="tx")


# --- Each patch fixes a real defect: the same probe against unpatched moto, in process ------------------


def _api_with_method(method: dict[str, Any] | None = None) -> dict[str, Any]:
    """A REST API with one method and a deployment that DependsOn it, listed first as CDK lists it."""
    return {
        "Deployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": ["Method"],
            "Properties": {"RestApiId": {"Ref": "Api"}},
        },
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "probe", "ApiKeySourceType": "AUTHORIZER"}},
        "Method": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                "HttpMethod": "ANY",
                "AuthorizationType": "NONE",
                "Integration": {
                    "Type": "AWS_PROXY",
                    "IntegrationHttpMethod": "POST",
                    "Uri": "arn:aws:apigateway:us-east-1:lambda:path/functions/f/invocations",
                },
                **(method or {}),
            },
        },
    }


def _created(resources: dict[str, Any], parameters: dict[str, Any] | None = None) -> Any:
    """A stack made by ``create_stack`` (which, unlike change sets, honors ``DependsOn``); parameters get "s3cr3t"."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName="probe",
        TemplateBody=json.dumps({"Parameters": parameters or {}, "Resources": resources}),
        Parameters=[{"ParameterKey": key, "ParameterValue": "s3cr3t"} for key in parameters or {}],
    )
    return cloudformation


def _executed(resources: dict[str, Any], outputs: dict[str, Any] | None = None) -> Any:
    """A stack made by executing a ``CREATE`` change set."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    created = cloudformation.create_change_set(
        StackName="probe",
        ChangeSetName="c",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps({"Resources": resources, "Outputs": outputs or {}}),
    )
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    return cloudformation


def _rest_api_id() -> str:
    return str(boto3.client("apigateway", region_name=REGION).get_rest_apis()["items"][0]["id"])


def _probe_event_bus_ref() -> None:
    with pytest.raises(AttributeError, match="'EventBus' object has no attribute 'split'"):
        _executed(
            {
                "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "probe"}},
                "Rule": {
                    "Type": "AWS::Events::Rule",
                    "Properties": {"EventBusName": {"Ref": "Bus"}, "EventPattern": {"source": ["x"]}},
                },
            }
        )


def _probe_deployment_ref() -> None:
    listed = _created(_api_with_method()).list_stack_resources(StackName="probe")["StackResourceSummaries"]
    assert [s.get("PhysicalResourceId", "") for s in listed if s["LogicalResourceId"] == "Deployment"] == [""]


def _probe_stage() -> None:
    _created(
        {
            **_api_with_method(),
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {"RestApiId": {"Ref": "Api"}, "DeploymentId": "d", "StageName": "v1"},
            },
        }
    )
    assert boto3.client("apigateway", region_name=REGION).get_stages(restApiId=_rest_api_id())["item"] == []


def _probe_authorizer() -> None:
    _created(
        {
            **_api_with_method(),
            "Authorizer": {
                "Type": "AWS::ApiGateway::Authorizer",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "Name": "keys",
                    "Type": "REQUEST",
                    "AuthorizerUri": "arn:aws:x",
                },
            },
        }
    )
    assert boto3.client("apigateway", region_name=REGION).get_authorizers(restApiId=_rest_api_id())["items"] == []


def _probe_usage_plan() -> None:
    _created({"Plan": {"Type": "AWS::ApiGateway::UsagePlan", "Properties": {"UsagePlanName": "free"}}})
    assert boto3.client("apigateway", region_name=REGION).get_usage_plans()["items"] == []


def _probe_rest_api_settings() -> None:
    _created(_api_with_method())
    rest_api = boto3.client("apigateway", region_name=REGION).get_rest_api(restApiId=_rest_api_id())
    assert rest_api["apiKeySource"] == "HEADER"


def _probe_rest_api_deletion() -> None:
    _created(_api_with_method()).delete_stack(StackName="probe")
    assert len(boto3.client("apigateway", region_name=REGION).get_rest_apis()["items"]) == 1


def _probe_managed_policy_deletion() -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    _created(
        {
            "Policy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {"ManagedPolicyName": "probe", "PolicyDocument": document},
            }
        }
    ).delete_stack(StackName="probe")
    assert [p["PolicyName"] for p in boto3.client("iam").list_policies(Scope="Local")["Policies"]] == ["probe"]


def _probe_lambda_architectures() -> None:
    trust = {"Version": "2012-10-17", "Statement": []}
    _created(
        {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"ZipFile": "def handler(event, context): pass"},
                    "Handler": "index.handler",
                    "Runtime": "python3.12",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Architectures": ["arm64"],
                },
            },
        }
    )
    (function,) = boto3.client("lambda", region_name=REGION).list_functions()["Functions"]
    assert function["Architectures"] == ["x86_64"]


def _function_resources(**extra: Any) -> dict[str, Any]:
    """A role, a function and ``extra`` resources (a version of it, an alias)."""
    trust = {"Version": "2012-10-17", "Statement": []}
    code = {"ZipFile": "def handler(event, context): pass"}
    return {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": code,
                "Handler": "index.handler",
                "Runtime": "python3.12",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            },
        },
        **extra,
    }


_VERSION = {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Function"}, "Description": "r1"}}


def _probe_lambda_version() -> None:
    cloudformation = _created(_function_resources(Version=_VERSION))
    [version] = [
        r
        for r in cloudformation.describe_stack_resources(StackName="probe")["StackResources"]
        if r["LogicalResourceId"] == "Version"
    ]
    assert not version.get("PhysicalResourceId", "").startswith("arn:")  # real CloudFormation: its ARN
    versions = boto3.client("lambda", region_name=REGION).list_versions_by_function(FunctionName="probe-Function")
    assert "r1" not in [v.get("Description") for v in versions["Versions"]]


def _probe_update_before_dependents() -> None:
    # Code moto's update can read back (it decodes ZipFile as base64, where its create takes it as text).
    code = {"ZipFile": "cGFzcw=="}
    first = _function_resources()
    first["Function"]["Properties"]["Code"] = code
    cloudformation = _created(first)
    resources = _function_resources(
        Version={"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Function"}}}
    )
    resources["Function"]["Properties"] |= {"Environment": {"Variables": {"RELEASE": "2"}}, "Code": code}
    cloudformation.update_stack(StackName="probe", TemplateBody=json.dumps({"Resources": resources}))
    lambda_ = boto3.client("lambda", region_name=REGION)
    [function] = lambda_.list_functions()["Functions"]
    [published] = [
        v
        for v in lambda_.list_versions_by_function(FunctionName=function["FunctionName"])["Versions"]
        if v["Version"] != "$LATEST"
    ]
    assert "Environment" not in published  # published from the function before the update


def _probe_lambda_alias() -> None:
    alias = {
        "Type": "AWS::Lambda::Alias",
        "Properties": {"FunctionName": {"Ref": "Function"}, "Name": "live", "FunctionVersion": "$LATEST"},
    }
    _created(_function_resources(Alias=alias))
    [function] = boto3.client("lambda", region_name=REGION).list_functions()["Functions"]
    aliases = boto3.client("lambda", region_name=REGION).list_aliases(FunctionName=function["FunctionName"])
    assert aliases["Aliases"] == []


def _probe_method_authorizer() -> None:
    _created(
        _api_with_method(
            {
                "AuthorizationType": "CUSTOM",
                "AuthorizerId": "abc123",
                "RequestParameters": {"method.request.header.x-api-key": True},
            }
        )
    )
    apigateway = boto3.client("apigateway", region_name=REGION)
    api_id = _rest_api_id()
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    method = apigateway.get_method(restApiId=api_id, resourceId=root, httpMethod="ANY")
    assert "authorizerId" not in method and "requestParameters" not in method


def _probe_mock_integration() -> None:
    preflight = {
        "HttpMethod": "OPTIONS",
        "Integration": {"Type": "MOCK", "RequestTemplates": {"application/json": "{ statusCode: 200 }"}},
    }
    with pytest.raises(KeyError, match="IntegrationHttpMethod"):
        _created(_api_with_method(preflight))


def _probe_no_echo() -> None:
    cloudformation = _created(QUEUE, {"Secret": {"Type": "String", "NoEcho": True}})
    parameters = cloudformation.describe_stacks(StackName="probe")["Stacks"][0]["Parameters"]
    assert parameters == [{"ParameterKey": "Secret", "ParameterValue": "s3cr3t"}]


def _probe_dependency_order() -> None:
    with pytest.raises(Exception, match=r"The REST API doesn\W+t contain any methods"):
        _executed(_api_with_method())


def _probe_kept_on_update() -> None:
    cloudformation = _created({"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}}})
    modified = {"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 90}}}}
    created = cloudformation.create_change_set(
        StackName="probe", ChangeSetName="u", ChangeSetType="UPDATE", TemplateBody=json.dumps(modified)
    )
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    listed = cloudformation.list_stack_resources(StackName="probe")["StackResourceSummaries"]
    assert [summary["LogicalResourceId"] for summary in listed] == [""]


def _probe_unchanged_update() -> None:
    parameters = {"Secret": {"Type": "String"}}
    cloudformation = _created(QUEUE, parameters)
    with pytest.raises(ClientError, match="No updates are to be performed"):
        cloudformation.create_change_set(
            StackName="probe",
            ChangeSetName="u",
            ChangeSetType="UPDATE",
            TemplateBody=json.dumps({"Parameters": parameters, "Resources": QUEUE}),
            Parameters=[{"ParameterKey": "Secret", "ParameterValue": "s3cr3t"}],
        )


def _probe_outputs() -> None:
    cloudformation = _executed(QUEUE, {"QueueUrl": {"Value": {"Ref": "Queue"}}})
    assert "Outputs" not in cloudformation.describe_stacks(StackName="probe")["Stacks"][0]


def _probe_lambda_target() -> None:
    events = boto3.client("events")
    events.put_rule(Name="probe", EventPattern=json.dumps({"source": ["probe"]}))
    events.put_targets(
        Rule="probe", Targets=[{"Id": "f", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:probe"}]
    )
    with pytest.raises(NotImplementedError, match="Expr not defined"):  # a 500 from moto_server
        events.put_events(Entries=[{"Source": "probe", "DetailType": "d", "Detail": "{}"}])


def _probe_event_account() -> None:
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="probe", EventPattern=json.dumps({"source": ["probe"]}))
    events.put_targets(Rule="probe", Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(Entries=[{"Source": "probe", "DetailType": "d", "Detail": "{}"}])
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "account" not in json.loads(message["Body"])


def _probe_user_pool() -> None:
    _created({"Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "probe"}}})
    assert boto3.client("cognito-idp", region_name=REGION).list_user_pools(MaxResults=10)["UserPools"] == []


def _pool_id() -> str:
    """A user pool made directly, for the probes of what a template puts in one."""
    return str(boto3.client("cognito-idp", region_name=REGION).create_user_pool(PoolName="probe")["UserPool"]["Id"])


def _probe_user_pool_client() -> None:
    pool_id = _pool_id()
    _created({"Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {"UserPoolId": pool_id}}})
    cognito = boto3.client("cognito-idp", region_name=REGION)
    assert cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=10)["UserPoolClients"] == []


def _probe_user_pool_group() -> None:
    pool_id = _pool_id()
    _created(
        {
            "Group": {
                "Type": "AWS::Cognito::UserPoolGroup",
                "Properties": {"UserPoolId": pool_id, "GroupName": "creators"},
            }
        }
    )
    assert boto3.client("cognito-idp", region_name=REGION).list_groups(UserPoolId=pool_id)["Groups"] == []


def _probe_secret() -> None:
    _created({"Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "probe", "SecretString": "x"}}})
    assert boto3.client("secretsmanager", region_name=REGION).list_secrets()["SecretList"] == []


def _probe_oidc_provider() -> None:
    provider = {"Type": "AWS::IAM::OIDCProvider", "Properties": {"Url": "https://probe.example", "ClientIdList": ["a"]}}
    _created({"Provider": provider})
    assert boto3.client("iam", region_name=REGION).list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def _probe_role_trust_update() -> None:
    def role(service: str) -> dict[str, Any]:
        trust = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}]}
        return {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "probe", "AssumeRolePolicyDocument": trust}}
        }

    cloudformation = _created(role("lambda.amazonaws.com"))
    cloudformation.update_stack(StackName="probe", TemplateBody=json.dumps({"Resources": role("events.amazonaws.com")}))
    trust = boto3.client("iam", region_name=REGION).get_role(RoleName="probe")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def _probe_removed_resource_added_back() -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    named = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "probe-again"}}
    cloudformation = _created({"Queue": named})
    for resources in ({"Other": QUEUE["Queue"]}, {"Other": QUEUE["Queue"], "Queue": named}):
        cloudformation.update_stack(StackName="probe", TemplateBody=json.dumps({"Resources": resources}))
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="probe-again")


def _probe_transaction_copies() -> None:
    from moto.dynamodb.models.table import Table

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    transaction_table(dynamodb)
    copied: list[Any] = []
    deepcopy = copy.deepcopy

    def counting(node: Any, memo: Any = None) -> Any:
        if isinstance(node, Table):
            copied.append(node)
        return deepcopy(node, memo)

    with unittest.mock.patch("moto.dynamodb.models.copy.deepcopy", counting):
        dynamodb.transact_write_items(TransactItems=count_and_mark("m"))
    assert len(copied) == 2  # the whole table, once per operation


def _probe_stream_records_run_away() -> None:
    role = boto3.client("iam", region_name=REGION).create_role(RoleName="probe", AssumeRolePolicyDocument="{}")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="probe",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="h.h",
        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="probe",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    stream = dynamodb.describe_table(TableName="probe")["Table"]["LatestStreamArn"]
    boto3.client("lambda", region_name=REGION).create_event_source_mapping(
        EventSourceArn=stream, FunctionName="probe", StartingPosition="TRIM_HORIZON"
    )
    dynamodb.put_item(TableName="probe", Item={"pk": {"S": "written"}})  # moto tried to run the function in Docker
    streams = boto3.client("dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled"))
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    start = streams.get_shard_iterator(StreamArn=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    assert streams.get_records(ShardIterator=start["ShardIterator"])["Records"] == []  # and dropped the record


def _probe_stack_in_review() -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    template = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    for name in ("interrupted", "rerun"):
        created = cloudformation.create_change_set(
            StackName="probe", ChangeSetName=name, ChangeSetType="CREATE", TemplateBody=template
        )
        if name == "interrupted":
            cloudformation.delete_change_set(ChangeSetName=created["Id"])
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    assert cloudformation.describe_stacks(StackName="probe")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert len([s for s in cloudformation.list_stacks()["StackSummaries"] if s["StackName"] == "probe"]) == 2


_DOMAIN = "probe.example.com"


def _probe_domain_name() -> None:
    properties = {
        "DomainName": _DOMAIN,
        "RegionalCertificateArn": f"arn:aws:acm:{REGION}:123456789012:certificate/probe",
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
    }
    _created({"Domain": {"Type": "AWS::ApiGateway::DomainName", "Properties": properties}})
    assert boto3.client("apigateway", region_name=REGION).get_domain_names()["items"] == []


def _probe_base_path_mapping() -> None:
    apigateway = boto3.client("apigateway", region_name=REGION)
    apigateway.create_domain_name(domainName=_DOMAIN, endpointConfiguration={"types": ["REGIONAL"]})
    mapping = {"DomainName": _DOMAIN, "RestApiId": {"Ref": "Api"}}
    cloudformation = _created(
        {**_api_with_method(), "Mapping": {"Type": "AWS::ApiGateway::BasePathMapping", "Properties": mapping}}
    )
    listed = cloudformation.list_stack_resources(StackName="probe")["StackResourceSummaries"]
    assert "Mapping" not in {summary["LogicalResourceId"] for summary in listed}


def _probe_certificate_without_validation() -> None:
    acm = boto3.client("acm", region_name=REGION)
    arn = acm.request_certificate(DomainName=_DOMAIN, ValidationMethod="DNS")["CertificateArn"]
    assert boto3.client("route53").list_hosted_zones()["HostedZones"] == []  # no DNS anywhere
    with unittest.mock.patch("moto.settings.ACM_VALIDATION_WAIT", 0):  # moto's timer, run out
        assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"


def _probe_model_data_with_a_function() -> None:
    from moto.moto_api._internal.responses import MotoAPIResponse

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="probe", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="probe",
        Runtime="python3.12",
        Role=role,
        Handler="h.h",
        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )
    with pytest.raises(Exception, match="server API version"):  # docker's: no Docker daemon here
        MotoAPIResponse().model_data(None, "", {})


PROBES: dict[Callable[[], None], Callable[[], None]] = {
    patches.event_bus_ref_is_its_name: _probe_event_bus_ref,
    patches.api_deployment_ref_is_its_id: _probe_deployment_ref,
    patches.api_stage_resource: _probe_stage,
    patches.api_authorizer_resource: _probe_authorizer,
    patches.api_usage_plan_resource: _probe_usage_plan,
    patches.rest_api_settings_applied: _probe_rest_api_settings,
    patches.rest_api_deleted_with_its_stack: _probe_rest_api_deletion,
    patches.managed_policy_deleted_with_its_stack: _probe_managed_policy_deletion,
    patches.oidc_provider_resource: _probe_oidc_provider,
    patches.role_trust_policy_updated: _probe_role_trust_update,
    patches.removed_resources_are_forgotten: _probe_removed_resource_added_back,
    patches.lambda_architectures_applied: _probe_lambda_architectures,
    patches.lambda_version_resource: _probe_lambda_version,
    patches.lambda_alias_resource: _probe_lambda_alias,
    patches.api_method_authorizer_applied: _probe_method_authorizer,
    patches.api_mock_integration_method: _probe_mock_integration,
    patches.no_echo_parameters_masked: _probe_no_echo,
    patches.change_set_adds_in_dependency_order: _probe_dependency_order,
    patches.change_set_updates_before_it_adds_dependents: _probe_update_before_dependents,
    patches.resources_without_update_handler_are_kept: _probe_kept_on_update,
    patches.unchanged_update_change_set_fails_softly: _probe_unchanged_update,
    patches.change_set_execution_publishes_outputs: _probe_outputs,
    patches.create_change_set_reuses_a_stack_in_review: _probe_stack_in_review,
    patches.lambda_targets_recorded_not_run: _probe_lambda_target,
    patches.delivered_events_name_their_account: _probe_event_account,
    patches.cognito_user_pool_resource: _probe_user_pool,
    patches.cognito_user_pool_client_resource: _probe_user_pool_client,
    patches.cognito_user_pool_group_resource: _probe_user_pool_group,
    patches.secret_resource: _probe_secret,
    patches.transactions_snapshot_only_their_items: _probe_transaction_copies,
    patches.stream_records_kept_for_their_mapping: _probe_stream_records_run_away,
    patches.api_domain_name_resource: _probe_domain_name,
    patches.api_base_path_mapping_resource: _probe_base_path_mapping,
    patches.certificate_issued_once_its_record_is_found: _probe_certificate_without_validation,
    patches.model_data_skips_unreadable_attributes: _probe_model_data_with_a_function,
}


def test_every_patch_has_a_probe() -> None:
    assert list(PROBES) == list(moto_emulator.PATCHES)


@pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")
@pytest.mark.parametrize("patch", moto_emulator.PATCHES, ids=lambda patch: patch.__name__)
def test_unpatched_moto_has_the_defect_the_patch_fixes(patch: Callable[[], None]) -> None:
    """Against moto in this process, where the patches are never applied."""
    with mock_aws():
        PROBES[patch]()
