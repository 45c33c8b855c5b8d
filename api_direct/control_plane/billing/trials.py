"""Trials on the billing side: a trial's usage never reported, and its end told three days before.

:func:`in_trial` keeps an hour of usage that overlaps a subscription's free trial
from being reported to Stripe (:mod:`.reporting`).

Stripe sends ``customer.subscription.trial_will_end`` three days before a trial
ends; the Stripe webhook calls :func:`trial_will_end`, which puts one notice
(:class:`~.notices.Notice`) on the alert queue, sent as usage alerts are
(:mod:`.alert_delivery`: an email, then the subscription's webhook with retries).
The notice says when the trial ends, what the plan costs from then, and how to
cancel before; its id is derived from the subscription and the trial's end, so a
repeated Stripe event is recognised by the receiver as one.

The queue is the one the stack names in ``ALERT_QUEUE_URL`` (set on the control
plane's API function for this); without it the notice is logged and not sent.
"""

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3

from api_direct.contracts import ALERT_QUEUE_URL_ENV
from api_direct.control_plane.api.services import Services
from api_direct.control_plane.api.store import Store, api_pk
from api_direct.control_plane.api.subscriptions import ACTIVE, subscription_key
from api_direct.control_plane.billing.charges import money_text
from api_direct.control_plane.billing.notices import Notice
from api_direct.project import PricingPlan

TRIAL_ENDING = "trial.ending"

logger = logging.getLogger(__name__)


def trial_will_end(services: Services, subscription: Mapping[str, Any]) -> bool:
    """Queue the ``trial.ending`` notice of a Stripe subscription still trialing here; whether one was queued."""
    metadata = subscription.get("metadata") or {}
    consumer, api_id, trial_end = metadata.get("apid_consumer"), metadata.get("apid_api"), subscription.get("trial_end")
    if not consumer or not api_id or not isinstance(trial_end, int):
        return False  # not an API-Direct subscription's trial
    key = subscription_key(str(consumer), str(api_id))
    item = services.store.get(**key)
    if item is None or item["status"] != ACTIVE or item.get("stripe_subscription") != subscription.get("id"):
        return False  # cancelled meanwhile, or another subscription: nothing to warn about
    plan_item = services.store.get(api_pk(str(api_id)), f"PLAN#{item['plan']}")
    if plan_item is None:
        return False
    notice = trial_ending_notice(
        str(api_id),
        str(consumer),
        str(subscription["id"]),
        PricingPlan.of(plan_item),
        trial_end,
        services.settings.currency,
    )
    queue_url = os.environ.get(ALERT_QUEUE_URL_ENV)
    if not queue_url:
        logger.warning("no alert queue: trial.ending notice %s not sent", notice.id)
        return False
    settings = services.settings
    sqs = boto3.client("sqs", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    sqs.send_message(QueueUrl=queue_url, MessageBody=notice.message())
    return True


def trial_ending_notice(
    api_id: str, consumer: str, stripe_subscription: str, plan: PricingPlan, trial_end: int, currency: str
) -> Notice:
    """What the consumer is told: the end (UTC), the plan's price from then, and how to cancel before."""
    ends = datetime.fromtimestamp(trial_end, UTC)
    when = ends.strftime("%Y-%m-%d %H:%M UTC")
    cost = price_text(plan, currency)
    return Notice.about(
        TRIAL_ENDING,
        api_id,
        consumer,
        f"{stripe_subscription}#{trial_end}",
        f"{api_id}: your free trial of the {plan.name} plan ends on {ends:%Y-%m-%d}",
        f"Your free trial of the {plan.name} plan of {api_id} ends at {when}. From then your card is charged "
        f"{cost}.\n\nTo stop before you are charged anything, cancel the subscription before then: "
        f"Cancel on your dashboard or DELETE /subscriptions/{api_id}. Nothing is "
        "charged for the trial.",
        plan=plan.name,
        trial_end=ends.isoformat(timespec="seconds"),
        monthly_fee=str(plan.monthly_fee),
        price_per_1000=str(plan.price_per_1000),
        free_units=plan.free_calls,
        currency=currency,
        cancel=f"DELETE /subscriptions/{api_id}",
    )


def price_text(plan: PricingPlan, currency: str) -> str:
    """``9.90 USD a month plus 0.0125 USD per 1,000 units (the first 10,000 each month free)``."""
    parts = []
    if plan.monthly_fee > 0:
        parts.append(f"{money_text(plan.monthly_fee * 100, currency)} a month")
    if plan.price_per_1000 > 0:
        free = f" (the first {plan.free_calls:,} each month free)" if plan.free_calls else ""
        per = format(Decimal(plan.price_per_1000).normalize(), "f")
        parts.append(f"{per} {currency.upper()} per 1,000 units{free}")
    return " plus ".join(parts)


def in_trial(store: Store, api_id: str, consumer: str, hour: datetime) -> bool:
    """Whether an hour of the consumer's usage of the API overlaps their current subscription's free trial.

    Such an hour is never reported to Stripe, wherever in it the trial began or ended:
    nothing used during a trial is charged (Stripe would not bill it either: a trial's
    usage falls before the first paid period).
    """
    item = store.get(**subscription_key(consumer, api_id))
    if item is None or not item.get("trial_end"):
        return False
    starts, ends = _moment(item["created_at"]), _moment(item["trial_end"])
    return hour < ends and hour + timedelta(hours=1) > starts


def trialing(subscription: Mapping[str, Any], now: datetime) -> bool:
    """Whether the subscription item's free trial is still on at ``now``."""
    return bool(subscription.get("trial_end")) and _moment(subscription["trial_end"]) > now


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
