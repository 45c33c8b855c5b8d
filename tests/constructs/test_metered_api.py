"""MeteredApi, ApiKeyStore and UsageForwarder composed as a creator's stack would."""

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Capture, Match, Template

from api_direct.contracts import KEY_EVENT_TYPES
from api_direct.constructs import MeteredApi, PlanLimits, UsageForwarder
from api_direct.local.rest_proxy import binary_media_types_of
from api_direct.runtime.access_log import access_log_format_json
from api_direct.runtime.asgi_lambda import BINARY_MEDIA_TYPES
from api_direct.runtime.gateway_responses import BY_GATEWAY_RESPONSE_TYPE
from api_direct.runtime.limit_headers import PLAN_LIMITS_ENV
from api_direct.runtime.route_weights import RouteConflict, RouteWeights, WeightedRoute
from tests.constructs.metered_stack import metered_api
from tests.example_project import CONTROL_PLANE_ACCOUNT, CONTROL_PLANE_BUS_ARN

PLANS = [
    PlanLimits(name="free", rate_limit=2, burst=5, monthly_quota=1000),
    PlanLimits(name="unlimited", rate_limit=100.5, burst=200),
]


@pytest.fixture(scope="module")
def template(bundle_cache_dir: Path) -> Template:
    api = metered_api(
        bundle_cache_dir, plans=PLANS, stack_name="apid-test", authorizer_cache_ttl=cdk.Duration.seconds(120)
    )
    stack = cdk.Stack.of(api)
    UsageForwarder(
        stack,
        "Usage",
        access_log_group=api.access_log_group,
        control_plane_bus_arn=CONTROL_PLANE_BUS_ARN,
        api_name="test-api",
    )
    return Template.from_stack(stack)


def test_rest_api_takes_its_key_from_the_authorizer(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi", {"ApiKeySourceType": "AUTHORIZER", "EndpointConfiguration": {"Types": ["REGIONAL"]}}
    )


def test_rest_api_passes_every_body_as_bytes(template: Template) -> None:
    """``*/*``, escaped as CloudFormation wants it, is what the local gateway model reads back as the adapter's rule."""
    [api] = template.find_resources("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["BinaryMediaTypes"] == ["*~1*"]
    assert binary_media_types_of(api["Properties"]["BinaryMediaTypes"]) == BINARY_MEDIA_TYPES


def test_request_authorizer_reads_x_api_key_with_configured_cache(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {"Type": "REQUEST", "IdentitySource": "method.request.header.x-api-key", "AuthorizerResultTtlInSeconds": 120},
    )


def test_every_method_requires_key_authorizer_and_validation(template: Template) -> None:
    methods = template.find_resources("AWS::ApiGateway::Method")
    assert len(methods) == 2  # ANY on / and on /{proxy+}
    for method in methods.values():
        properties = method["Properties"]
        assert properties["HttpMethod"] == "ANY"
        assert properties["AuthorizationType"] == "CUSTOM"
        assert properties["ApiKeyRequired"] is True
        assert properties["RequestParameters"] == {"method.request.header.x-api-key": True}
        assert "Ref" in properties["RequestValidatorId"]
    template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator", {"ValidateRequestParameters": True, "ValidateRequestBody": True}
    )


def test_one_usage_plan_per_pricing_plan(template: Template) -> None:
    template.resource_count_is("AWS::ApiGateway::UsagePlan", 2)
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "UsagePlanName": "free",
            "Throttle": {"RateLimit": 2, "BurstLimit": 5},
            "Quota": {"Limit": 1000, "Period": "MONTH"},
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"UsagePlanName": "unlimited", "Throttle": {"RateLimit": 100.5, "BurstLimit": 200}, "Quota": Match.absent()},
    )


def test_stage_writes_json_access_log(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "v1",
            "TracingEnabled": True,
            "AccessLogSetting": {
                "Format": access_log_format_json(),
                "DestinationArn": {"Fn::GetAtt": [Match.string_like_regexp("^ApiAccessLogs"), "Arn"]},
            },
        },
    )


def test_rejections_have_the_shared_json_bodies(template: Template) -> None:
    for response_type, rejection in BY_GATEWAY_RESPONSE_TYPE.items():
        template.has_resource_properties(
            "AWS::ApiGateway::GatewayResponse",
            {
                "ResponseType": response_type,
                "StatusCode": str(rejection.status),
                "ResponseTemplates": {"application/json": rejection.body()},
            },
        )


def test_429s_map_retry_after_from_the_authorizer_context(template: Template) -> None:
    """Throttling retries after the plan's interval; a used-up quota at its reset, both written by the authorizer."""
    for response_type, source in (
        ("THROTTLED", "context.authorizer.throttleRetryAfter"),
        ("QUOTA_EXCEEDED", "context.authorizer.quotaResetDate"),
    ):
        template.has_resource_properties(
            "AWS::ApiGateway::GatewayResponse",
            {
                "ResponseType": response_type,
                "ResponseParameters": {
                    "gatewayresponse.header.Retry-After": source,
                    "gatewayresponse.header.Content-Type": "'application/json'",
                },
            },
        )


def test_authorizer_knows_each_plan_s_limits(template: Template) -> None:
    [function] = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "api_direct.runtime.authorizer.handler"}}
    ).values()
    assert json.loads(function["Properties"]["Environment"]["Variables"][PLAN_LIMITS_ENV]) == {
        "free": {"rate_limit": 2, "burst": 5, "monthly_quota": 1000},
        "unlimited": {"rate_limit": 100.5, "burst": 200, "monthly_quota": None},
    }


def test_authorizer_may_find_usage_plans_and_read_usage_of_quota_plans_only(template: Template) -> None:
    """A policy of its own (not the function's default one, which the function waits for: a cycle via the stage)."""
    [policy] = template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"PolicyName": Match.string_like_regexp("AuthorizerReadsQuotaUsage")}}
    ).values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "apigateway:GET"
    rendered = json.dumps(statement["Resource"])
    assert '"::/usageplans"' in rendered
    assert "PlanFree" in rendered and "/usage" in rendered and "PlanUnlimited" not in rendered
    [role] = policy["Properties"]["Roles"]
    assert role["Ref"].startswith("ApiAuthorizerRole")


def test_key_table_is_hash_keyed_encrypted_and_recoverable(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "key_hash", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "key_hash", "AttributeType": "S"}],
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


def test_authorizer_may_only_get_items(template: Template) -> None:
    policies = template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("^ApiAuthorizerRole")}]}}
    )
    actions = {
        a
        for policy in policies.values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        for a in _list(s["Action"])
    }
    assert {a for a in actions if a.startswith("dynamodb:")} == {"dynamodb:GetItem"}
    assert {a for a in actions if a.startswith("apigateway:")} == {"apigateway:GET"}


def test_key_bus_admits_only_the_control_plane(template: Template) -> None:
    statement = Capture()
    template.has_resource_properties("AWS::Events::EventBusPolicy", {"Statement": statement})
    assert statement.as_object()["Principal"] == {
        "AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{CONTROL_PLANE_ACCOUNT}:root"]]}
    }
    assert statement.as_object()["Action"] == "events:PutEvents"
    template.has_resource_properties("AWS::Events::EventBus", {"Name": "apid-test-keys"})


def test_key_events_reach_sync_with_retries_and_dead_letters(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["api-direct.control-plane"],
                "detail-type": list(KEY_EVENT_TYPES),
                "account": [CONTROL_PLANE_ACCOUNT],
            },
            "Targets": [
                Match.object_like(
                    {
                        "DeadLetterConfig": {
                            "Arn": {"Fn::GetAtt": [Match.string_like_regexp("^KeysSyncDeadLetters"), "Arn"]}
                        },
                        "RetryPolicy": {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 86400},
                    }
                )
            ],
        },
    )


def test_events_the_sync_function_fails_on_reach_the_dead_letters(template: Template) -> None:
    """EventBridge invokes asynchronously: its dead-letter config only covers delivery, not the function's errors."""
    dead_letters = {"Fn::GetAtt": [Match.string_like_regexp("^KeysSyncDeadLetters"), "Arn"]}
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "api_direct.runtime.key_sync.handler", "DeadLetterConfig": {"TargetArn": dead_letters}},
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [{"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": dead_letters}]
                )
            }
        },
    )


def test_sync_knows_usage_plans_and_may_bind_keys(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "api_direct.runtime.key_sync.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "KEY_TABLE_NAME": {"Ref": Match.string_like_regexp("^KeysTable")},
                        "USAGE_PLANS": {
                            "Fn::Join": ["", Match.array_with([{"Ref": Match.string_like_regexp("^ApiPlanFree")}])]
                        },
                    }
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Action": ["apigateway:GET", "apigateway:POST", "apigateway:DELETE"], "Effect": "Allow"}
                        )
                    ]
                )
            }
        },
    )


def test_forwarder_subscribes_to_access_log_and_may_only_put_to_control_plane(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Logs::SubscriptionFilter",
        {
            "FilterPattern": "",
            "LogGroupName": {"Ref": Match.string_like_regexp("^ApiAccessLogs")},
            "DestinationArn": {"Fn::GetAtt": [Match.string_like_regexp("^UsageFunction"), "Arn"]},
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [{"Action": "events:PutEvents", "Effect": "Allow", "Resource": CONTROL_PLANE_BUS_ARN}]
                )
            }
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {
                "OnFailure": {"Destination": {"Fn::GetAtt": [Match.string_like_regexp("^UsageDeadLetters"), "Arn"]}}
            },
        },
    )


def test_handlers_share_one_runtime_asset(template: Template) -> None:
    keys = {
        fn["Properties"]["Code"]["S3Key"]
        for fn in template.find_resources("AWS::Lambda::Function").values()
        if fn["Properties"]["Handler"].startswith("api_direct.runtime.")
    }
    assert len(keys) == 1


def test_queues_are_encrypted_and_tls_only(template: Template) -> None:
    template.resource_count_is("AWS::SQS::Queue", 2)
    template.all_resources_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})
    template.resource_properties_count_is(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
        2,
    )


def test_needs_a_plan() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Empty")
    handler = lambda_.Function(
        stack, "H", runtime=lambda_.Runtime.PYTHON_3_12, handler="i.h", code=lambda_.Code.from_inline("x")
    )
    with pytest.raises(ValueError, match="at least one plan"):
        MeteredApi(stack, "Api", handler=handler, key_store=None, plans=[])  # type: ignore[arg-type]


def _list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


WEIGHTS = RouteWeights(
    (
        WeightedRoute("/forecast/{city}", ("GET",), 5),
        WeightedRoute("/files/{name+}", (), 3),
        WeightedRoute("/health", (), 0),
    )
)


@pytest.fixture(scope="module")
def weighted(bundle_cache_dir: Path) -> Template:
    api = metered_api(bundle_cache_dir, plans=PLANS, stack_name="apid-weighted", route_weights=WEIGHTS)
    return Template.from_stack(cdk.Stack.of(api))


def _resource_paths(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> the resource's full path (``/`` for the root), read back through ``ParentId``."""
    resources = template["Resources"]

    def path(logical_id: str) -> str:
        properties = resources[logical_id]["Properties"]
        parent = properties["ParentId"]
        above = "" if "Fn::GetAtt" in parent else path(parent["Ref"])
        return f"{above}/{properties['PathPart']}"

    paths = {id_: path(id_) for id_, r in resources.items() if r["Type"] == "AWS::ApiGateway::Resource"}
    return paths


def test_each_weighted_route_is_a_resource_and_every_other_path_still_reaches_the_app(weighted: Template) -> None:
    template = weighted.to_json()
    paths = _resource_paths(template)
    assert sorted(paths.values()) == [
        "/files",
        "/files/{name+}",
        "/forecast",
        "/forecast/{city}",
        "/forecast/{city}/{proxy+}",
        "/health",
        "/health/{proxy+}",
        "/{proxy+}",
    ]
    methods = {
        (paths.get(m["Properties"]["ResourceId"].get("Ref", ""), "/"), m["Properties"]["HttpMethod"]): m["Properties"]
        for m in template["Resources"].values()
        if m["Type"] == "AWS::ApiGateway::Method"
    }
    assert set(methods) == {("/", "ANY"), ("/forecast/{city}", "GET")} | {(p, "ANY") for p in paths.values()}
    for properties in methods.values():
        assert (properties["AuthorizationType"], properties["ApiKeyRequired"]) == ("CUSTOM", True)
        assert properties["Integration"]["Type"] == "AWS_PROXY"


def test_usage_plans_throttle_weighted_methods_by_their_weight(weighted: Template) -> None:
    plans = {
        plan["Properties"]["UsagePlanName"]: plan["Properties"]["ApiStages"][0]["Throttle"]
        for plan in weighted.find_resources("AWS::ApiGateway::UsagePlan").values()
    }
    assert plans == {
        "free": {
            "/forecast/{city}/GET": {"RateLimit": 0.4, "BurstLimit": 1},
            "/files/{name+}/ANY": {"RateLimit": 0.67, "BurstLimit": 1},
        },
        "unlimited": {
            "/forecast/{city}/GET": {"RateLimit": 20.1, "BurstLimit": 40},
            "/files/{name+}/ANY": {"RateLimit": 33.5, "BurstLimit": 66},
        },
    }


def test_an_unweighted_api_keeps_its_two_resources_and_no_method_throttle(template: Template) -> None:
    assert [p["Properties"]["PathPart"] for p in template.find_resources("AWS::ApiGateway::Resource").values()] == [
        "{proxy+}"
    ]
    for plan in template.find_resources("AWS::ApiGateway::UsagePlan").values():
        assert plan["Properties"]["ApiStages"][0]["Throttle"] == {}


def test_the_forwarder_gets_the_weights(bundle_cache_dir: Path) -> None:
    api = metered_api(bundle_cache_dir, stack_name="apid-weighted-usage", route_weights=WEIGHTS)
    UsageForwarder(
        cdk.Stack.of(api),
        "Usage",
        access_log_group=api.access_log_group,
        control_plane_bus_arn=CONTROL_PLANE_BUS_ARN,
        api_name="test-api",
        route_weights=api.route_weights,
    )
    [function] = (
        Template.from_stack(cdk.Stack.of(api))
        .find_resources(
            "AWS::Lambda::Function", {"Properties": {"Handler": "api_direct.runtime.usage_forwarder.handler"}}
        )
        .values()
    )
    variables = function["Properties"]["Environment"]["Variables"]
    assert RouteWeights.from_environment(variables) == WEIGHTS


def test_routes_with_two_parameters_at_one_level_are_refused(bundle_cache_dir: Path) -> None:
    conflicting = RouteWeights((WeightedRoute("/a/{x}", (), 2), WeightedRoute("/a/{y}/b", (), 2)))
    with pytest.raises(RouteConflict, match=r"^routes /a/\{x\} and /a/\{y\}: API Gateway allows one path parameter"):
        metered_api(bundle_cache_dir, stack_name="apid-conflict", route_weights=conflicting)
