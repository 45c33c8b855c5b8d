"""What AWS actually billed for API-Direct's resources in a month, from Cost Explorer, beside the estimate.

Opt-in (`apid aws link --cost-explorer`), for two reasons: each GetCostAndUsage request
costs the account $0.01, and the figure needs the ``api-direct:managed`` tag activated
as a cost allocation tag in the payer account's Billing console (until then, and for
about a day after, Cost Explorer finds nothing tagged). The figure covers every
resource with the tag in the linked account and region: all stages' stacks, the link's
bucket, and the month so far; the estimate covers the published APIs' calls and stacks.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from api_direct.contracts import MANAGED_TAG
from api_direct.deploy.aws import Aws, aws_errors
from api_direct.errors import InputError

#: What AWS charges for one Cost Explorer API request, in dollars.
REQUEST_PRICE = Decimal("0.01")


@dataclass(frozen=True)
class BilledMonth:
    """The month's unblended cost of the tagged resources, from ``start`` to ``end`` (excluded)."""

    month: str
    start: date
    end: date
    amount: Decimal
    #: Cost Explorer marks a figure estimated until AWS closes the month's bill.
    estimated: bool


def month_period(month: str, today: date) -> tuple[date, date]:
    """The days Cost Explorer is asked about: the month's, up to today's end for the current one."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InputError(f"--month {month!r}: give a month as YYYY-MM, such as {today:%Y-%m}") from None
    following = (first + timedelta(days=32)).replace(day=1)
    if first > today:
        raise InputError(f"--month {month}: that month has not started yet")
    return first, min(following, today + timedelta(days=1))


def billed_month(aws: Aws, month: str, region: str, today: date) -> BilledMonth:
    """The month's cost of the resources tagged ``api-direct:managed=true`` in ``region``: one paid request."""
    start, end = month_period(month, today)
    with aws_errors("reading the month's costs from Cost Explorer"):
        answer = aws.client("ce").get_cost_and_usage(
            TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
            Granularity="MONTHLY",
            Metrics=["UnblendedCost"],
            Filter={
                "And": [
                    {"Tags": {"Key": MANAGED_TAG, "Values": ["true"], "MatchOptions": ["EQUALS"]}},
                    {"Dimensions": {"Key": "REGION", "Values": [region]}},
                ]
            },
        )
    periods = answer.get("ResultsByTime", [])
    amount = sum(
        (
            Decimal(period["Total"]["UnblendedCost"]["Amount"])
            for period in periods
            if "UnblendedCost" in period["Total"]
        ),
        Decimal(0),
    )
    return BilledMonth(month, start, end, amount, any(period.get("Estimated", False) for period in periods))
