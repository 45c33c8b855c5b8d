"""What the web dashboards chart: an API's days for its creator; a subscription's month and paid
invoices for its consumer.

Nothing here writes. It reads what billing keeps anyway: the hourly counters of
:mod:`~api_direct.control_plane.billing.metering` (an API's over a range of days
from ``gsi2``, a subscription's month from its own partition) and the paid invoices
of :mod:`~api_direct.control_plane.billing.earnings` (a consumer's from ``gsi1``).
Counters include hours that have not closed yet, so today's numbers grow until the
hour's grace has passed: they are what the control plane has counted, which is what
Stripe will be told, not an invoice.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api_direct.control_plane.api.auth import Consumer, Creator
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listings import LISTING_SK, require_plan
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.api.store import GSI1, GSI2, PK, SK, Store, api_pk
from api_direct.control_plane.api.subscriptions import ACTIVE, subscription_key
from api_direct.control_plane.billing.earnings import invoices_index_pk
from api_direct.control_plane.billing.metering import HOUR_PREFIX, meter_pk, usage_index_pk
from api_direct.control_plane.billing.periods import month_text, parse_hour

#: What a counter adds up; one written before errors were counted has no ``errors`` and counts 0 of them.
_COUNTED = ("calls", "billable", "errors")


class DayUsage(BaseModel):
    """One UTC day of an API's calls, every consumer and plan together."""

    day: date
    calls: int
    billable: int
    #: Calls answered 4xx or 5xx, whether or not the plan bills them.
    errors: int


class ApiUsage(BaseModel):
    api_id: str
    #: Oldest first, one per day, days without calls included: a chart needs no gap filling.
    days: list[DayUsage]


class PeriodUsage(BaseModel):
    """A subscription's calendar month so far, beside the limits of its current plan.

    A plan's limits are in units (a call counts its route's weight), so ``units`` is what
    the quota and free calls are compared with; ``calls`` is how many requests that was.
    """

    api_id: str
    plan: str
    month: str
    #: On every plan the subscription was on this month: a quota is the month's, not a plan's.
    calls: int
    #: The calls' units (a unit per call counted before route weights were).
    units: int
    #: Billable units (those of the plan's billable responses).
    billable: int
    #: The current plan's, in units; ``None`` for a plan without a quota.
    monthly_quota: int | None
    #: Units left of the quota this month (never below 0); ``None`` without a quota.
    remaining: int | None
    free_calls: int


class Invoice(BaseModel):
    """A paid invoice as its consumer sees it.

    The creator's ``LedgerEntry`` extends this one, not the other way round, so that
    nothing added to the creator's side ever reaches a consumer.
    """

    invoice_id: str
    api_id: str
    #: In cents of ``currency``.
    amount: int
    currency: str
    #: The month the payment was credited to the creator (``YYYY-MM``, UTC).
    month: str
    recorded_at: datetime
    #: Cents refunded of it so far (by its creator, from the portal or Stripe's dashboard), back on the card paid with.
    refunded: int = 0


class ConsumerInvoice(Invoice):
    """What only the consumer sees of their invoice: its page on Stripe shows their billing details."""

    #: Only paid invoices are recorded.
    status: Literal["paid"] = "paid"
    #: Stripe's hosted invoice page (view, download the PDF and receipt); ``None`` for one recorded before links were.
    hosted_invoice_url: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


router = APIRouter(tags=["usage"])


@router.get("/usage", summary="Your API's calls, billable calls and errors per UTC day")
def api_usage(
    api_id: ApiId,
    principal: Creator,
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=90, description="how many days, ending today (UTC)")] = 30,
) -> ApiUsage:
    """404 for an API that is not this creator's, whether another creator lists it or nobody does."""
    listing = services.store.get(api_pk(api_id), LISTING_SK)
    if listing is None or listing["creator"] != principal.sub:
        raise Problem(404, f"you have no listed API {api_id!r}; usage is shown for the APIs you publish")
    return ApiUsage(api_id=api_id, days=daily_usage(services.store, api_id, days, datetime.now(UTC).date()))


@router.get("/subscriptions/{api_id}/usage", summary="Your subscription's calls this month, beside its plan's quota")
def subscription_usage(api_id: ApiId, principal: Consumer, services: ServicesDep) -> PeriodUsage:
    """The current UTC calendar month so far; 404 without an active subscription to the API."""
    key = subscription_key(principal.sub, api_id)
    subscription = services.store.get(key[PK], key[SK])
    if subscription is None or subscription["status"] != ACTIVE:
        raise Problem(
            404, f"you have no active subscription to {api_id}, so no usage to show; list yours with GET /subscriptions"
        )
    return period_usage(services.store, api_id, principal.sub, subscription["plan"], month_text(datetime.now(UTC)))


@router.get("/invoices", summary="Your paid invoices with their Stripe links, newest first")
def invoices(principal: Consumer, services: ServicesDep) -> list[ConsumerInvoice]:
    return consumer_invoices(services.store, principal.sub)


def daily_usage(store: Store, api_id: str, days: int, today: date) -> list[DayUsage]:
    """The ``days`` UTC days ending with ``today``, oldest first, each summing every consumer and plan.

    One query of the API's counters in ``gsi2``: its sort keys begin with the hour,
    so the bounds are the first day and the day after ``today``, which sorts after
    every hour of ``today`` and before any of its own.
    """
    first = today - timedelta(days=days - 1)
    after = (today + timedelta(days=1)).isoformat()
    counters = store.query_between(usage_index_pk(api_id), first.isoformat(), after, index=GSI2)
    by_day = {day: _totals(hours) for day, hours in groupby(counters, key=counter_day)}
    zero = _totals(())
    return [DayUsage(day=day, **by_day.get(day, zero)) for day in (first + timedelta(days=n) for n in range(days))]


def period_usage(store: Store, api_id: str, consumer: str, plan: str, month: str) -> PeriodUsage:
    """The consumer's calls and units on the API in ``month`` (``YYYY-MM``), on any plan, beside ``plan``'s quota
    and free calls (in units).

    The counters are the subscription's own partition's whose ``sk`` begins with the
    month's hours: one query, no index. A plan stays while it has subscribers (publishing
    refuses to drop it), so ``plan`` of an active subscription is always found.
    """
    plan_item = require_plan(store, api_id, plan)
    counters = list(store.query(meter_pk(api_id, consumer), f"{HOUR_PREFIX}{month}"))
    totals = _totals(counters)
    units = sum(int(counter.get("units", counter.get("calls", 0))) for counter in counters)
    quota = plan_item.get("monthly_quota")
    return PeriodUsage(
        api_id=api_id,
        plan=plan,
        month=month,
        calls=totals["calls"],
        units=units,
        billable=totals["billable"],
        monthly_quota=quota,
        remaining=None if quota is None else max(int(quota) - units, 0),
        free_calls=plan_item.get("free_calls", 0),
    )


def consumer_invoices(store: Store, consumer: str) -> list[ConsumerInvoice]:
    """Every invoice the consumer paid, newest first.

    Ordered by when each was recorded, not by the index: within a month ``gsi1`` sorts
    by invoice id, and Stripe does not issue those in order.
    """
    paid = (ConsumerInvoice.model_validate(item) for item in store.query(invoices_index_pk(consumer), index=GSI1))
    return sorted(paid, key=lambda invoice: invoice.recorded_at, reverse=True)


def _totals(counters: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Each of :data:`_COUNTED` added up over the counters; all 0 for none."""
    totals = dict.fromkeys(_COUNTED, 0)
    for counter in counters:
        for name in totals:
            totals[name] += int(counter.get(name, 0))
    return totals


def counter_day(counter: Mapping[str, Any]) -> date:
    """The UTC day of an hourly usage counter."""
    return parse_hour(counter["period_start"]).date()
