"""A stack's fixed monthly cost, read off its template, and the cost of 1,000 calls with their logs' storage."""

from decimal import Context, Decimal, localcontext
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from api_direct.aws_costs import prices, stack_costs
from api_direct.aws_costs.traffic import ASSUMED_PER_1000, RuntimeProfile, usage
from api_direct.aws_costs.model import variable_cost
from api_direct.canary import Canary
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


def test_its_logs_are_kept_at_most_the_access_logs_year(canaried: dict[str, Any]) -> None:
    assert stack_costs.log_retention_days(canaried) == 365


def template(*types: str, retention: int | None = 30) -> dict[str, Any]:
    resources: dict[str, Any] = {f"R{index}": {"Type": kind} for index, kind in enumerate(types)}
    resources["Logs"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {} if retention is None else {"RetentionInDays": retention},
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


def test_a_log_group_that_never_expires_is_priced_as_ten_years() -> None:
    assert stack_costs.log_retention_days(template(retention=None)) == stack_costs.NEVER_EXPIRES_DAYS
    assert stack_costs.log_retention_days({"Resources": {}}) == 0


def test_a_months_logs_kept_a_year_are_stored_twelve_months() -> None:
    stored = stack_costs.stored_logs(2**30, 365, TABLE)
    assert stored.quantity == 12 and stored.cost == 12 * rate("logs_stored_gb_month")


def test_1000_calls_cost_their_usage_and_their_logs_storage() -> None:
    profile = RuntimeProfile(region="us-east-1", memory_mb=1024)
    estimate = stack_costs.per_1000_calls(ASSUMED_PER_1000.scaled(2000), profile, TABLE, retention_days=30)
    expected = variable_cost(usage(ASSUMED_PER_1000, profile), TABLE)
    stored = stack_costs.stored_logs(usage(ASSUMED_PER_1000, profile).log_bytes, 30, TABLE)
    assert estimate.calls == 1000
    assert estimate.items == (*expected.items, stored)
    with localcontext(Context(prec=100)):
        assert estimate.total == expected.total + stored.cost
