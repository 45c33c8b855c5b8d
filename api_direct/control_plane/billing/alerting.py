"""Usage alerts: a subscription's thresholds, checked each time its usage is counted, each firing once a month.

A consumer's settings for one subscription are one item, ``pk=CONSUMER#<sub>``,
``sk=ALERTS#<api_id>`` (:class:`AlertSettings`; a subscription without one has the
defaults: 80 % and 100 % of the quota, email only). Each time the aggregator has
counted a batch, :meth:`Alerter.check` compares each subscription it touched with its
settings, as of its units this UTC month (every plan's: a quota is the month's; a call
counts its route's weight) and its spend (the current plan's fee and billable units, priced by
:func:`~.charges.month_charge_cents`, the rule Stripe invoices by):

* ``quota.threshold_reached``: units reached a threshold percentage of the plan's
  ``monthly_quota`` (a plan without a quota has none of these);
* ``spend.threshold_reached``: on a paid plan with a spend cap, spend reached a
  threshold percentage (below 100) of the cap;
* ``spend_cap.reached``: spend reached the cap. A ``hard`` cap also stops the
  subscription's keys until the month ends or the consumer raises the cap
  (``KeyCapped``/``KeyUncapped`` events; the API answers 402 meanwhile).

Each crossing fires once per subscription and month: a marker
``pk=METER#<api>#<consumer>``, ``sk=ALERT#<YYYY-MM>#<kind>#<limit>#<threshold>`` is
put on condition that it does not exist, so a redelivered batch or two aggregators
at once never send twice. The limit is in the marker, so a raised cap or a new
plan's quota is crossed afresh. A fired alert is one message on the alert queue
(:mod:`.alert_delivery` sends its email and webhook); if the message cannot be
queued the marker is deleted again, and the next batch fires it.
"""

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import ClientError

from api_direct.contracts import KEY_CAP_BUY_URL, KEY_CAP_REASON, KEY_CAPPED_UNTIL, CapReason
from api_direct.control_plane.api.listing_changes import billed_plan
from api_direct.control_plane.api.outbox import KeyEvent, outbox_writes
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.store import PK, SK, Store, api_pk, consumer_of, consumer_pk, update_op
from api_direct.control_plane.api.subscriptions import ACTIVE, key_reference, subscription_key, subscription_keys
from api_direct.control_plane.billing.charges import half_up, month_charge_cents
from api_direct.control_plane.billing.metering import HOUR_PREFIX, meter_pk
from api_direct.control_plane.billing.periods import epoch_seconds, month_text
from api_direct.control_plane.billing.trials import trialing
from api_direct.project import PricingPlan
from api_direct.runtime.limit_headers import next_month_start

ALERTS_PREFIX = "ALERTS#"
MARKER_PREFIX = "ALERT#"
DEFAULT_THRESHOLDS = (80, 100)
MAX_THRESHOLDS = 5
SOFT: Literal["soft"] = "soft"
HARD: Literal["hard"] = "hard"
#: Markers outlive their month; DynamoDB's TTL removes them after this.
MARKER_DAYS = 62
KEY_CAPPED: Literal["KeyCapped"] = "KeyCapped"
KEY_UNCAPPED: Literal["KeyUncapped"] = "KeyUncapped"
#: What a capped key's event says it is capped until (the end of the UTC month, when spend starts again at 0);
#: the alert settings item and the webhook event use the same name.
CAPPED_UNTIL = KEY_CAPPED_UNTIL

Kind = Literal["quota", "spend", "spend_cap", "credit_low", "reload_failed"]
EVENT_TYPES: dict[str, str] = {
    "quota": "quota.threshold_reached",
    "spend": "spend.threshold_reached",
    "spend_cap": "spend_cap.reached",
    # Prepaid credit (credits.py, prepaid.py): remaining units fell below the low mark; an auto-reload was declined.
    "credit_low": "credit.low",
    "reload_failed": "credit.reload_failed",
}
#: The kinds counted in units of prepaid credit (``used``: units remaining, ``limit``: the low mark).
CREDIT_KINDS = ("credit_low", "reload_failed")


@dataclass(frozen=True)
class AlertSettings:
    """One subscription's alert settings; the signing secret is the item's and never leaves it but once."""

    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    webhook_url: str | None = None
    #: In the marketplace's currency (USD by default), on paid plans only.
    spend_cap: Decimal | None = None
    cap_mode: Literal["soft", "hard"] = SOFT
    #: While a hard cap holds: when it lifts by itself (the end of the month it was reached in).
    capped_until: str | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any] | None) -> "AlertSettings":
        if item is None:
            return cls()
        return cls(
            thresholds=tuple(int(t) for t in item.get("thresholds", DEFAULT_THRESHOLDS)),
            webhook_url=item.get("webhook_url"),
            spend_cap=Decimal(str(item["spend_cap"])) if item.get("spend_cap") is not None else None,
            cap_mode=HARD if item.get("cap_mode") == HARD else SOFT,
            capped_until=item.get(CAPPED_UNTIL),
        )

    @property
    def cap_cents(self) -> int | None:
        return None if self.spend_cap is None else half_up(self.spend_cap * 100)


def alerts_key(consumer: str, api_id: str) -> dict[str, str]:
    return {PK: consumer_pk(consumer), SK: f"{ALERTS_PREFIX}{api_id}"}


@dataclass(frozen=True)
class MonthUsage:
    """A subscription's month so far: units on any plan (a unit per call before weights), and what its current
    plan charges for it (cents)."""

    month: str
    units: int
    spend_cents: int


def month_usage(store: Store, api_id: str, consumer: str, plan: PricingPlan, now: datetime) -> MonthUsage:
    """One query of the subscription's hourly counters of ``now``'s UTC month."""
    month = month_text(now)
    units = billable = 0
    for counter in store.query(meter_pk(api_id, consumer), f"{HOUR_PREFIX}{month}"):
        units += int(counter.get("units", counter.get("calls", 0)))
        if counter.get("plan") == plan.name:
            billable += int(counter.get("billable", 0))
    return MonthUsage(month, units, month_charge_cents(plan, billable) if plan.is_paid else 0)


@dataclass(frozen=True)
class Alert:
    """One crossing, as its webhook event says it (:meth:`event`)."""

    id: str
    kind: Kind
    api_id: str
    consumer: str
    plan: str
    period: str
    threshold: int
    used: int
    limit: int
    currency: str
    created: str
    cap_mode: str | None = None
    capped_until: str | None = None
    #: A credit alert's grant count when it fired: it fires once per grant, not once a month.
    grant: int | None = None

    def event(self) -> dict[str, Any]:
        """The webhook's JSON body: what was crossed, by how much; never whose account (the receiver knows)."""
        event: dict[str, Any] = {
            "id": self.id,
            "type": EVENT_TYPES[self.kind],
            "created": self.created,
            "api_id": self.api_id,
            "plan": self.plan,
            "period": self.period,
            "threshold": self.threshold,
            "used": self.used,
            "limit": self.limit,
            "unit": "calls" if self.kind == "quota" else "units" if self.kind in CREDIT_KINDS else "cents",
        }
        if self.kind == "quota":
            # ``used`` and ``limit`` are units (a call counts its route's weight); ``unit`` stays "calls" for the
            # receivers written before route weights, and this names the figure truthfully.
            event["units"] = self.used
        elif self.kind not in CREDIT_KINDS:
            event["currency"] = self.currency
        if self.kind == "spend_cap":
            event["mode"] = self.cap_mode
            if self.capped_until:
                event[CAPPED_UNTIL] = self.capped_until
        return event

    def marker_key(self) -> dict[str, str]:
        """The cap's mode is in a cap's marker: a soft cap made hard, once reached, still stops the keys."""
        kind = f"{self.kind}-{self.cap_mode}" if self.kind == "spend_cap" else self.kind
        grant = "" if self.grant is None else f"#{self.grant}"
        return {
            PK: meter_pk(self.api_id, self.consumer),
            SK: f"{MARKER_PREFIX}{self.period}#{kind}#{self.limit}#{self.threshold}{grant}",
        }

    def message(self) -> str:
        """The alert queue's message: the event, and whose subscription it is."""
        return json.dumps({"alert": asdict(self)})

    @classmethod
    def from_message(cls, body: Mapping[str, Any]) -> "Alert":
        return cls(**body["alert"])


def crossings(
    settings: AlertSettings,
    plan: PricingPlan,
    usage: MonthUsage,
    api_id: str,
    consumer: str,
    now: datetime,
    currency: str,
) -> list[Alert]:
    """Every limit the month's usage has reached under ``settings``, fired before or not."""

    def alert(kind: Kind, threshold: int, used: int, limit: int, **extra: Any) -> Alert:
        return Alert(
            id=f"evt_{secrets.token_hex(12)}",
            kind=kind,
            api_id=api_id,
            consumer=consumer,
            plan=plan.name,
            period=usage.month,
            threshold=threshold,
            used=used,
            limit=limit,
            currency=currency,
            created=now.astimezone(UTC).isoformat(timespec="seconds"),
            **extra,
        )

    found: list[Alert] = []
    if plan.monthly_quota is not None:
        found.extend(
            alert("quota", t, usage.units, plan.monthly_quota)
            for t in settings.thresholds
            if usage.units * 100 >= t * plan.monthly_quota
        )
    cap = settings.cap_cents
    if cap is not None and plan.is_paid:
        found.extend(
            alert("spend", t, usage.spend_cents, cap)
            for t in settings.thresholds
            if t < 100 and usage.spend_cents * 100 >= t * cap
        )
        if usage.spend_cents >= cap:
            hard = settings.cap_mode == HARD
            found.append(
                alert(
                    "spend_cap",
                    100,
                    usage.spend_cents,
                    cap,
                    cap_mode=settings.cap_mode,
                    capped_until=next_month_start(now).isoformat() if hard else None,
                )
            )
    return found


class Alerter:
    """Checks subscriptions after their usage was counted, and fires what they crossed (once each).

    ``queue`` sends the fired alerts' messages (an SQS client and URL).
    """

    def __init__(self, store: Store, sqs: Any, queue_url: str, currency: str) -> None:
        self.store = store
        self._sqs = sqs
        self._queue_url = queue_url
        self._currency = currency

    def check(self, api_id: str, consumer: str, now: datetime) -> list[Alert]:
        """Fire what the subscription's month has crossed and not fired yet; the alerts fired."""
        key = subscription_key(consumer, api_id)
        subscription = self.store.get(key[PK], key[SK])
        if subscription is None or subscription["status"] != ACTIVE:
            return []
        plan_item = self.store.get(api_pk(api_id), f"PLAN#{subscription['plan']}")
        if plan_item is None:
            return []
        plan = billed_plan(PricingPlan.of(plan_item), subscription)  # its old price during a change's notice
        settings = AlertSettings.of(self.store.get(**alerts_key(consumer, api_id)))
        usage = month_usage(self.store, api_id, consumer, plan, now)
        if trialing(subscription, now):
            usage = replace(usage, spend_cents=0)  # a free trial charges nothing: no spend alert, no spend cap
        cap_at_unit_quota(self.store, subscription, plan, usage, now)
        fired = []
        for alert in crossings(settings, plan, usage, api_id, consumer, now, self._currency):
            if self._fire(alert, subscription, now):
                fired.append(alert)
        return fired

    def fire(self, alert: Alert, subscription: Mapping[str, Any], now: datetime) -> bool:
        """Send an alert found elsewhere (prepaid credit's) once, as the checks' own are; whether it was sent now."""
        return self._fire(alert, subscription, now)

    def _fire(self, alert: Alert, subscription: Mapping[str, Any], now: datetime) -> bool:
        marker = {
            **alert.marker_key(),
            "event_id": alert.id,
            "fired_at": alert.created,
            "expires_at": epoch_seconds(now + timedelta(days=MARKER_DAYS)),
        }
        try:
            self.store.table.put_item(Item=marker, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False  # fired before, by this batch's first delivery or another aggregator
            raise
        try:
            if alert.capped_until:
                cap_keys(self.store, subscription, alert.capped_until)
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=alert.message())
        except (ClientError, Problem):
            self.store.delete(**alert.marker_key())  # the next batch fires it again
            raise
        return True


def cap_keys(
    store: Store,
    subscription: Mapping[str, Any],
    until: str | None,
    reason: CapReason = "spend",
    buy_url: str | None = None,
    with_writes: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Stop the subscription's keys for ``reason`` until ``until`` (``KeyCapped``).

    A spend cap also says so on the subscription's alert settings (its end is the
    month's, which raising the cap lifts early), in the transaction that writes the
    keys' events (:mod:`~api_direct.control_plane.api.outbox`). A credit cap has no
    end (``None``): it holds until credit is bought, and its 402 quotes ``buy_url``.
    The reason travels only when it is not ``spend``, so a spend cap's event is what it was.
    ``with_writes`` join the transaction (a quota cap's marker).
    """
    consumer, api_id = consumer_of(subscription[PK]), subscription["api_id"]
    settings = (
        [update_op(alerts_key(consumer, api_id), set_={CAPPED_UNTIL: until, "api_id": api_id})]
        if reason == "spend"
        else []
    )
    detail: dict[str, str] = {} if reason == "spend" else {KEY_CAP_REASON: reason}
    if until is not None:
        detail[CAPPED_UNTIL] = until
    if buy_url is not None:
        detail[KEY_CAP_BUY_URL] = buy_url
    events = [
        KeyEvent(KEY_CAPPED, api_id, {**key_reference(key), **detail}) for key in subscription_keys(store, subscription)
    ]
    _write([*with_writes, *settings, *outbox_writes(events)], store)


def uncap_keys(
    store: Store,
    subscription: Mapping[str, Any],
    reason: CapReason = "spend",
    with_writes: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Let the subscription's keys go from their cap of ``reason`` (``KeyUncapped``).

    A spend cap was raised, removed or made soft; a credit cap, credit was bought.
    ``with_writes`` join the events' transaction (the settings that lift a spend cap).
    """
    detail = {} if reason == "spend" else {KEY_CAP_REASON: reason}
    events = [
        KeyEvent(KEY_UNCAPPED, subscription["api_id"], {**key_reference(key), **detail})
        for key in subscription_keys(store, subscription)
    ]
    _write([*with_writes, *outbox_writes(events)], store)


def _write(writes: Sequence[Mapping[str, Any]], store: Store) -> None:
    """One transaction of a cap's writes; none for a subscription with no keys and nothing else to say."""
    if writes:
        store.transact(writes, "a key's cap changed meanwhile")


def still_capped(settings: AlertSettings, now: datetime) -> bool:
    return settings.capped_until is not None and datetime.fromisoformat(settings.capped_until) > now


#: A subscription capped for its quota in units, per month and quota: ``pk=METER#<api>#<consumer>``,
#: ``sk=QUOTACAP#<YYYY-MM>#<quota>``, put once.
QUOTA_CAP_PREFIX = "QUOTACAP#"


def cap_at_unit_quota(
    store: Store,
    subscription: Mapping[str, Any],
    plan: PricingPlan,
    usage: MonthUsage,
    now: datetime,
) -> bool:
    """On an API with route weights, stop the subscription's keys (``quota``: 429 until the month ends) once its
    units reach the plan's ``monthly_quota``; whether they were stopped now.

    The usage plan's quota counts requests, and a weighted call is more units than
    one request: only the control plane sees the quota in units reached, and only
    once the calls are counted (the calls made meanwhile go through). Without
    weights a unit is a request, and the gateway's quota stops the keys itself.
    A marker per month and quota, in the transaction of the events, caps once, whichever batch sees it first.
    """
    api_id = subscription["api_id"]
    if plan.monthly_quota is None or usage.units < plan.monthly_quota or not _weighted(store, api_id):
        return False
    marker = {
        PK: meter_pk(api_id, consumer_of(subscription[PK])),
        SK: f"{QUOTA_CAP_PREFIX}{usage.month}#{plan.monthly_quota}",
        "expires_at": epoch_seconds(now + timedelta(days=MARKER_DAYS)),
    }
    once = {"Put": {"Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}}
    try:
        cap_keys(store, subscription, next_month_start(now).isoformat(), reason="quota", with_writes=[once])
    except Problem as problem:
        if problem.status == 409:
            return False  # capped before, by another batch
        raise
    return True


def _weighted(store: Store, api_id: str) -> bool:
    listing = store.get(api_pk(api_id), "LISTING") or {}
    return any(int(route["weight"]) != 1 for route in listing.get("route_weights", []))
