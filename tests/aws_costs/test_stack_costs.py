"""A stack's fixed monthly cost, read off its template, and the cost of 1,000 calls with their logs' storage."""

from decimal import Context, Decimal, localcontext
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from api_direct.aws_costs import prices, stack_costs
from api_direct.aws_costs.traffic import (
    ASSUMED_PER_1000,
    PLATFORM_LOG_BYTES_PER_INVOCATION,
    RuntimeProfile,
    Traffic,
    usage,
)
from api_direct.aws_costs.model import variable_cost
from api_direct.canary import Canary
from api_direct.contracts import ACCESS_LOG_RETENTION_DAYS
from api_direct.constructs.bundled_function import BUNDLE_CACHE_CONTEXT
from api_direct.project import load_project
from api_direct.user_stack import UserApiStack
from tests.example_project import EXAMPLE_DIR

TABLE = prices.load("us-east-1")
GIB = Decimal(2**30)


def rate(key: str) -> Decimal:
    price = TABLE.prices[key]
    return price.tiers[0].price / price.per


@pytest.fixture(scope="module")
def canaried(bundle_cache_dir: Path) -> dict[str, Any]:
    """The example API's template with a canary deploy: its one alarm is the only resource billed by the month."""
    app = cdk.App(context={BUNDLE_CACHE_CONTEXT: str(bundle_cache_dir)})
    stack = UserApiStack(app, "Example", project=load_project(EXAMPLE_DIR), canary=Canary(percent=10, minutes=5))
    return Template.from_stack(stack).to_json()  # type: ignore[no-any-return]


def test_the_synthesized_stack_costs_its_one_alarm_a_month(canaried: dict[str, Any]) -> None:
    fixed = stack_costs.fixed_monthly(canaried, TABLE)
    assert [(item.key, item.quantity) for item in fixed.items] == [("cloudwatch_alarm_months", 1)]
    assert fixed.total == rate("cloudwatch_alarm_months")


def test_its_access_log_keeps_its_lines_the_year_the_cost_model_stores_them(canaried: dict[str, Any]) -> None:
    [access_log] = [
        resource
        for name, resource in canaried["Resources"].items()
        if resource["Type"] == "AWS::Logs::LogGroup" and "AccessLogs" in name
    ]
    assert access_log["Properties"]["RetentionInDays"] == ACCESS_LOG_RETENTION_DAYS == 365


def template(*types: str) -> dict[str, Any]:
    resources: dict[str, Any] = {f"R{index}": {"Type": kind} for index, kind in enumerate(types)}
    resources["Logs"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"RetentionInDays": 30},
    }
    return {"Resources": resources}


def test_every_monthly_resource_type_is_counted_at_its_price_and_nothing_else_costs() -> None:
    priced = template(*stack_costs.MONTHLY_RESOURCES, "AWS::KMS::Key", "AWS::Lambda::Function", "AWS::SQS::Queue")
    fixed = stack_costs.fixed_monthly(priced, TABLE)
    quantities = {item.key: item.quantity for item in fixed.items}
    assert quantities == {key: 1 for key in stack_costs.MONTHLY_RESOURCES.values()} | {"kms_key_months": 2}
    assert fixed.total == sum(rate(key) * quantity for key, quantity in quantities.items())


def test_a_stack_of_per_request_resources_costs_nothing_unused() -> None:
    unused = {"AWS::Lambda::Function": 5, "AWS::DynamoDB::Table": 1, "AWS::CloudWatch::Alarm": 0}
    assert stack_costs.fixed_monthly_of(unused, TABLE).items == ()


def test_the_access_logs_lines_are_stored_a_year_and_lambdas_for_the_functions_retention() -> None:
    profile = RuntimeProfile(region="us-east-1", log_retention_days=30)
    # A GiB of access-log lines kept a year is twelve GB-months; nothing else was logged.
    stored = stack_costs.stored_logs(Traffic(log_bytes=2**30), profile, TABLE)
    assert stored.quantity == 12 and stored.cost == 12 * rate("logs_stored_gb_month")
    # Lambda's own lines for a call (and for the authorizer's invocation) are kept the functions' 30 days.
    lambda_only = stack_costs.stored_logs(Traffic(calls=1, authorizer_invocations=1), profile, TABLE)
    assert lambda_only.quantity == Decimal(2 * PLATFORM_LOG_BYTES_PER_INVOCATION * 30) / (Decimal(365) / 12) / 2**30


def test_1000_calls_cost_their_usage_and_their_logs_storage() -> None:
    profile = RuntimeProfile(region="us-east-1", memory_mb=1024)
    estimate = stack_costs.per_1000_calls(ASSUMED_PER_1000.scaled(2000), profile, TABLE)
    expected = variable_cost(usage(ASSUMED_PER_1000, profile), TABLE)
    stored = stack_costs.stored_logs(ASSUMED_PER_1000, profile, TABLE)
    assert estimate.calls == 1000
    assert estimate.items == (*expected.items, stored)
    with localcontext(Context(prec=100)):
        assert estimate.total == expected.total + stored.cost
