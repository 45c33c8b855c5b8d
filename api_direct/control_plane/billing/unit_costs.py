"""A creator's month per API, plan and day: what consumers paid, what Stripe and the platform kept, what AWS billed
for serving it, and the margin left.

Counted, not sampled. The calls and their measured :class:`~api_direct.aws_costs.traffic.Traffic`
are the hourly counters metering keeps: those of subscriptions (``gsi2 USAGE#<api>``, per
consumer and plan) and those of calls nobody is billed for, the authorizer's rejections,
MCP's and late records' (``COSTS#<api>``, per hour). Each slice of the month (a plan's day, or a day's
unattributed calls) is priced with :func:`~api_direct.aws_costs.model.variable_cost` on
the functions of the listing's :class:`~api_direct.control_plane.api.listings.ListingRuntime`,
after every slice before it: days in order, within a day the plans in name order and the
unattributed calls last, so the month's volume tiers are reached as AWS reaches them, and
the slices add up to exactly the month's variable cost. Each slice's log lines are also
stored for the retention set (:func:`~api_direct.aws_costs.stack_costs.stored_logs`). No
free tier: the creator's other workloads in the account may spend it. The stack's monthly
charges (alarms, keys, dashboards, secrets: the listing's ``fixed_resources``) are the
API's, not a plan's: they count in its totals and, spread evenly over the month's days,
in each day's margin.

Money comes from the ledger (:mod:`.earnings`), which keeps a payment in the month the
control plane learned of it: a month's revenue is its payments (invoices and packs) less
the refunds made in it, its Stripe fees those of its payments, its platform fee the
operator's percent of its net revenue per plan, rounded half up to the cent (so the
plans' fees may differ from the month's one rounding by a cent). A subscription is billed
in arrears, so a month's revenue pays mostly for the calls of the month before; a plan's
margin is still the month's money against the month's calls, as the creator's bank and
AWS bills see them.

A payment is a plan's by its ledger entry's ``plan`` (from the subscription's metadata
when Stripe's invoice carried it, the pack's plan for a pack). An entry recorded before
entries named a plan is put on the plan its consumer's subscription is on now: a plan
change since would misplace it, which only an old entry can suffer and which the Stripe
invoice alone could settle (a call to Stripe per payment, for a figure about the past).
With neither, it counts for the API under the plan ``""``.

On days, revenue is placed when it was paid (the day the ledger recorded it), not
accrued over the period it pays for: the days then add up to the month, as the ledger
does, where accruing an invoice paid on the 1st for last month's calls would put nearly
all of it outside the month shown. So a day's margin is lumpy (a subscription's payment
lands on one day); the plan's month is the figure to judge a price by.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from api_direct.aws_costs import prices
from api_direct.aws_costs.model import to_millionth, variable_cost
from api_direct.aws_costs.prices import PriceTable
from api_direct.aws_costs.stack_costs import fixed_monthly_of, stored_logs
from api_direct.aws_costs.traffic import Traffic, usage
from api_direct.control_plane.api.listings import ListingRuntime, listed_plans, listing_runtime
from api_direct.control_plane.api.store import GSI2, PK, SK, Store
from api_direct.control_plane.api.subscriptions import subscription_key
from api_direct.control_plane.billing.earnings import ledger_index_pk, paid_entry, refunds_index_pk
from api_direct.control_plane.billing.fees import platform_fee
from api_direct.control_plane.billing.metering import HOUR_PREFIX, traffic_of, unattributed_pk, usage_index_pk
from api_direct.control_plane.billing.periods import parse_hour

_CENTS = Decimal("0.01")


def dollars(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(_CENTS)


class PlanCosts(BaseModel):
    """One plan's month. ``received_per_1000`` and ``aws_cost_per_1000`` are per 1,000 of its calls (``None``
    without any), so the two compare on the same calls whatever their route weights."""

    plan: str
    calls: int
    units: int
    billable_units: int
    revenue: Decimal
    stripe_fees: Decimal
    platform_fee: Decimal
    aws_cost: Decimal
    #: Revenue less Stripe's fees, the platform's and the AWS cost of the plan's calls (not the stack's fixed cost).
    margin: Decimal
    aws_cost_per_1000: Decimal | None
    received_per_1000: Decimal | None
    #: AWS's cost of its calls is more than what they brought in after fees.
    loses_money: bool
    traffic: Traffic


class UnattributedCosts(BaseModel):
    """Calls no plan bills (rejected by the authorizer, MCP's) and what AWS billed for them."""

    calls: int
    aws_cost: Decimal
    traffic: Traffic


class Totals(BaseModel):
    """The API's month: its plans, its unattributed calls and its stack's fixed cost for the days shown."""

    calls: int
    revenue: Decimal
    stripe_fees: Decimal
    platform_fee: Decimal
    aws_cost: Decimal
    margin: Decimal


class DayCosts(BaseModel):
    """A UTC day: revenue paid on it, its calls' AWS cost with its share of the fixed cost, and the margin."""

    day: date
    calls: int
    revenue: Decimal
    aws_cost: Decimal
    margin: Decimal


class ApiCosts(BaseModel):
    api: str
    region: str
    #: The region whose prices were used: the API's, or us-east-1's for a region no prices file ships for.
    prices_region: str
    prices_retrieved: date
    runtime: ListingRuntime
    #: The stack's charges by the month whatever its traffic, for the whole month.
    fixed_monthly: Decimal
    plans: list[PlanCosts]
    unattributed: UnattributedCosts
    totals: Totals
    #: The month's days, up to today for the current month.
    days: list[DayCosts]


class MonthCosts(BaseModel):
    month: str
    currency: str
    apis: list[ApiCosts]


@dataclass
class _Money:
    """A plan's (or a day's) payments in cents: paid less refunded, and Stripe's fees on them."""

    revenue: int = 0
    stripe_fees: int = 0

    def add(self, revenue: int, stripe_fees: int) -> None:
        self.revenue += revenue
        self.stripe_fees += stripe_fees


@dataclass
class _Ledger:
    by_plan: dict[str, _Money] = field(default_factory=dict)
    by_day: dict[date, _Money] = field(default_factory=dict)

    def add(self, plan: str, day: date, revenue: int, stripe_fees: int) -> None:
        self.by_plan.setdefault(plan, _Money()).add(revenue, stripe_fees)
        self.by_day.setdefault(day, _Money()).add(revenue, stripe_fees)


@dataclass(frozen=True)
class _Counted:
    """The month's counters of one API: traffic per (day, plan) (``None``: unattributed), units per plan."""

    traffic: dict[tuple[date, str | None], Traffic]
    units: dict[str, int]
    billable: dict[str, int]


def month_days(month: str, today: date) -> tuple[list[date], int]:
    """The days of ``month`` (``YYYY-MM``) up to ``today``, and how many days the month has."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    length = (following - first).days
    return [day for day in (first + timedelta(days=n) for n in range(length)) if day <= today], length


def price_table(region: str) -> PriceTable:
    """The region's prices as shipped (a server has no user's refreshed cache); us-east-1's where none ship for it
    (the figure says which it used)."""
    return prices.shipped(region if region in prices.regions() else "us-east-1")


def month_costs(
    store: Store,
    listings: Iterable[Mapping[str, Any]],
    month: str,
    *,
    today: date,
    fee_percent: Decimal,
    currency: str,
) -> MonthCosts:
    """``month``'s figures of each of ``listings`` (one creator's); ``fee_percent`` is the platform's cut."""
    listed = list(listings)
    creators = {str(listing["creator"]) for listing in listed}
    ledgers = {creator: _ledger(store, creator, month) for creator in creators}
    days, length = month_days(month, today)
    apis = [
        api_costs(store, listing, month, days, length, ledgers[str(listing["creator"])], fee_percent)
        for listing in listed
    ]
    return MonthCosts(month=month, currency=currency.upper(), apis=apis)


def api_costs(
    store: Store,
    listing: Mapping[str, Any],
    month: str,
    days: list[date],
    length: int,
    ledgers: Mapping[str, _Ledger],
    fee_percent: Decimal,
) -> ApiCosts:
    api_id = str(listing["api_id"])
    runtime = listing_runtime(listing)
    table = price_table(runtime.region)
    counted = _counted(store, api_id, month)
    costs = _priced(counted.traffic, runtime, table)
    ledger = ledgers.get(api_id, _Ledger())
    listed = [plan.name for plan in listed_plans(store, api_id)]
    names = listed + sorted(
        ({plan for _, plan in counted.traffic if plan is not None} | set(ledger.by_plan)) - set(listed)
    )
    plans = [_plan(name, counted, costs, ledger.by_plan.get(name, _Money()), fee_percent) for name in names]
    unattributed = [key for key in counted.traffic if key[1] is None]
    fixed = fixed_monthly_of(runtime.fixed_resources, table).total
    fixed_per_day = fixed / length
    fixed_shown = fixed_per_day * len(days)
    day_figures = [
        _day(day, counted, costs, ledger.by_day.get(day, _Money()), fee_percent, fixed_per_day) for day in days
    ]
    aws_cost = sum(costs.values(), Decimal(0)) + fixed_shown
    revenue = sum((plan.revenue for plan in plans), Decimal(0))
    stripe_fees = sum((plan.stripe_fees for plan in plans), Decimal(0))
    fees = sum((plan.platform_fee for plan in plans), Decimal(0))
    return ApiCosts(
        api=api_id,
        region=runtime.region,
        prices_region=table.region,
        prices_retrieved=table.retrieved,
        runtime=runtime,
        fixed_monthly=to_millionth(fixed),
        plans=plans,
        unattributed=UnattributedCosts(
            calls=sum(counted.traffic[key].calls for key in unattributed),
            aws_cost=to_millionth(sum((costs[key] for key in unattributed), Decimal(0))),
            traffic=sum((counted.traffic[key] for key in unattributed), Traffic()),
        ),
        totals=Totals(
            calls=sum(traffic.calls for traffic in counted.traffic.values()),
            revenue=revenue,
            stripe_fees=stripe_fees,
            platform_fee=fees,
            aws_cost=to_millionth(aws_cost),
            margin=to_millionth(revenue - stripe_fees - fees - aws_cost),
        ),
        days=day_figures,
    )


def _plan(
    name: str, counted: _Counted, costs: Mapping[tuple[date, str | None], Decimal], paid: _Money, fee_percent: Decimal
) -> PlanCosts:
    keys = [key for key in counted.traffic if key[1] == name]
    traffic = sum((counted.traffic[key] for key in keys), Traffic())
    aws_cost = sum((costs[key] for key in keys), Decimal(0))
    fee = platform_fee(paid.revenue, fee_percent)
    received = Decimal(paid.revenue - paid.stripe_fees - fee) / 100
    margin = received - aws_cost
    return PlanCosts(
        plan=name,
        calls=traffic.calls,
        units=counted.units.get(name, 0),
        billable_units=counted.billable.get(name, 0),
        revenue=dollars(paid.revenue),
        stripe_fees=dollars(paid.stripe_fees),
        platform_fee=dollars(fee),
        aws_cost=to_millionth(aws_cost),
        margin=to_millionth(margin),
        aws_cost_per_1000=to_millionth(aws_cost * 1000 / traffic.calls) if traffic.calls else None,
        received_per_1000=to_millionth(received * 1000 / traffic.calls) if traffic.calls else None,
        loses_money=margin < 0,
        traffic=traffic,
    )


def _day(
    day: date,
    counted: _Counted,
    costs: Mapping[tuple[date, str | None], Decimal],
    paid: _Money,
    fee_percent: Decimal,
    fixed_per_day: Decimal,
) -> DayCosts:
    """The day's platform fee is its share of the percent, unrounded: the month's is rounded once, per plan."""
    keys = [key for key in counted.traffic if key[0] == day]
    aws_cost = sum((costs[key] for key in keys), Decimal(0)) + fixed_per_day
    revenue = Decimal(paid.revenue) / 100
    kept = Decimal(paid.stripe_fees) / 100 + revenue * fee_percent / 100
    return DayCosts(
        day=day,
        calls=sum(counted.traffic[key].calls for key in keys),
        revenue=dollars(paid.revenue),
        aws_cost=to_millionth(aws_cost),
        margin=to_millionth(revenue - kept - aws_cost),
    )


def _counted(store: Store, api_id: str, month: str) -> _Counted:
    """One query of the subscriptions' counters (``gsi2`` sorts them by hour) and one of the unattributed ones."""
    traffic: dict[tuple[date, str | None], Traffic] = {}
    units: dict[str, int] = {}
    billable: dict[str, int] = {}
    for counter in store.query(usage_index_pk(api_id), month, index=GSI2):
        plan = str(counter["plan"])
        key: tuple[date, str | None] = (parse_hour(str(counter["period_start"])).date(), plan)
        traffic[key] = traffic.get(key, Traffic()) + traffic_of(counter)
        units[plan] = units.get(plan, 0) + int(counter.get("units", counter.get("calls", 0)))
        billable[plan] = billable.get(plan, 0) + int(counter.get("billable", 0))
    for hour in store.query(unattributed_pk(api_id), f"{HOUR_PREFIX}{month}"):
        nobody: tuple[date, str | None] = (parse_hour(str(hour[SK]).removeprefix(HOUR_PREFIX)).date(), None)
        traffic[nobody] = traffic.get(nobody, Traffic()) + traffic_of(hour)
    return _Counted(traffic, units, billable)


def _priced(
    slices: Mapping[tuple[date, str | None], Traffic], runtime: ListingRuntime, table: PriceTable
) -> dict[tuple[date, str | None], Decimal]:
    """Each slice's exact cost on the tiers the month's slices before it reached (see the module's docstring)."""
    before = Traffic()
    costs = {}
    for key in sorted(slices, key=lambda key: (key[0], key[1] is None, key[1] or "")):
        measured = usage(slices[key], runtime)
        variable = variable_cost(measured, table, already=usage(before, runtime)).total
        costs[key] = variable + stored_logs(slices[key], runtime, table).cost
        before += slices[key]
    return costs


def _ledger(store: Store, creator: str, month: str) -> dict[str, _Ledger]:
    """The month's payments and refunds of the creator's ledger, per API, plan and day."""
    by_api: dict[str, _Ledger] = {}
    plans: dict[str, str] = {}
    for entry in store.query(ledger_index_pk(creator), f"{month}#", index=GSI2):
        plans[str(entry["invoice_id"])] = plan = _plan_of(store, entry)
        fees = int(entry.get("stripe_fee", 0)) + int(entry.get("billing_fee", 0))
        ledger = by_api.setdefault(str(entry["api_id"]), _Ledger())
        ledger.add(plan, _day_of(entry), int(entry["amount"]), fees)
    for refund in store.query(refunds_index_pk(creator), f"{month}#", index=GSI2):
        invoice_id = str(refund["invoice_id"])
        if invoice_id not in plans:  # a refund of an earlier month's payment
            paid = paid_entry(store, invoice_id)
            plans[invoice_id] = _plan_of(store, paid) if paid else ""
        ledger = by_api.setdefault(str(refund["api_id"]), _Ledger())
        ledger.add(plans[invoice_id], _day_of(refund), -int(refund["amount"]), 0)
    return by_api


def _plan_of(store: Store, entry: Mapping[str, Any]) -> str:
    """The entry's plan, or its consumer's subscription's now (see the module's docstring), or ``""``."""
    if entry.get("plan"):
        return str(entry["plan"])
    key = subscription_key(str(entry["consumer"]), str(entry["api_id"]))
    subscription = store.get(key[PK], key[SK])
    return str(subscription["plan"]) if subscription else ""


def _day_of(entry: Mapping[str, Any]) -> date:
    return datetime.fromisoformat(str(entry["recorded_at"])).date()
