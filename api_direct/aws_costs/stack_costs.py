"""What an API stack costs whatever its traffic, read off its synthesized CloudFormation template.

Nearly everything the stack creates costs nothing while no call arrives: functions,
the REST API, the on-demand table, queues, the event bus, roles and log groups are
billed per request, per GB-second or per GB. A few resource types are billed by the
month from the day they exist (:data:`MONTHLY_RESOURCES`); those are counted here, so
`apid plan` can say what a change adds to the bill before it is deployed, whatever
the change is (an alarm, a key, a dashboard). Stored logs sit in between: they grow
with the calls and stay for the retention set, so their storage is priced per call
(:func:`stored_logs`), at the longest retention of the stack's log groups: the access
log's year, though the functions' own lines go for less (an overestimate, said on
docs/creators/costs.md).
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from api_direct.aws_costs.model import Estimate, LineItem, fixed_monthly_cost, variable_cost
from api_direct.aws_costs.prices import PriceTable
from api_direct.aws_costs.traffic import RuntimeProfile, Traffic, usage

#: CloudFormation resource types AWS bills by the month whatever the traffic, and the key of that price.
MONTHLY_RESOURCES = {
    "AWS::CloudWatch::Alarm": "cloudwatch_alarm_months",
    "AWS::CloudWatch::CompositeAlarm": "cloudwatch_composite_alarm_months",
    "AWS::CloudWatch::Dashboard": "cloudwatch_dashboard_months",
    "AWS::KMS::Key": "kms_key_months",
    "AWS::SecretsManager::Secret": "secretsmanager_secret_months",
    "AWS::Route53::HostedZone": "route53_hosted_zone_months",
}
#: A log group with no retention keeps its logs for ever: priced as ten years of them, a bill that only grows.
NEVER_EXPIRES_DAYS = 3653
#: Days in AWS's storage month, on average: GB-months are the GB stored, averaged over the month's hours.
_DAYS_PER_MONTH = Decimal(365) / 12
_GIB = Decimal(2**30)


def resource_types(template: Mapping[str, Any]) -> dict[str, int]:
    """How many resources of each CloudFormation type the template holds (what ``apid publish`` sends too)."""
    counts: dict[str, int] = {}
    for resource in template.get("Resources", {}).values():
        counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    return counts


def monthly_resources(types: Mapping[str, int]) -> dict[str, int]:
    """Counts by CloudFormation type as counts by monthly price key, for the types billed by the month."""
    counts: dict[str, int] = {}
    for kind, count in types.items():
        key = MONTHLY_RESOURCES.get(kind)
        if key is not None and count:
            counts[key] = counts.get(key, 0) + count
    return counts


def log_retention_days(template: Mapping[str, Any]) -> int:
    """The longest time a log group of the template keeps its lines (:data:`NEVER_EXPIRES_DAYS` for never)."""
    days = [
        int(resource.get("Properties", {}).get("RetentionInDays", NEVER_EXPIRES_DAYS))
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::Logs::LogGroup"
    ]
    return max(days, default=0)


def fixed_monthly(template: Mapping[str, Any], table: PriceTable) -> Estimate:
    """The synthesized stack's monthly charges whatever its traffic: :func:`fixed_monthly_of` its resources."""
    return fixed_monthly_of(resource_types(template), table)


def fixed_monthly_of(types: Mapping[str, int], table: PriceTable) -> Estimate:
    """The monthly charges of a stack holding resources of these types (counts by CloudFormation type, as
    ``apid publish`` sends them), whatever its traffic: one line per priced type it holds.

    The account's free allowances (three dashboards, ten alarms) are left out, as the
    creator's other workloads may spend them; stored logs are priced with the calls.
    """
    counts = monthly_resources(types)
    fixed = fixed_monthly_cost(
        table,
        kms_keys=counts.pop("kms_key_months", 0),
        alarms=counts.pop("cloudwatch_alarm_months", 0),
        log_bytes_per_day=0,
        retention_days=0,
        others=counts,
    )
    return Estimate(tuple(item for item in fixed.items if item.quantity), 0)


def stored_logs(log_bytes: int, retention_days: int, table: PriceTable) -> LineItem:
    """The storage of ``log_bytes`` of log lines kept ``retention_days`` days, in GB-months.

    Lines ingested at a steady rate are stored, at any time, for the last
    ``retention_days`` days' worth: a month's lines cost that many days' storage.
    """
    price = table.prices["logs_stored_gb_month"]
    quantity = Decimal(log_bytes) * retention_days / _DAYS_PER_MONTH / _GIB
    return LineItem("logs_stored_gb_month", quantity, price.unit, price.cost(quantity))


def per_1000_calls(traffic: Traffic, profile: RuntimeProfile, table: PriceTable, *, retention_days: int) -> Estimate:
    """What 1,000 calls shaped like ``traffic`` cost on functions of ``profile``'s sizes, their logs' storage included.

    Priced on the first volume tiers (the dearest) and with no free tier: the figure a
    plan's price must cover.
    """
    sample = usage(traffic.scaled(1000), profile)
    variable = variable_cost(sample, table)
    return Estimate((*variable.items, stored_logs(sample.log_bytes, retention_days, table)), variable.calls)
