"""ControlPlaneStack: identity, table, bus, roles, the app's function and which routes need a token."""

import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from api_direct.aws_costs import prices
from api_direct.constructs.bundled_function import BUNDLE_CACHE_CONTEXT
from api_direct.constructs.key_event_outbox import RELAY_HANDLER, RELAY_RETRY_ATTEMPTS
from api_direct.contracts import ALERT_QUEUE_URL_ENV, DEAD_LETTER_URL_ENV, KEY_RULE_PREFIX, OUTBOX_PREFIX, OUTBOX_SK
from api_direct.constructs.control_plane_api import (
    CREATOR_KEY_BUSES,
    MARKETPLACE_MCP_PATH,
    PUBLIC_GET_PATHS,
    PUBLIC_POST_PATHS,
)
from api_direct.constructs.identity import USER_POOL_API_SCOPE, Identity
from api_direct.constructs.usage_billing import (
    AGGREGATE_HANDLER,
    CLOSE_HANDLER,
    DELIVER_ALERTS_HANDLER,
    PAY_OUT_HANDLER,
)
from api_direct.control_plane.api.mcp_marketplace import MCP_PATH
from api_direct.control_plane.api.settings import ENV_PREFIX
from api_direct.control_plane.api.store import INDEXES, PK, SK
from api_direct.control_plane.stack import ControlPlaneStack

#: What Lambda's Python runtime provides besides the standard library.
LAMBDA_PROVIDED = {"boto3", "botocore"}
ALERT_SENDER = "alerts@marketplace.example"


@pytest.fixture(scope="module")
def stack(bundle_cache_dir: Path) -> ControlPlaneStack:
    return ControlPlaneStack(
        cdk.App(context={BUNDLE_CACHE_CONTEXT: str(bundle_cache_dir)}), "ControlPlane", alert_sender=ALERT_SENDER
    )


@pytest.fixture(scope="module")
def template(stack: ControlPlaneStack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def function(template: Template) -> tuple[str, dict[str, Any]]:
    """The app's function (the others are the user pool's trigger and billing's)."""
    return only(
        template, "AWS::Lambda::Function", {"Properties": {"Handler": "api_direct.control_plane.api.handler.handler"}}
    )


@pytest.fixture(scope="module")
def methods(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """Every method by (path, HTTP method)."""
    resources = template.find_resources("AWS::ApiGateway::Resource")

    def path_of(resource_ref: Any) -> str:
        if "Fn::GetAtt" in resource_ref:  # the root resource
            return ""
        resource = resources[resource_ref["Ref"]]["Properties"]
        return f"{path_of(resource['ParentId'])}/{resource['PathPart']}"

    return {
        (path_of(m["Properties"]["ResourceId"]) or "/", m["Properties"]["HttpMethod"]): m["Properties"]
        for m in template.find_resources("AWS::ApiGateway::Method").values()
    }


def only(template: Template, resource_type: str, props: Any = None) -> tuple[str, dict[str, Any]]:
    """The one resource of a type (matching ``props``), as (logical id, definition)."""
    [(logical_id, resource)] = template.find_resources(resource_type, props or {}).items()
    return logical_id, resource


def function_by_handler(template: Template, handler: str) -> tuple[str, dict[str, Any]]:
    return only(template, "AWS::Lambda::Function", {"Properties": {"Handler": handler}})


def actions_of(statement: dict[str, Any]) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def policy_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_stack_is_named_for_the_operator(stack: ControlPlaneStack) -> None:
    assert stack.stack_name == "apid-control-plane"


class TestIdentity:
    def test_users_sign_up_themselves_with_email_and_a_role(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::Cognito::UserPool",
            {
                "UsernameAttributes": ["email"],
                "UsernameConfiguration": {"CaseSensitive": False},
                "AutoVerifiedAttributes": ["email"],
                "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False},
                "Schema": Match.array_with([Match.object_like({"Name": "role", "Mutable": False})]),
                "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
            },
        )

    def test_passwords_are_long_and_mfa_is_optional_totp(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::Cognito::UserPool",
            {
                "Policies": {
                    "PasswordPolicy": Match.object_like(
                        {
                            "MinimumLength": 12,
                            "RequireLowercase": True,
                            "RequireUppercase": True,
                            "RequireNumbers": True,
                            "RequireSymbols": True,
                        }
                    )
                },
                "MfaConfiguration": "OPTIONAL",
                "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
            },
        )

    def test_pool_is_retained_and_deletion_protected(self, template: Template) -> None:
        template.has_resource(
            "AWS::Cognito::UserPool",
            {
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": Match.object_like({"DeletionProtection": "ACTIVE"}),
            },
        )

    def test_one_group_per_role(self, template: Template) -> None:
        groups = template.find_resources("AWS::Cognito::UserPoolGroup").values()
        assert sorted(g["Properties"]["GroupName"] for g in groups) == ["consumers", "creators"]

    def test_cli_client_is_public_password_auth_with_short_tokens(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::Cognito::UserPoolClient",
            {
                "GenerateSecret": False,
                "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                "AccessTokenValidity": 60,
                "RefreshTokenValidity": 30 * 24 * 60,
                "TokenValidityUnits": Match.object_like({"AccessToken": "minutes", "RefreshToken": "minutes"}),
                "PreventUserExistenceErrors": "ENABLED",
                "AllowedOAuthFlowsUserPoolClient": False,
                "WriteAttributes": ["custom:role", "email"],
            },
        )

    def test_post_confirmation_trigger_may_only_add_users_to_groups_of_this_pool(self, template: Template) -> None:
        pool_id, pool = only(template, "AWS::Cognito::UserPool")
        function_id = pool["Properties"]["LambdaConfig"]["PostConfirmation"]["Fn::GetAtt"][0]
        function = template.find_resources("AWS::Lambda::Function")[function_id]["Properties"]
        assert function["Handler"] == "api_direct.runtime.post_confirmation.handler"
        assert function["Environment"]["Variables"]["ROLE_GROUPS"] == "creators,consumers"
        role_id = function["Role"]["Fn::GetAtt"][0]
        assert {
            "Action": "cognito-idp:AdminAddUserToGroup",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [pool_id, "Arn"]},
        } in policy_statements(template, role_id)
        template.has_resource_properties(
            "AWS::Lambda::Permission",
            {
                "Principal": "cognito-idp.amazonaws.com",
                "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
                "SourceArn": {"Fn::GetAtt": [pool_id, "Arn"]},
            },
        )

    def test_plus_feature_plan_enforces_threat_protection(self, bundle_cache_dir: Path) -> None:
        stack = cdk.Stack(cdk.App(context={BUNDLE_CACHE_CONTEXT: str(bundle_cache_dir)}), "Plus")
        Identity(stack, "Identity", feature_plan=cdk.aws_cognito.FeaturePlan.PLUS)
        Template.from_stack(stack).has_resource_properties(
            "AWS::Cognito::UserPool",
            {
                "UserPoolTier": "PLUS",
                "UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"},
            },
        )


class TestData:
    def test_table_has_the_store_keys_and_indexes(self, template: Template) -> None:
        _, table = only(template, "AWS::DynamoDB::Table")
        props = table["Properties"]
        assert props["KeySchema"] == [
            {"AttributeName": PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"},
        ]
        assert [
            (i["IndexName"], *(k["AttributeName"] for k in i["KeySchema"]), i["Projection"]["ProjectionType"])
            for i in props["GlobalSecondaryIndexes"]
        ] == [(*index, "ALL") for index in INDEXES]
        assert props["BillingMode"] == "PAY_PER_REQUEST"

    def test_table_is_encrypted_recoverable_and_retained(self, template: Template) -> None:
        template.has_resource(
            "AWS::DynamoDB::Table",
            {
                "DeletionPolicy": "Retain",
                "Properties": Match.object_like(
                    {
                        "SSESpecification": {"SSEEnabled": True},
                        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                        "DeletionProtectionEnabled": True,
                    }
                ),
            },
        )

    def test_table_expires_items_by_expires_at(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::DynamoDB::Table",
            {
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            },
        )

    def test_bus_has_no_static_policy(self, template: Template) -> None:
        """Linked accounts are admitted one by one at runtime; the template admits nobody."""
        _, bus = only(template, "AWS::Events::EventBus")
        assert bus["Properties"] == {"Name": "apid-control-plane"}
        template.resource_count_is("AWS::Events::EventBusPolicy", 0)

    def test_key_forwarding_role_puts_only_to_key_buses_for_this_account(self, template: Template) -> None:
        role_id, role = only(
            template,
            "AWS::IAM::Role",
            {
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [Match.object_like({"Principal": {"Service": "events.amazonaws.com"}})]
                    }
                },
            },
        )
        [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        assert policy_statements(template, role_id) == [
            {"Action": "events:PutEvents", "Effect": "Allow", "Resource": CREATOR_KEY_BUSES}
        ]
        assert CREATOR_KEY_BUSES == "arn:aws:events:*:*:event-bus/apid-*-keys"


class TestFunction:
    def test_runs_the_existing_mangum_handler_on_arm64(self, function: tuple[str, dict[str, Any]]) -> None:
        props = function[1]["Properties"]
        assert props["Handler"] == "api_direct.control_plane.api.handler.handler"
        assert (props["Architectures"], props["Runtime"]) == (["arm64"], "python3.12")

    def test_environment_is_the_settings_the_app_reads(
        self, function: tuple[str, dict[str, Any]], template: Template
    ) -> None:
        variables = function[1]["Properties"]["Environment"]["Variables"]
        assert set(variables) == {
            f"{ENV_PREFIX}{name}"
            for name in (
                "ACCOUNT_ID",
                "TABLE_NAME",
                "EVENT_BUS_NAME",
                "USER_POOL_ID",
                "APP_CLIENT_ID",
                "KEY_FORWARDING_ROLE_ARN",
                "MAX_OPENAPI_BYTES",
                "STRIPE_SECRET_ARN",
                "CURRENCY",
                "PLATFORM_FEE_PERCENT",
                "STRIPE_CARD_PERCENT",
                "STRIPE_CARD_FIXED_CENTS",
                "STRIPE_BILLING_PERCENT",
                "STRIPE_DISPUTE_FEE_CENTS",
                "USAGE_GRACE_MINUTES",
                "PAYOUT_GRACE_DAYS",
                "PRICE_NOTICE_DAYS",
                "ALERT_SENDER",
                "WEBHOOKS_ALLOW_LOOPBACK",
            )
        } | {ALERT_QUEUE_URL_ENV}  # Stripe's webhook queues a trial's notice
        assert variables[f"{ENV_PREFIX}WEBHOOKS_ALLOW_LOOPBACK"] == "False"  # a deployed control plane: https only
        table_id, _ = only(template, "AWS::DynamoDB::Table")
        pool_id, _ = only(template, "AWS::Cognito::UserPool")
        secret_id, _ = only(template, "AWS::SecretsManager::Secret")
        assert variables[f"{ENV_PREFIX}TABLE_NAME"] == {"Ref": table_id}
        assert variables[f"{ENV_PREFIX}USER_POOL_ID"] == {"Ref": pool_id}
        assert variables[f"{ENV_PREFIX}STRIPE_SECRET_ARN"] == {"Ref": secret_id}  # the ARN, never the value

    def test_grants_are_scoped(self, function: tuple[str, dict[str, Any]], template: Template) -> None:
        statements = policy_statements(template, function[1]["Properties"]["Role"]["Fn::GetAtt"][0])
        by_action = {
            action: statement
            for statement in statements
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        }
        bus_id, _ = only(template, "AWS::Events::EventBus")
        for action in ("events:PutPermission", "events:RemovePermission"):
            assert by_action[action]["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}
        assert "events:PutEvents" not in by_action, "the outbox relay puts the key events, not the app"
        assert by_action["events:PutTargets"]["Condition"] == {"ArnLike": {"events:TargetArn": CREATOR_KEY_BUSES}}
        assert "rule/apid-control-plane/apid-keys-*" in json.dumps(by_action["events:PutRule"]["Resource"])
        assert by_action["iam:PassRole"]["Condition"] == {
            "StringEquals": {"iam:PassedToService": "events.amazonaws.com"}
        }
        assert ":role/apid-deploy-*" in json.dumps(by_action["sts:AssumeRole"]["Resource"])
        assert {"dynamodb:PutItem", "dynamodb:Query"} <= set(by_action)
        secret_id, _ = only(template, "AWS::SecretsManager::Secret")
        assert by_action["secretsmanager:GetSecretValue"]["Resource"] == {"Ref": secret_id}
        assert not any(action.endswith("*") for action in by_action)

    def test_bundle_ships_the_prices_the_cost_figures_read(self, stack: ControlPlaneStack) -> None:
        """Package data, not a module: the import walk below would not notice it missing."""
        folder = stack.api.bundle.path / "api_direct" / "aws_costs" / "prices"
        assert sorted(path.stem for path in folder.glob("*.json")) == prices.regions()

    def test_bundle_holds_everything_the_app_imports_and_no_cdk_code(self, stack: ControlPlaneStack) -> None:
        """Walks every import of the shipped code: a module missing from the bundle would fail in Lambda only."""
        root = stack.api.bundle.path
        shipped = {
            path.relative_to(root).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
            for path in (root / "api_direct").rglob("*.py")
        }
        assert not {m for m in shipped if m.split(".")[1:2] in (["constructs"], ["cli"], ["deploy"], ["user_stack"])}
        available = sys.stdlib_module_names | LAMBDA_PROVIDED | {path.name.split(".")[0] for path in root.iterdir()}
        missing = set()
        for path in (root / "api_direct").rglob("*.py"):
            tree = ast.parse(path.read_text())
            # Imports under `if TYPE_CHECKING:` (type stubs) never run.
            type_only = {
                id(inner)
                for node in ast.walk(tree)
                if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
                for inner in ast.walk(node)
            }
            for node in ast.walk(tree):
                if id(node) in type_only:
                    continue
                modules = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module]
                    if isinstance(node, ast.ImportFrom) and node.level == 0
                    else []
                )
                for module in modules:
                    top = module.split(".")[0]
                    if (module not in shipped) if top == "api_direct" else (top not in available):
                        missing.add(f"{module} (imported by {path.relative_to(root)})")
        assert not missing, sorted(missing)


PUBLIC_METHODS = {*((path, "GET") for path in PUBLIC_GET_PATHS), *((path, "POST") for path in PUBLIC_POST_PATHS)}


class TestRestApi:
    def test_public_pages_are_get_and_the_stripe_webhook_post_without_a_token(
        self, methods: dict[tuple[str, str], dict[str, Any]]
    ) -> None:
        public = {key for key, method in methods.items() if method["AuthorizationType"] == "NONE"}
        assert public == PUBLIC_METHODS
        assert ("/stripe/webhook", "POST") in public
        assert "AuthorizerId" not in methods["/stripe/webhook", "POST"]

    def test_the_web_pages_and_their_forms_need_no_token_at_the_gateway(
        self, methods: dict[tuple[str, str], dict[str, Any]]
    ) -> None:
        """A browser holds a cookie, not a bearer token: the app verifies the cookie's token itself."""
        for key in (
            ("/", "GET"),
            ("/web", "GET"),
            ("/web/{proxy+}", "GET"),
            ("/web", "POST"),
            ("/web/{proxy+}", "POST"),
        ):
            assert methods[key]["AuthorizationType"] == "NONE", key
        assert methods["/web/{proxy+}", "ANY"]["AuthorizationType"] == "COGNITO_USER_POOLS"  # PUT, DELETE...

    def test_ai_agents_reach_the_marketplace_mcp_endpoint_without_a_token(
        self, methods: dict[tuple[str, str], dict[str, Any]]
    ) -> None:
        """An agent holds no Cognito token. Its GET reaches the app too, which answers 405 (no event stream):
        the gateway's 401 would read to an MCP client as a demand to sign in."""
        assert MARKETPLACE_MCP_PATH == MCP_PATH
        for method in ("POST", "GET"):
            assert methods[MCP_PATH, method]["AuthorizationType"] == "NONE", method
        assert methods[MCP_PATH, "ANY"]["AuthorizationType"] == "COGNITO_USER_POOLS"  # PUT, DELETE...

    def test_everything_else_needs_a_cognito_access_token(
        self, methods: dict[tuple[str, str], dict[str, Any]], template: Template
    ) -> None:
        authorizer_id, _ = only(template, "AWS::ApiGateway::Authorizer", {"Properties": {"Type": "COGNITO_USER_POOLS"}})
        signed_in = {key: method for key, method in methods.items() if key not in PUBLIC_METHODS}
        assert {
            ("/", "ANY"),
            ("/{proxy+}", "ANY"),
            ("/listings", "ANY"),
            ("/listings/{proxy+}", "ANY"),
            ("/stripe", "ANY"),
            ("/stripe/webhook", "ANY"),
        } <= set(signed_in)
        for method in signed_in.values():
            assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
            assert method["AuthorizerId"] == {"Ref": authorizer_id}
            assert method["AuthorizationScopes"] == [USER_POOL_API_SCOPE]

    def test_json_access_log_with_retention(self, template: Template) -> None:
        _, stage = only(template, "AWS::ApiGateway::Stage")
        access_log = stage["Properties"]["AccessLogSetting"]
        assert set(json.loads(access_log["Format"])) >= {"requestId", "status", "resource", "user", "latencyMs"}
        log_group_id = access_log["DestinationArn"]["Fn::GetAtt"][0]
        assert template.find_resources("AWS::Logs::LogGroup")[log_group_id]["Properties"]["RetentionInDays"] == 365
        assert stage["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] > 0

    def test_gateway_rejections_are_problem_json(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::ApiGateway::GatewayResponse",
            {
                "ResponseType": "UNAUTHORIZED",
                "StatusCode": "401",
                "ResponseParameters": Match.object_like(
                    {"gatewayresponse.header.content-type": "'application/problem+json'"}
                ),
            },
        )


class TestStripe:
    def test_secret_is_a_generated_placeholder_retained_with_the_table(self, template: Template) -> None:
        _, secret = only(template, "AWS::SecretsManager::Secret")
        assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
        props = secret["Properties"]
        assert "SecretString" not in props and "KmsKeyId" not in props  # Secrets Manager's AWS-managed key
        assert props["GenerateSecretString"] == {
            "SecretStringTemplate": '{"api_key": ""}',
            "GenerateStringKey": "webhook_secret",
        }
        assert '"api_key": "sk_live_..."' in props["Description"]
        assert '"webhook_secret": "whsec_..."' in props["Description"]

    def test_no_stripe_key_value_anywhere_in_the_template(self, template: Template) -> None:
        """Placeholders such as ``sk_live_...`` in descriptions are fine; a key's characters are not."""
        text = json.dumps(template.to_json())
        assert re.findall(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9]+", text) == []
        assert "sk_live_..." in text  # the descriptions it ran over do name the keys

    def test_only_the_app_closer_and_payer_may_read_it(self, template: Template) -> None:
        secret_id, _ = only(template, "AWS::SecretsManager::Secret")
        readers = set()
        for policy in template.find_resources("AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if any(a.startswith("secretsmanager:") for a in actions_of(statement)):
                    assert statement["Resource"] == {"Ref": secret_id}
                    readers.update(role["Ref"] for role in policy["Properties"]["Roles"])
        functions = template.find_resources("AWS::Lambda::Function").values()
        handlers = {f["Properties"]["Role"]["Fn::GetAtt"][0]: f["Properties"]["Handler"] for f in functions}
        assert {handlers[role] for role in readers} == {
            "api_direct.control_plane.api.handler.handler",
            CLOSE_HANDLER,
            PAY_OUT_HANDLER,
        }


class TestBilling:
    def test_billing_runs_the_apps_bundle_with_the_apps_settings(
        self, function: tuple[str, dict[str, Any]], template: Template, stack: ControlPlaneStack
    ) -> None:
        app = function[1]["Properties"]
        app_variables = dict(app["Environment"]["Variables"])
        app_variables.pop(ALERT_QUEUE_URL_ENV)  # the app's too: Stripe's webhook queues a trial's notice
        for handler in (AGGREGATE_HANDLER, DELIVER_ALERTS_HANDLER, CLOSE_HANDLER, PAY_OUT_HANDLER):
            _, billing = function_by_handler(template, handler)
            assert billing["Properties"]["Code"] == app["Code"]
            variables = dict(billing["Properties"]["Environment"]["Variables"])
            variables.pop(DEAD_LETTER_URL_ENV, None)  # the aggregator's alone: where poison records go
            variables.pop(ALERT_QUEUE_URL_ENV, None)  # the aggregator's and the deliverer's: where alerts go
            assert variables == app_variables
        assert stack.api.billing.functions == (
            stack.api.billing.aggregator,
            stack.api.billing.alert_deliverer,
            stack.api.billing.closer,
            stack.api.billing.payer,
        )

    def test_usage_on_the_control_plane_bus_goes_to_the_usage_queue(self, template: Template) -> None:
        bus_id, _ = only(template, "AWS::Events::EventBus")
        _, rule = only(template, "AWS::Events::Rule", {"Properties": {"EventBusName": {"Ref": bus_id}}})
        assert rule["Properties"]["EventPattern"] == {"source": ["api-direct.usage"], "detail-type": ["UsageRecorded"]}
        [target] = rule["Properties"]["Targets"]
        queue_id = target["Arn"]["Fn::GetAtt"][0]
        aggregator_id, _ = function_by_handler(template, AGGREGATE_HANDLER)
        _, mapping = only(
            template, "AWS::Lambda::EventSourceMapping", {"Properties": {"FunctionName": {"Ref": aggregator_id}}}
        )
        assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    def test_billing_and_the_app_share_the_table_and_nothing_else_of_each_other(self, template: Template) -> None:
        table_id, _ = only(template, "AWS::DynamoDB::Table")
        bus_id, _ = only(template, "AWS::Events::EventBus")
        # A hard spend cap and used-up prepaid credit write KeyCapped to the table's outbox, put on no bus.
        # The closer removes a retired listing's key-forwarding rule, and only rules of that name.
        allowed = {
            CLOSE_HANDLER: {"events:RemoveTargets", "events:DeleteRule"},
            DELIVER_ALERTS_HANDLER: {"cognito-idp:ListUsers"},
        }
        for handler in (AGGREGATE_HANDLER, DELIVER_ALERTS_HANDLER, CLOSE_HANDLER, PAY_OUT_HANDLER):
            _, billing = function_by_handler(template, handler)
            statements = policy_statements(template, billing["Properties"]["Role"]["Fn::GetAtt"][0])
            assert any(table_id in json.dumps(s["Resource"]) for s in statements)
            assert not [
                a
                for s in statements
                for a in actions_of(s)
                if a.startswith(("events:", "iam:", "sts:", "cognito-idp:")) and a not in allowed.get(handler, ())
            ]
            for statement in statements:
                if "events:DeleteRule" in actions_of(statement):
                    assert json.dumps(statement["Resource"]).endswith(f'/{KEY_RULE_PREFIX}*"]]}}')


class TestOutbox:
    def test_the_table_streams_new_images(self, template: Template) -> None:
        _, table = only(template, "AWS::DynamoDB::Table")
        assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}

    def test_the_relay_reads_new_outbox_items_retrying_from_the_failed_one_then_dead_lettering(
        self, template: Template, function: tuple[str, dict[str, Any]]
    ) -> None:
        table_id, _ = only(template, "AWS::DynamoDB::Table")
        relay_id, relay = function_by_handler(template, RELAY_HANDLER)
        assert relay["Properties"]["Code"] == function[1]["Properties"]["Code"]
        _, mapping = only(
            template, "AWS::Lambda::EventSourceMapping", {"Properties": {"FunctionName": {"Ref": relay_id}}}
        )
        props = mapping["Properties"]
        assert props["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
        assert (props["StartingPosition"], props["BisectBatchOnFunctionError"]) == ("TRIM_HORIZON", True)
        assert (props["MaximumRetryAttempts"], props["MaximumRecordAgeInSeconds"]) == (RELAY_RETRY_ATTEMPTS, 86400)
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        dead_letters = props["DestinationConfig"]["OnFailure"]["Destination"]
        queue_id, arn = dead_letters["Fn::GetAtt"]
        assert "OutboxDeadLetters" in queue_id and arn == "Arn"
        [criteria] = props["FilterCriteria"]["Filters"]
        assert json.loads(criteria["Pattern"]) == {
            "eventName": ["INSERT"],
            "dynamodb": {"Keys": {PK: {"S": [{"prefix": OUTBOX_PREFIX}]}, SK: {"S": [OUTBOX_SK]}}},
        }

    def test_the_relay_may_put_events_on_the_control_plane_bus_and_only_there(self, template: Template) -> None:
        bus_id, _ = only(template, "AWS::Events::EventBus")
        _, relay = function_by_handler(template, RELAY_HANDLER)
        statements = policy_statements(template, relay["Properties"]["Role"]["Fn::GetAtt"][0])
        puts = [s for s in statements if "events:PutEvents" in actions_of(s)]
        assert [s["Resource"] for s in puts] == [{"Fn::GetAtt": [bus_id, "Arn"]}]
        reads = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}
        assert {a for s in statements for a in actions_of(s) if a.startswith("dynamodb:")} == reads, "the stream only"

    def test_alarms_on_dead_letters_and_on_events_waiting(self, template: Template) -> None:
        alarms = template.find_resources(
            "AWS::CloudWatch::Alarm", {"Properties": {"AlarmDescription": Match.any_value()}}
        )
        metrics = {alarm["Properties"].get("MetricName") for alarm in alarms.values()}
        assert {"ApproximateNumberOfMessagesVisible", "IteratorAge"} <= metrics


class TestAlerts:
    def test_the_deliverer_sends_as_the_operators_sender_alone(self, template: Template) -> None:
        deliverer_id, deliverer = function_by_handler(template, DELIVER_ALERTS_HANDLER)
        statements = policy_statements(template, deliverer["Properties"]["Role"]["Fn::GetAtt"][0])
        [ses] = [s for s in statements if any(a.startswith("ses:") for a in actions_of(s))]
        assert actions_of(ses) == ["ses:SendEmail"]
        assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": ALERT_SENDER}}
        resources = json.dumps(ses["Resource"])
        assert ":identity/alerts@marketplace.example" in resources and ":identity/marketplace.example" in resources
        assert "*" not in resources
        [cognito] = [s for s in statements if "cognito-idp:ListUsers" in actions_of(s)]
        pool_id, _ = only(template, "AWS::Cognito::UserPool")
        assert cognito["Resource"] == {"Fn::GetAtt": [pool_id, "Arn"]}

    def test_alerts_are_drained_with_partial_failures_and_dead_lettered(
        self, template: Template, function: tuple[str, dict[str, Any]]
    ) -> None:
        deliverer_id, _ = function_by_handler(template, DELIVER_ALERTS_HANDLER)
        _, mapping = only(
            template, "AWS::Lambda::EventSourceMapping", {"Properties": {"FunctionName": {"Ref": deliverer_id}}}
        )
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        queue_id = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
        queue = template.find_resources("AWS::SQS::Queue")[queue_id]["Properties"]
        assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
        senders = [function_by_handler(template, handler)[1] for handler in (AGGREGATE_HANDLER, DELIVER_ALERTS_HANDLER)]
        for sender in (*senders, function[1]):
            assert sender["Properties"]["Environment"]["Variables"][ALERT_QUEUE_URL_ENV] == {"Ref": queue_id}

    def test_without_a_sender_nothing_may_be_emailed(self, bundle_cache_dir: Path) -> None:
        stack = ControlPlaneStack(cdk.App(context={BUNDLE_CACHE_CONTEXT: str(bundle_cache_dir)}), "ControlPlane")
        policies = json.dumps(Template.from_stack(stack).find_resources("AWS::IAM::Policy"))
        assert "ses:" not in policies


def test_outputs_are_what_a_client_needs_and_nothing_secret(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert set(outputs) == {"ApiUrl", "UserPoolId", "AppClientId", "EventBusArn", "StripeSecretArn", "StripeWebhookUrl"}
    pool_id, _ = only(template, "AWS::Cognito::UserPool")
    client_id, _ = only(template, "AWS::Cognito::UserPoolClient")
    secret_id, _ = only(template, "AWS::SecretsManager::Secret")
    assert outputs["UserPoolId"]["Value"] == {"Ref": pool_id}
    assert outputs["AppClientId"]["Value"] == {"Ref": client_id}
    assert outputs["StripeSecretArn"]["Value"] == {"Ref": secret_id}
    assert "api_key" in outputs["StripeSecretArn"]["Description"]


def test_stripe_webhook_url_is_the_stage_url_and_the_webhook_path(template: Template) -> None:
    outputs = template.find_outputs("*")
    api_url = outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    webhook_url = outputs["StripeWebhookUrl"]["Value"]["Fn::Join"][1]
    assert webhook_url == [*api_url[:-1], "/stripe/webhook"]
    assert api_url[-1] == "/"
