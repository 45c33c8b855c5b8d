"""The money flow's promise, as a property: whatever happens to delivery, the money is what the calls imply.

For any set of usage records, delivered with duplicates, in any order, in any
batching, with redeliveries after crashes, and with the closer and the payer
crashing between Stripe's answer and their own bookkeeping and being run again,
and Stripe's webhooks delivered more than once: the hourly counters, the meter
events Stripe holds, the invoices and the single payout equal what processing each
record exactly once gives, less any chargeback of a paid invoice (opened, won or lost, its
events replayed too). Real code paths throughout (aggregator, closer, webhook
handler, payer, the official Stripe client against the local fake); AWS is moto.
"""

import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from api_direct.control_plane.api import stripe_webhook
from api_direct.control_plane.api.services import Services
from api_direct.control_plane.api.store import PK, SK, Store, api_pk, consumer_pk, creator_pk
from api_direct.control_plane.billing import credits, earnings, prepaid, reporting
from api_direct.control_plane.billing.earnings import close_and_pay, platform_fee
from api_direct.control_plane.billing.fees import StripePricing, billing_fee, card_fee
from api_direct.control_plane.billing.handlers import UsageBatch, process_usage
from api_direct.control_plane.billing.metering import counter_key, key_id_index_pk, traffic_of, unattributed_pk
from api_direct.aws_costs.traffic import Traffic
from api_direct.control_plane.billing.periods import hour_text
from api_direct.control_plane.billing.reporting import close_and_report
from tests.control_plane.billing.billed_market import CREATOR, billed_market
from tests.control_plane.billing.usage import API, sqs_event, usage_event
from tests.control_plane.marketplace import CREATOR_ACCOUNT
from tests.control_plane.resources import REGION, TABLE, create_table

CONSUMERS = ("consumer-carol", "consumer-dave")
HOURS = 3
GRACE = timedelta(hours=2)


@dataclass(frozen=True)
class Record:
    consumer: int
    hour: int
    calls: int
    ok: int
    #: Units a call counts (its route's weight); ``None``: a record from before weights, a unit per call.
    weight: int | None

    def units(self) -> dict[str, int] | None:
        if self.weight is None:
            return None
        return {"2xx": self.ok * self.weight, "3xx": 0, "4xx": (self.calls - self.ok) * self.weight, "5xx": 0}

    @property
    def billable(self) -> int:
        return self.ok * (1 if self.weight is None else self.weight)


def measured(calls: int) -> dict[str, int]:
    """What a forwarder measures of a record of ``calls`` calls, for the cost model."""
    per_call = {"response_bytes": 100, "integration_ms": 7, "log_bytes": 300}
    return {**{name: n * calls for name, n in per_call.items()}, **dict.fromkeys(PER_RECORD, 1)}


PER_RECORD = ("authorizer_invocations", "authorizer_ms", "active_seconds")


def traffic(calls: int) -> Traffic:
    """The counter's totals one record of ``calls`` calls adds."""
    return Traffic(calls=calls, records=1, **measured(calls))


records_strategy = st.lists(
    st.builds(
        Record,
        consumer=st.integers(0, 1),
        hour=st.integers(0, HOURS - 1),
        calls=st.integers(1, 40),
        ok=st.integers(0, 40),
        weight=st.one_of(st.none(), st.integers(0, 5)),
    ).map(lambda r: Record(r.consumer, r.hour, r.calls, min(r.ok, r.calls), r.weight)),
    min_size=1,
    max_size=12,
)


@dataclass(frozen=True)
class Chaos:
    """How delivery and the scheduled jobs misbehave in one example."""

    #: Extra deliveries (indexes into the records, wrapped), then the order of all deliveries.
    duplicates: list[int]
    order_seed: int
    batch_sizes: list[int]
    #: Batches whose processing "crashes" after applying: SQS redelivers them whole.
    crashed_batches: set[int]
    #: Which CLOSED->REPORTED / CLOSED->PAID moves crash right after Stripe answered.
    closer_crashes: set[int]
    payer_crash: bool
    webhook_replays: int
    #: A chargeback of the first paid invoice before the payout, and how it ends (``open``: not decided yet).
    dispute: str | None


chaos_strategy = st.builds(
    Chaos,
    duplicates=st.lists(st.integers(0, 100), max_size=10),
    order_seed=st.integers(0, 2**16),
    batch_sizes=st.lists(st.integers(1, 10), min_size=1, max_size=6),
    crashed_batches=st.sets(st.integers(0, 5), max_size=3),
    closer_crashes=st.sets(st.integers(0, 5), max_size=3),
    payer_crash=st.booleans(),
    webhook_replays=st.integers(0, 3),
    dispute=st.sampled_from([None, "open", "won", "lost"]),
)


class Crash(RuntimeError):
    """A Lambda dying mid-run."""


def deliveries(events: list[Any], chaos: Chaos) -> list[int]:
    order = list(range(len(events))) + [i % len(events) for i in chaos.duplicates]
    # A deterministic shuffle from the seed (hypothesis shrinks the seed, not a random state).
    return [i for _, i in sorted((hash((chaos.order_seed, n, i)) & 0xFFFF, i) for n, i in enumerate(order))]


def crashing_on(calls: set[int], real: Any, when: Any) -> Any:
    """``real`` that, on the listed matching calls, dies instead of doing its work.

    Wrapped around the bookkeeping step that follows a Stripe call, this is a
    Lambda dying after Stripe answered and before the table says so.
    """
    seen = itertools.count()

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs) and next(seen) in calls:
            raise Crash("died after Stripe answered, before the bookkeeping")
        return real(*args, **kwargs)

    return wrapped


def until_done(run: Any) -> Any:
    for _ in range(20):
        try:
            return run()
        except Crash:
            continue
    raise AssertionError("the job never finished")


def dispute(services: Services, fake: Any, invoices: list[dict[str, Any]], chaos: Chaos) -> int:
    """Open ``chaos.dispute`` on the first paid invoice's charge and decide it; its events delivered, some twice.
    What it takes off the payout: the amount and Stripe's dispute fee, unless won."""
    paid = [invoice for invoice in invoices if invoice["amount_paid"]]
    if chaos.dispute is None or not paid:
        return 0
    entry = services.store.get(f"INVOICE#{paid[0]['id']}", "PAID")
    assert entry is not None
    [charge] = [c for c in fake.charges() if c["payment_intent"] == entry["payment_intent"]]
    before = len(fake.events())
    opened = fake.open_dispute(charge["id"])
    if chaos.dispute != "open":
        fake.close_dispute(opened["id"], won=chaos.dispute == "won")
    sent = fake.events()[before:]
    for event in sent + sent[: chaos.webhook_replays]:
        stripe_webhook.handle(services, json.loads(json.dumps(event)))
    return 0 if chaos.dispute == "won" else charge["amount"] + services.settings.stripe_dispute_fee_cents


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(records=records_strategy, chaos=chaos_strategy)
def test_money_is_counted_billed_and_paid_exactly_once(
    records: list[Record], chaos: Chaos, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [hour_text(start + timedelta(hours=h)) for h in range(HOURS)]
    with billed_market(CONSUMERS, CREATOR_ACCOUNT) as market:
        services, fake, key_ids = market.services, market.stripe, market.key_ids
        store = services.store
        events = [
            usage_event(
                key_ids[r.consumer],
                calls=r.calls,
                ok=r.ok,
                hour=hours[r.hour],
                record=f"r{i}",
                units=r.units(),
                measured=measured(r.calls),
            )
            for i, r in enumerate(records)
        ]
        # The calls the authorizer refused beside each record's: a record of no one's, counted for its cost only.
        refused = [(r.hour, r.calls - r.ok) for r in records if r.calls > r.ok]
        events += [
            usage_event("", plan="", calls=n, ok=0, hour=hours[hour], record=f"a{i}", measured=measured(n))
            for i, (hour, n) in enumerate(refused)
        ]

        # Deliver: batches in the chosen sizes; a crashed batch is redelivered whole at the end.
        queue = deliveries(events, chaos)
        batch_number = 0
        while queue:
            size = chaos.batch_sizes[batch_number % len(chaos.batch_sizes)]
            batch, queue = queue[:size], queue[size:]
            response = process_usage(sqs_event(*(events[i] for i in batch)), UsageBatch(store, None, None, start))
            assert response == {"batchItemFailures": []}
            if batch_number in chaos.crashed_batches:
                queue += batch
            batch_number += 1

        # Close and report, crashing after some meter events were accepted; then run again.
        closing_time = start + timedelta(hours=HOURS) + GRACE
        monkeypatch.setattr(
            reporting,
            "advance",
            crashing_on(chaos.closer_crashes, reporting.advance, lambda *a, **k: a[3] == reporting.REPORTED),
        )
        until_done(lambda: close_and_report(store, services.billing, closing_time, GRACE))
        close_and_report(store, services.billing, closing_time, GRACE)

        # Stripe invoices the period (a test clock at the end of the last hour); webhooks arrive, some twice.
        invoices = fake.close_billing_period(at=int((start + timedelta(hours=HOURS)).timestamp()))
        delivered = fake.events()
        for event in delivered + delivered[: chaos.webhook_replays]:
            stripe_webhook.handle(services, json.loads(json.dumps(event)))
        disputed = dispute(services, fake, invoices, chaos)

        # Pay out once the month is past its grace, crashing after the transfer if asked; then run again.
        fake.complete_onboarding(
            earnings.remember_account(store, CREATOR, services.billing.gateway.connected_account(CREATOR, None))
        )  # type: ignore[union-attr]
        payout_time = datetime.now(UTC) + timedelta(days=40)
        monkeypatch.setattr(
            earnings,
            "advance",
            crashing_on({0} if chaos.payer_crash else set(), earnings.advance, lambda *a, **k: a[3] == earnings.PAID),
        )
        until_done(lambda: close_and_pay(store, services.billing.gateway, Decimal(20), payout_time, timedelta(days=3)))  # type: ignore[union-attr]
        close_and_pay(store, services.billing.gateway, Decimal(20), payout_time, timedelta(days=3))  # type: ignore[union-attr]

        # What exactly-once processing gives.
        calls: Counter[tuple[int, int]] = Counter()
        units: Counter[tuple[int, int]] = Counter()
        billable: Counter[tuple[int, int]] = Counter()
        measures: dict[tuple[int, int], Traffic] = defaultdict(Traffic)
        for r in records:
            calls[r.consumer, r.hour] += r.calls
            units[r.consumer, r.hour] += r.calls * (1 if r.weight is None else r.weight)
            billable[r.consumer, r.hour] += r.billable
            measures[r.consumer, r.hour] += traffic(r.calls)
        unattributed: dict[str, Traffic] = defaultdict(Traffic)
        for hour, n in refused:
            unattributed[f"HOUR#{hours[hour]}"] += traffic(n)
        assert {item[SK]: traffic_of(item) for item in store.query(unattributed_pk(API))} == unattributed
        for (consumer, hour), expected in calls.items():
            counter = store.get(
                **dict(
                    zip(("pk", "sk"), counter_key(API, CONSUMERS[consumer], hours[hour], "pro").values(), strict=True)
                )
            )
            assert counter is not None and traffic_of(counter) == measures[consumer, hour]
            assert (
                counter["calls"],
                counter["units"],
                counter["billable"],
                counter["state"],
            ) == (
                expected,
                units[consumer, hour],
                billable[consumer, hour],
                "reported",
            )

        sent = defaultdict(list)
        for event in fake.meter_events():
            sent[event["payload"]["stripe_customer_id"]].append(int(event["payload"]["value"]))
        customers = {c["metadata"]["apid_consumer"]: c["id"] for c in fake.customers()}
        for index, consumer in enumerate(CONSUMERS):
            per_hour = [billable[index, h] for h in range(HOURS) if billable[index, h]]
            assert sorted(sent[customers[consumer]]) == sorted(per_hour)

        by_consumer = {
            i["parent"]["subscription_details"]["metadata"]["apid_consumer"]: i["amount_paid"] for i in invoices
        }
        assert by_consumer == {c: sum(billable[i, h] for h in range(HOURS)) for i, c in enumerate(CONSUMERS)}
        revenue = sum(by_consumer.values())
        # Each paid invoice is one charge: Stripe's card fee on it, and Stripe Billing's, come off the payout.
        stripe_fees = sum(
            card_fee(paid, StripePricing()) + billing_fee(paid, StripePricing()) for paid in by_consumer.values()
        )
        payout = revenue - stripe_fees - platform_fee(revenue, Decimal(20)) - disputed
        transfers = fake.transfers()
        if payout > 0:
            assert [t["amount"] for t in transfers] == [payout]
        else:
            assert transfers == []
        months = earnings.months(store, CREATOR)
        # A month whose fees outweigh its revenue pays nothing and carries the rest into the next, once.
        carried = [("open", 0, -payout)] if revenue and payout < 0 else []
        expected = carried + ([("paid", revenue, 0)] if revenue else [])
        assert [(m["state"], int(m.get("revenue", 0)), int(m.get("carried_in", 0))) for m in months] == expected
        assert store.get(creator_pk(CREATOR), "PAYOUTS") is not None


# Prepaid credit: debits in the counting transaction, grants once per payment, expiry oldest first.

PREPAID_PLAN = {
    "name": "credits",
    "description": "",
    "rate_limit": Decimal(10),
    "burst": 20,
    "billable_statuses": ["2xx"],
    "prepaid": {"calls": 100, "price": Decimal("1.00"), "expires_days": 1},
}


@dataclass(frozen=True)
class Step:
    """One thing that happens to the prepaid subscription, in order.

    ``deliver``: the next ``size`` deliveries as one batch (twice if ``again``: a crash
    after applying); ``buy``: a purchase of ``size`` packs (its payment reported twice
    if ``again``); ``expire``: the scheduled run at the latest purchase's end of life,
    with the next batch landing between its read and its write if ``again``.
    """

    kind: str
    size: int
    again: bool


steps_strategy = st.lists(
    st.builds(Step, kind=st.sampled_from(["deliver", "buy", "expire"]), size=st.integers(1, 4), again=st.booleans()),
    max_size=14,
)


@contextmanager
def prepaid_marketplace() -> Iterator[tuple[Store, str]]:
    """weather-api listed with a prepaid plan of 100-unit packs that expire after a day; Carol subscribed to it."""
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name=REGION), TABLE)
        store = Store(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
        store.put({PK: api_pk(API), SK: "LISTING", "api_id": API, "creator": CREATOR, "account_id": CREATOR_ACCOUNT})
        store.put({PK: api_pk(API), SK: "PLAN#credits", **PREPAID_PLAN, "position": 0})
        consumer, key_id = CONSUMERS[0], "key_carol"
        store.put(
            {
                PK: f"KEY#{consumer}",
                SK: "KEY",
                "key_id": key_id,
                "consumer": consumer,
                "api_id": API,
                "plan": "credits",
                "status": "active",
                "gsi1pk": key_id_index_pk(key_id),
                "gsi1sk": "KEY",
            }
        )
        store.put(
            {
                PK: consumer_pk(consumer),
                SK: f"SUB#{API}",
                "api_id": API,
                "plan": "credits",
                "status": "active",
                "key_id": key_id,
                "key_hash": "0" * 64,
            }
        )
        yield store, key_id


def landing_once(read: Any, deliver: Any, size: int) -> Any:
    """``read`` (the balance) that, the first time, lets a batch of ``size`` deliveries land after it has read:
    a debit between an expiry's read and its write."""
    landed = False

    def reading(*args: Any) -> Any:
        nonlocal landed
        balance = read(*args)
        if not landed:
            landed = True
            deliver(size)
        return balance

    return reading


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(records=records_strategy, chaos=chaos_strategy, steps=steps_strategy)
def test_prepaid_credit_balances_exactly_whatever_the_delivery(
    records: list[Record], chaos: Chaos, steps: list[Step], monkeypatch: pytest.MonkeyPatch
) -> None:
    """remaining = granted - debited - expired at every step; debited = the unique records' billable units;
    granted = the unique purchases' units; each grant loses exactly its units unused, spent oldest first."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hour = hour_text(start)
    consumer = CONSUMERS[0]
    with prepaid_marketplace() as (store, key_id):
        events = [
            usage_event(key_id, calls=r.calls, ok=r.ok, hour=hour, plan="credits", record=f"r{i}", units=r.units())
            for i, r in enumerate(records)
        ]
        queue = deliveries(records, chaos)
        seen: set[int] = set()
        #: The model: units debited, and per grant (oldest first) its units, end of life and units lost.
        model_used, grants, clock = 0, [], start

        def deliver_batch(size: int) -> None:
            nonlocal queue, model_used
            batch, queue = queue[:size], queue[size:]
            if batch:
                assert process_usage(sqs_event(*(events[i] for i in batch)), UsageBatch(store, None, None, start)) == {
                    "batchItemFailures": []
                }
            for i in batch:
                if i not in seen:
                    seen.add(i)
                    model_used += records[i].billable

        def check() -> None:
            balance = credits.read_balance(store, consumer, API)
            assert balance.remaining == balance.granted - balance.used - balance.expired
            assert (balance.used, balance.granted, balance.expired) == (
                model_used,
                sum(units for units, _, _ in grants),
                sum(lost or 0 for _, _, lost in grants),
            )

        last_batch: list[int] = []
        for number, step in enumerate(steps):
            if step.kind == "deliver":
                last_batch = queue[: step.size]
                deliver_batch(step.size)
                if step.again and last_batch:  # the batch redelivered whole after a crash: counted once
                    process_usage(sqs_event(*(events[i] for i in last_batch)), UsageBatch(store, None, None, start))
            elif step.kind == "buy":
                clock += timedelta(minutes=1)
                purchase = credits.Purchase(
                    f"pi_{number}", consumer, API, "credits", step.size, 100 * step.size, "usd", "checkout"
                )
                for _ in range(2 if step.again else 1):
                    prepaid.receive(store, purchase, clock)
                grants.append([100 * step.size, clock + timedelta(days=1), None])
            else:
                at = clock + timedelta(days=1)
                if step.again:
                    monkeypatch.setattr(
                        credits, "read_balance", landing_once(credits.read_balance, deliver_batch, step.size)
                    )
                prepaid.expire_due(store, at)
                monkeypatch.undo()
                spent_before = 0
                for grant in grants:
                    units, ends, lost = grant
                    if lost is None and ends <= at:
                        grant[2] = lost = units - min(max(model_used - spent_before, 0), units)
                    spent_before += units - (lost or 0)
            check()
        deliver_batch(len(queue))
        check()
        assert model_used == sum(r.billable for r in records)
        paid = [entry["amount"] for entry in earnings.ledger(store, CREATOR)]
        assert sorted(paid) == sorted(100 * s.size for s in steps if s.kind == "buy")
