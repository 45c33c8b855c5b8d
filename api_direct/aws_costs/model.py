"""What an API's traffic costs its creator in AWS: measured usage times the region's published prices.

The creator pays AWS directly (their own account), so the figure that decides whether
a plan pays is AWS's bill for serving it. AWS bills this stack for:

- Lambda: every invocation (the app's and the authorizer's) and its GB-seconds, the
  billed duration times the configured memory, priced by architecture and tiered by the
  month's GB-seconds in the region;
- API Gateway (REST): every request received, tiered by the month's requests;
- DynamoDB on demand: the read request units behind authorizer lookups that missed the
  cache, and the write units of usage records;
- CloudWatch Logs: each GB ingested, and each GB-month stored for the retention set;
- data transfer out to the internet: the response bytes;
- EventBridge and SQS: the usage events and queue requests;
- X-Ray: each trace recorded (the stage traces requests; X-Ray samples some of them);
- KMS and CloudWatch alarms: a fixed monthly charge per key and per alarm.

The arithmetic is exact: every quantity is an integer count divided by a power of two
or ten (milliseconds, MB, bytes), and every price a decimal, so each line is computed
with no rounding (an inexact step raises) and is rounded only for display.

Error bars, left out on purpose and said on docs/creators/costs.md: free tiers the
account spent on other workloads (so they are off unless asked for), volume in the same
region from the creator's other stacks (pass it as ``already``), the compressed size
of stored logs (AWS bills storage compressed; the model counts ingested bytes, an
overestimate), CloudWatch metrics and dashboards, NAT and VPC charges (the stack has
none), Savings Plans, taxes, and requests over 64 KB that EventBridge and SQS bill as
several.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, localcontext
from typing import Literal

from pydantic import BaseModel, ConfigDict, NonNegativeInt

from api_direct.aws_costs.prices import FREE_POOLS, PriceTable

Architecture = Literal["arm64", "x86_64"]

#: Enough digits for any realistic count times any price, and a trap for a step that would round.
_EXACT = Context(prec=100, traps=[Inexact])
_GIB = Decimal(2**30)
#: MB-milliseconds in a GB-second: Lambda's GB is 1,024 MB.
_MB_MS_PER_GB_SECOND = Decimal(1024 * 1000)


class Usage(BaseModel):
    """Measured usage of one API over a period (a day, a month): counts and totals, never averages.

    ``requests`` are the calls API Gateway received, each one invocation of the app;
    the authorizer's invocations are those its cache did not answer (it runs on arm64
    whatever the app's architecture, so each has its own). Read and write
    units are DynamoDB's (a strongly consistent read of up to 4 KB is one).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests: NonNegativeInt = 0
    billed_duration_ms: NonNegativeInt = 0
    memory_mb: NonNegativeInt = 128
    architecture: Architecture = "arm64"
    authorizer_invocations: NonNegativeInt = 0
    authorizer_billed_duration_ms: NonNegativeInt = 0
    authorizer_memory_mb: NonNegativeInt = 128
    authorizer_architecture: Architecture = "arm64"
    key_table_read_units: NonNegativeInt = 0
    table_write_units: NonNegativeInt = 0
    log_bytes: NonNegativeInt = 0
    response_bytes: NonNegativeInt = 0
    usage_events: NonNegativeInt = 0
    queue_requests: NonNegativeInt = 0
    kms_requests: NonNegativeInt = 0
    traces: NonNegativeInt = 0


@dataclass(frozen=True)
class LineItem:
    """One line of the bill: ``quantity`` in the price's ``unit`` and its exact ``cost``."""

    key: str
    quantity: Decimal
    unit: str
    cost: Decimal


@dataclass(frozen=True)
class Estimate:
    """The lines of an estimate and the calls they served (zero for the fixed monthly cost)."""

    items: tuple[LineItem, ...]
    calls: int

    @property
    def total(self) -> Decimal:
        with localcontext(_EXACT):
            return sum((item.cost for item in self.items), Decimal(0))

    @property
    def per_1000_calls(self) -> Decimal | None:
        """The total spread over the calls, per 1,000 (what a plan's price is compared with); ``None`` with none."""
        return self.total * 1000 / self.calls if self.calls else None


def quantities(usage: Usage) -> dict[str, Decimal]:
    """What the usage amounts to in each price's unit: the model's reading of how AWS meters it."""
    with localcontext(_EXACT):
        app = f"lambda_gb_seconds_{usage.architecture}"
        authorizer = f"lambda_gb_seconds_{usage.authorizer_architecture}"
        gb_seconds = dict.fromkeys((app, authorizer), Decimal(0))
        gb_seconds[app] += Decimal(usage.billed_duration_ms) * usage.memory_mb / _MB_MS_PER_GB_SECOND
        gb_seconds[authorizer] += (
            Decimal(usage.authorizer_billed_duration_ms) * usage.authorizer_memory_mb / _MB_MS_PER_GB_SECOND
        )
        return {
            "apigateway_rest_requests": Decimal(usage.requests),
            "lambda_requests": Decimal(usage.requests + usage.authorizer_invocations),
            **gb_seconds,
            "dynamodb_read_request_units": Decimal(usage.key_table_read_units),
            "dynamodb_write_request_units": Decimal(usage.table_write_units),
            "logs_ingested_gb": Decimal(usage.log_bytes) / _GIB,
            "data_transfer_out_gb": Decimal(usage.response_bytes) / _GIB,
            "eventbridge_custom_events": Decimal(usage.usage_events),
            "sqs_requests": Decimal(usage.queue_requests),
            "kms_requests": Decimal(usage.kms_requests),
            "xray_traces_recorded": Decimal(usage.traces),
        }


def _estimate(
    table: PriceTable, amounts: dict[str, Decimal], already: dict[str, Decimal], free_tier: bool, calls: int
) -> Estimate:
    """Price each amount after ``already`` units this month; free units, when counted, are the month's first."""
    spent: dict[str, Decimal] = {}
    items = []
    with localcontext(_EXACT):
        for key, quantity in already.items():
            pool = FREE_POOLS.get(key, key)
            spent[pool] = spent.get(pool, Decimal(0)) + quantity
        for key, quantity in amounts.items():
            pool = FREE_POOLS.get(key, key)
            allowance = table.free_tier.get(pool, Decimal(0)) if free_tier else Decimal(0)
            free = min(quantity, max(Decimal(0), allowance - spent.get(pool, Decimal(0))))
            spent[pool] = spent.get(pool, Decimal(0)) + free
            price = table.prices[key]
            cost = price.cost(quantity - free, already.get(key, Decimal(0)) + free)
            items.append(LineItem(key, quantity, price.unit, cost))
    return Estimate(tuple(items), calls)


def variable_cost(
    usage: Usage, table: PriceTable, *, already: Usage | None = None, free_tier: bool = False
) -> Estimate:
    """The cost of ``usage``, placed on AWS's volume tiers after ``already`` (the month's usage before it).

    ``free_tier`` counts AWS's monthly free allowances as unspent; off by default
    because the creator's other workloads in the account may have used them.
    """
    before = quantities(already) if already is not None else {}
    return _estimate(table, quantities(usage), before, free_tier, usage.requests)


def fixed_monthly_cost(table: PriceTable, counts: Mapping[str, int], *, free_tier: bool = False) -> Estimate:
    """What the resources AWS bills by the month cost a month whatever the traffic: ``counts`` of them by the key of
    their monthly price (``kms_key_months``, ``cloudwatch_alarm_months`` ...).

    Stored logs grow with the calls, so they are priced with them
    (:func:`~api_direct.aws_costs.stack_costs.stored_logs`), not here.
    """
    if min(counts.values(), default=0) < 0:
        raise ValueError("counts cannot be negative")
    return _estimate(table, {key: Decimal(count) for key, count in counts.items()}, {}, free_tier, 0)


#: AWS's costs are fractions of a cent: figures kept as data (JSON, the control plane's month) are to a millionth.
COST_PLACES = Decimal("0.000001")


def to_millionth(amount: Decimal) -> Decimal:
    """``amount`` in dollars to :data:`COST_PLACES`, half up: the one rounding of a cost kept as data."""
    return amount.quantize(COST_PLACES, ROUND_HALF_UP)


def display(amount: Decimal, places: int = 2) -> str:
    """``amount`` in dollars for people: rounded half up to ``places`` decimals, only here."""
    return f"${amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)}"
