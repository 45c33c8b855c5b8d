"""The scheduled work of listings' lifecycles: price changes given with notice, and unpublished APIs retiring.

Publishing and unpublishing put items in the schedule (``pk=SCHEDULE``,
``sk=<due time>#<kind>#<api_id>#<ref>``, see :mod:`~api_direct.control_plane.api.listing_changes`);
:func:`run_schedule` (run by ``close_periods``, every 15 minutes) does what is due
and deletes each item once done, so a run that fails part-way leaves the rest for
the next. Every step is safe to repeat:

* ``reprice`` (due at the publish): each subscription of the plan made before the
  publish is marked with the price it keeps (``price_change``: old and new terms,
  and ``effective_at``, the start of its first billing period at least the notice
  after the publish), told (``plan.price_changing``), and its ``move`` is scheduled.
  Billing periods are monthly from the subscription's start (Stripe's billing
  anchor); a prepaid plan has none, so its new pack price applies from the notice's end.
* ``move`` (due at ``effective_at``): the subscription's Stripe items move to the
  plan's new prices (:meth:`SubscriptionBilling.change`, whose idempotency key is the
  subscription, plan and price fingerprint), and ``price_change`` goes.
* ``retire-notice`` (due at the unpublish): each subscriber is told (``listing.retiring``).
* ``retire`` (due at the date): each subscription is cancelled as a consumer's
  cancel is (keys revoked through their events, Stripe ends with the period), and
  ``unroute`` is scheduled.
* ``unroute`` (due ``OUTBOX_DAYS`` after the date): the rule forwarding the API's key
  events to its account is deleted. Not at once: the revocations are relayed from the
  table's stream after the retirement commits (:mod:`~api_direct.control_plane.api.outbox`),
  and an event replayed from the outbox in those days must still reach the account.

A move or retirement whose listing or subscription changed since it was scheduled
(re-published, re-priced again, plan changed) does nothing: the newer item does it.
"""

import calendar
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from api_direct.control_plane.api.listing_changes import (
    MOVE,
    REPRICE,
    RETIRE,
    RETIRE_NOTICE,
    UNROUTE,
    due_work,
    parse_time,
    plain_terms,
    schedule,
    terms_text,
    time_text,
)
from api_direct.control_plane.api.listings import listing_key, plan_key
from api_direct.control_plane.api.outbox import OUTBOX_DAYS
from api_direct.control_plane.api.services import Services
from api_direct.control_plane.api.store import GSI1, PK, SK, api_pk, consumer_of, update_op
from api_direct.control_plane.api.subscriptions import ACTIVE, SUB_PREFIX, cancel_subscription, subscription_key
from api_direct.control_plane.billing.notices import PRICE_CHANGING, RETIRING, Notice
from api_direct.project import PricingPlan

logger = logging.getLogger(__name__)


class NoticeQueue:
    """Where notices go: the alert queue (an SQS client and URL); ``None`` for either sends none (logged)."""

    def __init__(self, sqs: Any | None, queue_url: str | None) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, notice: Notice) -> None:
        if self._sqs is None or not self._url:
            logger.warning("no alert queue: notice %s of %s not sent", notice.type, notice.api_id)
            return
        self._sqs.send_message(QueueUrl=self._url, MessageBody=notice.message())


@dataclass
class ScheduleSummary:
    repriced: int = 0
    moved: int = 0
    notices: int = 0
    retired: int = 0
    #: Items left for the next run after an error (logged).
    failed: int = 0


def run_schedule(services: Services, queue: NoticeQueue, now: datetime) -> ScheduleSummary:
    """Do every item due by ``now``; each one done is deleted, one that fails is kept for the next run."""
    summary = ScheduleSummary()
    steps: dict[str, Callable[[Services, NoticeQueue, Mapping[str, Any], ScheduleSummary], None]] = {
        REPRICE: _reprice,
        MOVE: _move,
        RETIRE_NOTICE: _tell_retiring,
        RETIRE: _retire,
        UNROUTE: _unroute,
    }
    for item in due_work(services.store, now):
        try:
            steps[item["kind"]](services, queue, item, summary)
        except Exception:
            logger.exception("scheduled %s of %s failed; the next run retries it", item["kind"], item["api_id"])
            summary.failed += 1
            continue
        services.store.delete(item[PK], item[SK])
    return summary


def effective_at(subscription: Mapping[str, Any], notice_from: datetime, prepaid: bool) -> datetime:
    """The start of the subscription's first billing period on or after ``notice_from``.

    Periods are monthly from the subscription's start, or from the end of its free trial
    (Stripe's billing anchor), as Stripe bills (the 31st's period starts on the last day of
    shorter months); a prepaid plan has no periods.
    """
    if prepaid:
        return notice_from
    anchor = parse_time(subscription.get("trial_end") or subscription["created_at"])
    months = 0
    while (boundary := add_months(anchor, months)) < notice_from:
        months += 1
    return boundary


def add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _subscribers(services: Services, api_id: str) -> list[dict[str, Any]]:
    """The API's active subscriptions, each read back from the table (the index may lag)."""
    found = []
    for listed in services.store.query(api_pk(api_id), SUB_PREFIX, index=GSI1):
        item = services.store.get(listed[PK], listed[SK])
        if item is not None and item["status"] == ACTIVE:
            found.append(item)
    return found


def _reprice(services: Services, queue: NoticeQueue, item: Mapping[str, Any], summary: ScheduleSummary) -> None:
    api_id, plan, changed_at = item["api_id"], item["plan"], item["changed_at"]
    new = plain_terms(item["new"])
    prepaid = bool(item["old"].get("prepaid") or new["prepaid"])
    for subscription in _subscribers(services, api_id):
        if subscription["plan"] != plan or subscription["created_at"] >= changed_at:
            continue  # on another plan, or subscribed at the new price
        pending = subscription.get("price_change")
        old = plain_terms(pending["old"] if pending else item["old"])
        key = subscription_key(consumer_of(subscription[PK]), api_id)
        if old == new:  # changed back to what they pay: nothing to move
            services.store.transact(
                [update_op(key, remove=["price_change"], when={"status": ACTIVE, "plan": plan})],
                conflict="the subscription changed meanwhile",
            )
            continue
        when = time_text(effective_at(subscription, parse_time(item["notice_from"]), prepaid))
        change = {"plan": plan, "old": old, "new": new, "effective_at": when, "changed_at": changed_at}
        services.store.transact(
            [update_op(key, set_={"price_change": change}, when={"status": ACTIVE, "plan": plan})],
            conflict="the subscription changed meanwhile",
        )
        consumer = consumer_of(subscription[PK])
        schedule(services.store, when, MOVE, api_id, consumer, consumer=consumer, changed_at=changed_at)
        queue.send(
            Notice.about(
                PRICE_CHANGING,
                api_id,
                consumer,
                changed_at,
                f"{api_id}: the price of your {plan} plan changes on {when[:10]}",
                f"The creator of {api_id} changed the price of its {plan} plan: {terms_text(old)} becomes"
                f" {terms_text(new)}. You keep the current price until your billing period starting"
                f" {when[:10]} (UTC); from then on the new price applies. To avoid it, change plan or cancel"
                " on your dashboard before then.",
                plan=plan,
                old=old,
                new=new,
                effective_at=when,
            )
        )
        summary.repriced += 1


def _move(services: Services, queue: NoticeQueue, item: Mapping[str, Any], summary: ScheduleSummary) -> None:
    api_id, consumer = item["api_id"], item["consumer"]
    key = subscription_key(consumer, api_id)
    subscription = services.store.get(key[PK], key[SK])
    pending = (subscription or {}).get("price_change")
    if subscription is None or subscription["status"] != ACTIVE or not pending:
        return
    if pending["changed_at"] != item["changed_at"] or pending["plan"] != subscription["plan"]:
        return  # re-priced again since: that change's own move does it
    plan_item = services.store.get(**plan_key(api_id, subscription["plan"]))
    stripe_side: dict[str, Any] = {}
    billing = services.billing
    if (
        billing is not None
        and plan_item is not None
        and subscription.get("stripe_subscription")
        and not PricingPlan.of(plan_item).is_prepaid
    ):
        stripe_side = billing.change(subscription, plan_item)
    services.store.transact(
        [
            update_op(
                key,
                set_=stripe_side,
                remove=["price_change"],
                when={"status": ACTIVE, "plan": subscription["plan"]},
            )
        ],
        conflict="the subscription changed meanwhile",
    )
    summary.moved += 1


def _retiring(services: Services, item: Mapping[str, Any]) -> bool:
    """Whether the listing still retires on the date the item was scheduled for (not re-published since)."""
    listing = services.store.get(**listing_key(item["api_id"]))
    return listing is not None and listing.get("retiring_at") == item["retiring_at"]


def _tell_retiring(services: Services, queue: NoticeQueue, item: Mapping[str, Any], summary: ScheduleSummary) -> None:
    if not _retiring(services, item):
        return
    api_id, day = item["api_id"], item["retiring_at"][:10]
    for subscription in _subscribers(services, api_id):
        queue.send(
            Notice.about(
                RETIRING,
                api_id,
                consumer_of(subscription[PK]),
                item["retiring_at"],
                f"{api_id} is retiring on {day}",
                f"The creator of {api_id} unpublished it. Your subscription and its keys keep working until"
                f" {day} 00:00 UTC; then the subscription ends, its keys stop and billing stops with the period.",
                retiring_at=item["retiring_at"],
            )
        )
        summary.notices += 1


def _retire(services: Services, queue: NoticeQueue, item: Mapping[str, Any], summary: ScheduleSummary) -> None:
    """Cancel every subscription, and schedule the end of forwarding the API's key events (once they are relayed)."""
    if not _retiring(services, item):
        return
    api_id = item["api_id"]
    for subscription in _subscribers(services, api_id):
        cancel_subscription(services, subscription)
    unrouted = time_text(parse_time(item["retiring_at"]) + timedelta(days=OUTBOX_DAYS))
    schedule(services.store, unrouted, UNROUTE, api_id, item["retiring_at"], retiring_at=item["retiring_at"])
    services.store.transact(
        [update_op(listing_key(api_id), set_={"retired_at": time_text(datetime.now(UTC))})],
        conflict="the listing changed meanwhile",
    )
    summary.retired += 1


def _unroute(services: Services, queue: NoticeQueue, item: Mapping[str, Any], summary: ScheduleSummary) -> None:
    """Stop forwarding a retired API's key events, unless it was published again since."""
    if _retiring(services, item):
        services.bus.unroute_keys(item["api_id"])
