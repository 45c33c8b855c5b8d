"""UsageBilling: usage rule and queue, the aggregator's event source, the schedules and who may
read the Stripe secret."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Match, Template

from api_direct.constructs import UsageBilling
from api_direct.bundling.build import Bundle, BundleSpec, build_bundle
from api_direct.contracts import ALERT_QUEUE_URL_ENV, DEAD_LETTER_URL_ENV
from api_direct.constructs.usage_billing import (
    AGGREGATE_HANDLER,
    CLOSE_HANDLER,
    DELIVER_ALERTS_HANDLER,
    MAX_RECEIVE_COUNT,
    PAY_OUT_HANDLER,
)
from api_direct.contracts import USAGE_DETAIL_TYPE, USAGE_SOURCE
from tests.compliance import lint_errors, nag_findings

ENVIRONMENT = {"APID_CP_CURRENCY": "usd", "APID_CP_USAGE_GRACE_MINUTES": "120"}


@dataclass(frozen=True)
class Synthesized:
    """Both stacks of one synth: the defaults, and every override with an operator role granted redrive."""

    findings: list[str]
    billing: UsageBilling
    template: Template
    overridden: Template


def tiny_bundle(cache: Path) -> Bundle:
    """The handlers' module path without the control plane's dependencies: nothing here runs them."""
    handlers = "def aggregate_usage(event, context): ...\ndef close_periods(event, context): ...\n"
    return build_bundle(
        BundleSpec(
            requirements=(),
            sources=(),
            generated={
                "api_direct/__init__.py": "",
                "api_direct/control_plane/__init__.py": "",
                "api_direct/control_plane/billing/__init__.py": "",
                "api_direct/control_plane/billing/handlers.py": handlers + "def pay_out(event, context): ...\n",
            },
        ),
        cache,
    )


def billing_stack(app: cdk.App, construct_id: str, bundle: Bundle, **props: Any) -> tuple[cdk.Stack, UsageBilling]:
    stack = cdk.Stack(app, construct_id)
    table = dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
    )
    table.add_global_secondary_index(
        index_name="gsi1", partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING)
    )
    secret = secretsmanager.Secret(
        stack,
        "Stripe",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            secret_string_template='{"api_key": ""}', generate_string_key="webhook_secret"
        ),
    )
    cdk.Validations.of(secret).acknowledge(cdk.Acknowledgment(id="AwsSolutions-SMG4", reason="A test secret."))
    billing = UsageBilling(
        stack,
        "Billing",
        table=table,
        event_bus=events.EventBus(stack, "Bus"),
        bundle=bundle,
        environment=ENVIRONMENT,
        stripe_secret=secret,
        user_pool=cognito.UserPool.from_user_pool_id(stack, "Users", "us-east-1_Users"),
        **props,
    )
    return stack, billing


@pytest.fixture(scope="module")
def synthesized(bundle_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """One synth with cdk-nag for both stacks; the templates are read back from the cloud assembly."""
    bundle = tiny_bundle(bundle_cache_dir)
    outdir = tmp_path_factory.mktemp("usage-billing")
    built: dict[str, UsageBilling] = {}

    def build(app: cdk.App) -> cdk.Stack:
        overridden, built["overridden"] = billing_stack(
            app,
            "Overridden",
            bundle,
            close_schedule=events.Schedule.rate(cdk.Duration.minutes(5)),
            payout_schedule=events.Schedule.cron(minute="30", hour="2", day="1"),
            batch_size=10,
            aggregator_timeout=cdk.Duration.seconds(60),
            scheduled_concurrency=1,
        )
        built["overridden"].grant_redrive(iam.Role(overridden, "Operator", assumed_by=iam.AccountRootPrincipal()))
        stack, built["billing"] = billing_stack(app, "Billing", bundle)
        return stack

    findings = nag_findings(build, outdir)

    def template(name: str) -> Template:
        return Template.from_json(json.loads((outdir / f"{name}.template.json").read_text()))

    return Synthesized(findings, built["billing"], template("Billing"), template("Overridden"))


@pytest.fixture(scope="module")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template


def only(template: Template, resource_type: str, props: Any = None) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = template.find_resources(resource_type, props or {}).items()
    return logical_id, resource


def function_id(template: Template, handler: str) -> str:
    return only(template, "AWS::Lambda::Function", {"Properties": {"Handler": handler}})[0]


def role_statements(template: Template, handler: str) -> list[dict[str, Any]]:
    function = template.find_resources("AWS::Lambda::Function")[function_id(template, handler)]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def aggregator_mapping(template: Template) -> tuple[str, dict[str, Any]]:
    function = {"Ref": function_id(template, AGGREGATE_HANDLER)}
    return only(template, "AWS::Lambda::EventSourceMapping", {"Properties": {"FunctionName": function}})


def queue_id(template: Template, *, dead_letters: bool) -> str:
    """The usage queue (it has a redrive policy to the usage dead letters) or its dead-letter queue."""
    queues = template.find_resources("AWS::SQS::Queue")
    redrives = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]: logical_id
        for logical_id, q in queues.items()
        if "RedrivePolicy" in q["Properties"]
        and "UsageDeadLetters" in q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    }
    [(dead_letter_id, usage_id)] = redrives.items()
    return dead_letter_id if dead_letters else usage_id


class TestCompliance:
    def test_cdk_nag_has_no_unacknowledged_error(self, synthesized: Synthesized) -> None:
        assert synthesized.findings == [], "\n".join(synthesized.findings)

    def test_cfn_lint_has_no_error_with_or_without_reserved_concurrency(self, synthesized: Synthesized) -> None:
        for template in (synthesized.template, synthesized.overridden):
            errors = lint_errors(template.to_json())
            assert errors == [], "\n".join(errors)


class TestUsage:
    def test_rule_on_the_bus_takes_only_usage_recorded_events(self, template: Template) -> None:
        bus_id, _ = only(template, "AWS::Events::EventBus")
        _, rule = only(template, "AWS::Events::Rule", {"Properties": {"EventBusName": Match.any_value()}})
        assert rule["Properties"]["EventBusName"] == {"Ref": bus_id}
        assert rule["Properties"]["EventPattern"] == {"source": [USAGE_SOURCE], "detail-type": [USAGE_DETAIL_TYPE]}
        assert (USAGE_SOURCE, USAGE_DETAIL_TYPE) == ("api-direct.usage", "UsageRecorded")

    def test_rule_delivers_to_the_queue_and_what_it_cannot_deliver_to_the_dead_letters(
        self, template: Template
    ) -> None:
        _, rule = only(template, "AWS::Events::Rule", {"Properties": {"EventBusName": Match.any_value()}})
        [target] = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [queue_id(template, dead_letters=False), "Arn"]}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id(template, dead_letters=True), "Arn"]}}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 24 * 3600

    def test_queues_are_encrypted_and_tls_only(self, template: Template) -> None:
        for dead_letters in (False, True):
            queue = queue_id(template, dead_letters=dead_letters)
            props = template.find_resources("AWS::SQS::Queue")[queue]["Properties"]
            assert props["SqsManagedSseEnabled"] is True
            assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
            template.has_resource_properties(
                "AWS::SQS::QueuePolicy",
                {
                    "Queues": [{"Ref": queue}],
                    "PolicyDocument": {
                        "Statement": Match.array_with(
                            [
                                {
                                    "Action": "sqs:*",
                                    "Effect": "Deny",
                                    "Principal": {"AWS": "*"},
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                    "Resource": {"Fn::GetAtt": [queue, "Arn"]},
                                }
                            ]
                        )
                    },
                },
            )

    def test_only_this_rule_may_send_to_the_queue(self, template: Template) -> None:
        rule_id, _ = only(template, "AWS::Events::Rule", {"Properties": {"EventBusName": Match.any_value()}})
        template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": queue_id(template, dead_letters=False)}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "events.amazonaws.com"},
                                    "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
                                }
                            )
                        ]
                    )
                },
            },
        )

    def test_a_message_failing_five_times_moves_to_the_dead_letters(self, template: Template) -> None:
        usage = template.find_resources("AWS::SQS::Queue")[queue_id(template, dead_letters=False)]
        assert usage["Properties"]["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT == 5

    @pytest.mark.parametrize("stack", ["template", "overridden"])
    def test_visibility_timeout_is_six_times_the_aggregator_timeout_and_the_window(
        self, synthesized: Synthesized, stack: str
    ) -> None:
        template: Template = getattr(synthesized, stack)
        aggregator = template.find_resources("AWS::Lambda::Function")[function_id(template, AGGREGATE_HANDLER)]
        _, mapping = aggregator_mapping(template)
        usage = template.find_resources("AWS::SQS::Queue")[queue_id(template, dead_letters=False)]
        timeout, window = aggregator["Properties"]["Timeout"], mapping["Properties"]["MaximumBatchingWindowInSeconds"]
        assert usage["Properties"]["VisibilityTimeout"] == 6 * timeout + window
        assert timeout == (30 if stack == "template" else 60)

    def test_aggregator_drains_the_queue_in_batches_reporting_failures_per_message(self, template: Template) -> None:
        _, mapping = aggregator_mapping(template)
        assert mapping["Properties"] == {
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 5,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "EventSourceArn": {"Fn::GetAtt": [queue_id(template, dead_letters=False), "Arn"]},
            "FunctionName": {"Ref": function_id(template, AGGREGATE_HANDLER)},
        }

    def test_visibility_timeout_below_the_minimum_is_refused(self, bundle_cache_dir: Path) -> None:
        with pytest.raises(ValueError, match=r"at least 6x aggregator_timeout plus max_batching_window \(185 s\)"):
            billing_stack(cdk.App(), "Short", tiny_bundle(bundle_cache_dir), visibility_timeout=cdk.Duration.minutes(1))


class TestFunctions:
    def test_four_handlers_from_one_bundle_with_the_settings(self, template: Template) -> None:
        functions = template.find_resources("AWS::Lambda::Function")
        assert sorted(f["Properties"]["Handler"] for f in functions.values()) == sorted(
            [AGGREGATE_HANDLER, DELIVER_ALERTS_HANDLER, CLOSE_HANDLER, PAY_OUT_HANDLER]
        )
        assert AGGREGATE_HANDLER == "api_direct.control_plane.billing.handlers.aggregate_usage"
        assert len({json.dumps(f["Properties"]["Code"]) for f in functions.values()}) == 1
        for function in functions.values():
            variables = dict(function["Properties"]["Environment"]["Variables"])
            if function["Properties"]["Handler"] == AGGREGATE_HANDLER:
                # Poison records go straight to the dead-letter queue, with their reason.
                assert variables.pop(DEAD_LETTER_URL_ENV)["Ref"].startswith("BillingUsageDeadLetters")
            if function["Properties"]["Handler"] in (AGGREGATE_HANDLER, DELIVER_ALERTS_HANDLER, CLOSE_HANDLER):
                # Alerts fired (the closer's: prepaid credit's), and webhook calls to retry, go to the alert queue.
                assert variables.pop(ALERT_QUEUE_URL_ENV)["Ref"].startswith("BillingAlerts")
            assert variables == ENVIRONMENT
            assert function["Properties"]["Architectures"] == ["arm64"]

    def test_attributes_name_what_was_built(self, synthesized: Synthesized) -> None:
        billing = synthesized.billing
        assert billing.functions == (billing.aggregator, billing.alert_deliverer, billing.closer, billing.payer)
        stack = cdk.Stack.of(billing)
        handlers = [stack.resolve(f.node.default_child.handler) for f in billing.functions]  # type: ignore[union-attr]
        assert handlers == [AGGREGATE_HANDLER, DELIVER_ALERTS_HANDLER, CLOSE_HANDLER, PAY_OUT_HANDLER]
        assert billing.alert_queue.dead_letter_queue.queue is billing.alert_dead_letter_queue  # type: ignore[union-attr]
        assert billing.usage_rule.node.scope is billing
        assert billing.usage_queue.dead_letter_queue.queue is billing.dead_letter_queue  # type: ignore[union-attr]

    def test_scheduled_runs_are_bounded_well_inside_the_close_interval(self, template: Template) -> None:
        functions = template.find_resources("AWS::Lambda::Function")
        for handler in (CLOSE_HANDLER, PAY_OUT_HANDLER):
            assert functions[function_id(template, handler)]["Properties"]["Timeout"] == 300

    def test_no_reserved_concurrency_by_default_so_new_accounts_can_deploy(self, template: Template) -> None:
        for function in template.find_resources("AWS::Lambda::Function").values():
            assert "ReservedConcurrentExecutions" not in function["Properties"]

    def test_scheduled_concurrency_reserves_the_scheduled_functions_only(self, synthesized: Synthesized) -> None:
        template = synthesized.overridden
        functions = template.find_resources("AWS::Lambda::Function")
        reserved = {
            functions[function_id(template, h)]["Properties"].get("ReservedConcurrentExecutions")
            for h in (CLOSE_HANDLER, PAY_OUT_HANDLER)
        }
        assert reserved == {1}
        assert "ReservedConcurrentExecutions" not in functions[function_id(template, AGGREGATE_HANDLER)]["Properties"]


class TestSchedules:
    @pytest.mark.parametrize(
        ("stack", "handler", "expression"),
        [
            ("template", CLOSE_HANDLER, "rate(15 minutes)"),
            ("template", PAY_OUT_HANDLER, "cron(0 6 * * ? *)"),
            ("overridden", CLOSE_HANDLER, "rate(5 minutes)"),
            ("overridden", PAY_OUT_HANDLER, "cron(30 2 1 * ? *)"),
        ],
    )
    def test_runs_on_its_schedule_with_retries_and_dead_letters(
        self, synthesized: Synthesized, stack: str, handler: str, expression: str
    ) -> None:
        template: Template = getattr(synthesized, stack)
        function = function_id(template, handler)
        _, rule = only(template, "AWS::Events::Rule", {"Properties": {"ScheduleExpression": expression}})
        [target] = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}
        dead_letters = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        assert dead_letters != queue_id(template, dead_letters=True)
        template.has_resource_properties(
            "AWS::Lambda::EventInvokeConfig",
            {
                "FunctionName": {"Ref": function},
                "MaximumRetryAttempts": 2,
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dead_letters, "Arn"]}}},
            },
        )

    def test_schedules_are_on_the_default_bus(self, template: Template) -> None:
        schedules = template.find_resources(
            "AWS::Events::Rule", {"Properties": {"ScheduleExpression": Match.any_value()}}
        )
        assert len(schedules) == 2
        assert not any("EventBusName" in rule["Properties"] for rule in schedules.values())


class TestPermissions:
    @pytest.mark.parametrize("handler", [AGGREGATE_HANDLER, DELIVER_ALERTS_HANDLER, CLOSE_HANDLER, PAY_OUT_HANDLER])
    def test_every_function_reads_and_writes_the_table_and_only_it(self, template: Template, handler: str) -> None:
        table_id, _ = only(template, "AWS::DynamoDB::Table")
        table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
        dynamodb_statements = [s for s in role_statements(template, handler) if actions(s)[0].startswith("dynamodb:")]
        assert any(
            {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"} <= set(actions(s))
            for s in dynamodb_statements
        )
        for statement in dynamodb_statements:
            assert statement["Resource"] == [table_arn, {"Fn::Join": ["", [table_arn, "/index/*"]]}]

    def test_aggregator_cannot_touch_the_stripe_secret(self, template: Template) -> None:
        statements = role_statements(template, AGGREGATE_HANDLER)
        assert not [a for s in statements for a in actions(s) if a.startswith(("secretsmanager:", "kms:"))]
        assert "Stripe" not in json.dumps(statements)

    @pytest.mark.parametrize("handler", [CLOSE_HANDLER, PAY_OUT_HANDLER])
    def test_closer_and_payer_read_exactly_the_secret(self, template: Template, handler: str) -> None:
        secret_id, _ = only(template, "AWS::SecretsManager::Secret")
        secret_statements = [
            s for s in role_statements(template, handler) if any(a.startswith("secretsmanager:") for a in actions(s))
        ]
        assert secret_statements == [
            {
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Effect": "Allow",
                "Resource": {"Ref": secret_id},
            }
        ]

    def test_failed_scheduled_runs_may_be_sent_to_the_dead_letters_only(self, template: Template) -> None:
        """And the closer's alerts (prepaid credit's) to the alert queue."""
        for handler, queues in (
            (CLOSE_HANDLER, ["BillingAlerts", "ScheduleDeadLetters"]),
            (PAY_OUT_HANDLER, ["ScheduleDeadLetters"]),
        ):
            sends = [s for s in role_statements(template, handler) if "sqs:SendMessage" in actions(s)]
            targets = [json.dumps(s["Resource"]) for s in sends]
            assert sorted(queue for queue in queues for target in targets if queue in target) == queues
            assert len(targets) == len(queues)

    @pytest.mark.parametrize("handler", [AGGREGATE_HANDLER, CLOSE_HANDLER, PAY_OUT_HANDLER])
    def test_no_function_puts_events_itself(self, template: Template, handler: str) -> None:
        """The functions that cap keys (a hard spend cap, used-up prepaid credit) write the events to the table's
        outbox, which ``KeyEventOutbox`` relays to the bus."""
        assert not any("events:PutEvents" in actions(s) for s in role_statements(template, handler))

    def test_grant_redrive_moves_dead_letters_back_to_the_usage_queue(self, synthesized: Synthesized) -> None:
        template = synthesized.overridden
        role_id, _ = only(
            template,
            "AWS::IAM::Role",
            {
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [Match.object_like({"Principal": {"AWS": Match.any_value()}})]
                    }
                }
            },
        )
        statements = [
            s
            for p in template.find_resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        dead_letters = {"Fn::GetAtt": [queue_id(template, dead_letters=True), "Arn"]}
        usage = {"Fn::GetAtt": [queue_id(template, dead_letters=False), "Arn"]}
        by_resource: dict[str, set[str]] = {}
        for statement in statements:
            by_resource.setdefault(json.dumps(statement["Resource"]), set()).update(actions(statement))
        assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:StartMessageMoveTask"} <= by_resource[
            json.dumps(dead_letters)
        ]
        assert "sqs:SendMessage" in by_resource[json.dumps(usage)]
        assert set(by_resource) == {json.dumps(dead_letters), json.dumps(usage)}
