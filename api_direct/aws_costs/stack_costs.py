"""What an API stack costs whatever its traffic, read off its synthesized CloudFormation template.

Nearly everything the stack creates costs nothing while no call arrives: functions,
the REST API, the on-demand table, queues, the event bus, roles and log groups are
billed per request, per GB-second or per GB. A few resource types are billed by the
month from the day they exist (:data:`MONTHLY_RESOURCES`); those are counted here, so
`apid plan` can say what a change adds to the bill before it is deployed, whatever
the change is (an alarm, a key, a dashboard). Stored logs sit in between: they grow
with the calls and stay for the retention set, so their storage is priced per call
(:func:`stored_logs`): the access log's lines for its year, the lines Lambda writes for
the functions' ``log_retention_days``.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from api_direct.aws_costs.model import Estimate, LineItem, fixed_monthly_cost, variable_cost
from api_direct.aws_costs.prices import PriceTable
from api_direct.aws_costs.traffic import RuntimeProfile, Traffic, usage
from api_direct.contracts import ACCESS_LOG_RETENTION_DAYS

#: CloudFormation resource types AWS bills by the month whatever the traffic, and the key of that price.
MONTHLY_RESOURCES = {
    "AWS::CloudWatch::Alarm": "cloudwatch_alarm_months",
    "AWS::CloudWatch::CompositeAlarm": "cloudwatch_composite_alarm_months",
    "AWS::CloudWatch::Dashboard": "cloudwatch_dashboard_months",
    "AWS::KMS::Key": "kms_key_months",
    "AWS::SecretsManager::Secret": "secretsmanager_secret_months",
    "AWS::Route53::HostedZone": "route53_hosted_zone_months",
}
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


def fixed_monthly(template: Mapping[str, Any], table: PriceTable) -> Estimate:
    """The synthesized stack's monthly charges whatever its traffic: :func:`fixed_monthly_of` its resources."""
    return fixed_monthly_of(resource_types(template), table)


def fixed_monthly_of(types: Mapping[str, int], table: PriceTable) -> Estimate:
    """The monthly charges of a stack holding resources of these types (counts by CloudFormation type, as
    ``apid publish`` sends them), whatever its traffic: one line per priced type it holds.

    The account's free allowances (three dashboards, ten alarms) are left out, as the
    creator's other workloads may spend them; stored logs are priced with the calls.
    """
    return fixed_monthly_cost(table, monthly_resources(types))


def stored_logs(traffic: Traffic, profile: RuntimeProfile, table: PriceTable) -> LineItem:
    """The storage of ``traffic``'s log lines for as long as the stack keeps them, in GB-months: the access log's
    for :data:`~api_direct.contracts.ACCESS_LOG_RETENTION_DAYS`, Lambda's for the profile's ``log_retention_days``.

    Lines ingested at a steady rate are stored, at any time, for the last retention's
    worth: a month's lines cost that many days' storage.
    """
    price = table.prices["logs_stored_gb_month"]
    functions = usage(traffic, profile).log_bytes - traffic.log_bytes
    byte_days = traffic.log_bytes * ACCESS_LOG_RETENTION_DAYS + functions * profile.log_retention_days
    quantity = Decimal(byte_days) / _DAYS_PER_MONTH / _GIB
    return LineItem("logs_stored_gb_month", quantity, price.unit, price.cost(quantity))


def per_1000_calls(traffic: Traffic, profile: RuntimeProfile, table: PriceTable) -> Estimate:
    """What 1,000 calls shaped like ``traffic`` cost on functions of ``profile``'s sizes, their logs' storage included.

    Priced on the first volume tiers (the dearest) and with no free tier: the figure a
    plan's price must cover.
    """
    sample = traffic.scaled(1000)
    variable = variable_cost(usage(sample, profile), table)
    return Estimate((*variable.items, stored_logs(sample, profile, table)), variable.calls)
