"""Close usage hours past their grace window and report each to Stripe as one meter event.

An hour counter moves ``open`` -> ``closed`` -> ``reported``, each step a
conditional update, and ``gsi1`` lists the hours in the first two states
(``HOURS#open``, ``HOURS#closed``, sorted by hour) so each step is one query.
Closing is what makes an hour immutable: the aggregator's increment requires
``open``. Reporting sends the closed total with an identifier derived from
(API, consumer, plan, hour): run this twice, or crash between Stripe's answer and
the ``reported`` mark, and Stripe still counts the hour once.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from api_direct.control_plane.api.store import PK, SK, Store, api_pk
from api_direct.control_plane.billing.lifecycle import advance, listed
from api_direct.control_plane.billing.metering import CLOSED, OPEN, REPORTED, hours_index_pk
from api_direct.control_plane.billing.periods import HOUR, epoch_seconds, hours_closable_before, parse_hour
from api_direct.control_plane.billing.stripe_gateway import meter_identifier
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.control_plane.billing.trials import in_trial

#: Hours one run handles at most; the next run (minutes later) takes the rest.
MAX_HOURS_PER_RUN = 5000


@dataclass
class ReportSummary:
    closed: int = 0
    reported: int = 0
    #: Meter events sent, and the billable units in them.
    meter_events: int = 0
    billed_calls: int = 0
    #: Hours with nothing to bill in Stripe: free plans, no billable units, or billing off.
    unbilled: int = 0


def close_and_report(
    store: Store, billing: SubscriptionBilling | None, now: datetime, grace: timedelta
) -> ReportSummary:
    """One scheduled run: close every due hour, then report every closed one."""
    summary = ReportSummary()
    bound = hours_closable_before(now, grace)
    for counter in listed(store, hours_index_pk(OPEN), below=bound, limit=MAX_HOURS_PER_RUN):
        if advance(store, counter, OPEN, CLOSED, {"closed_at": now.isoformat()}, hours_index_pk(CLOSED)):
            summary.closed += 1
    for entry in listed(store, hours_index_pk(CLOSED), limit=MAX_HOURS_PER_RUN):
        # The index may lag: report what the table says now, and only if it is still closed.
        closed = store.get(entry[PK], entry[SK])
        if closed is not None and closed["state"] == CLOSED:
            _report(store, billing, closed, now, summary)
    return summary


def _report(
    store: Store, billing: SubscriptionBilling | None, counter: Mapping[str, Any], now: datetime, summary: ReportSummary
) -> None:
    values: dict[str, Any] = {"reported_at": now.isoformat(), "reported_value": 0}
    target = _meter_target(store, billing, counter)
    if target is None:
        summary.unbilled += 1
    else:
        event_name, customer = target
        identifier = meter_identifier(counter["api_id"], counter["consumer"], counter["plan"], counter["period_start"])
        value = int(counter["billable"])
        billing.gateway.report_usage(  # type: ignore[union-attr]  # a target implies billing
            event_name, customer, value, meter_timestamp(counter["period_start"]), identifier
        )
        values.update(reported_value=value, meter_identifier=identifier)
        summary.meter_events += 1
        summary.billed_calls += value
    if advance(store, counter, CLOSED, REPORTED, values, None):
        summary.reported += 1


def meter_timestamp(hour: str) -> int:
    """The hour's last second: Stripe bills a meter event in the subscription period holding its
    timestamp, and a subscription started within the hour existed by its end, not at its start."""
    return epoch_seconds(parse_hour(hour) + HOUR) - 1


def _meter_target(
    store: Store, billing: SubscriptionBilling | None, counter: Mapping[str, Any]
) -> tuple[str, str] | None:
    """(meter event name, Stripe customer) to report the hour to, or ``None`` when there is nothing to bill."""
    if billing is None or not int(counter["billable"]):
        return None
    if in_trial(store, counter["api_id"], counter["consumer"], parse_hour(counter["period_start"])):
        return None  # a free trial's usage is never charged
    plan = store.get(api_pk(counter["api_id"]), f"PLAN#{counter['plan']}") or {}
    prices = plan.get("stripe_prices") or {}
    customer = billing.customer_of(counter["consumer"])
    if not prices.get("usage_price") or not plan.get("stripe_event_name") or customer is None:
        return None
    return str(plan["stripe_event_name"]), customer
