"""A soak of the metering pipeline: 100,000 access-log lines, duplicated and reordered, counted exactly once.

    .venv/bin/python -m bench.soak [lines]

The lines are API Gateway's (:func:`render_access_log_line`), from four subscribed
keys and the authorizer's rejections, over three UTC hours, on two routes (one of
weight 5), answered 2xx or 4xx. They go through the real stages, in process, with
AWS as moto and Stripe as the local fake:

1. the usage forwarder's handler, one CloudWatch Logs delivery of 500 lines at a
   time, the lines shuffled across hours and keys, a line repeated within its
   delivery now and then, and some deliveries delivered twice (a retried
   subscription delivery); its records go to EventBridge, whose rule fills the
   usage queue;
2. the aggregator (:func:`process_usage`), SQS batches of 100 from that queue,
   shuffled, with messages delivered twice (at-least-once) and some batches applied
   and then delivered again whole (a crash before SQS heard back);
3. the closer (:func:`close_and_report`): each hour closed after its grace and
   reported to Stripe as one meter event, run twice.

At the end every number is compared with the lines made: calls, units and billable
units per consumer and hour on the counters (each ``reported``), the rejected calls
on the API's cost counters, and the meter events Stripe holds. Each stage's rate is
lines per second: the lines it was handed (duplicates included) for the forwarder,
the distinct lines its records count for the other two. This measures our code plus
moto, not AWS.
"""

import functools
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID

from api_direct.contracts import ROUTE_WEIGHTS_ENV, USAGE_DETAIL_TYPE, USAGE_SOURCE
from api_direct.control_plane.billing.handlers import UsageBatch, process_usage
from api_direct.control_plane.billing.metering import KeyOwners, counter_key, unattributed_pk
from api_direct.control_plane.billing.periods import hour_text, parse_hour
from api_direct.control_plane.billing.reporting import close_and_report
from api_direct.local.emulator.dynamodb import transactions_snapshot_only_their_items
from api_direct.local.emulator.events import delivered_events_name_their_account
from api_direct.local.event_sources import log_subscription_event
from api_direct.local.lambda_runtime import environment
from api_direct.runtime import usage_forwarder
from api_direct.runtime.access_log import render_access_log_line
from api_direct.runtime.route_weights import RouteWeights, WeightedRoute
from bench.figures import Figure
from tests.control_plane.billing.billed_market import BilledMarket, billed_market
from tests.control_plane.billing.usage import API, sqs_event
from tests.control_plane.resources import BUS, REGION
from tests.runtime.lambda_context import FakeLambdaContext

LINES = 100_000
CONSUMERS = ("consumer-carol", "consumer-dave", "consumer-erin", "consumer-frank")
HOURS = 3
#: Lines per CloudWatch Logs delivery, and SQS messages per aggregator batch (the construct's batch size).
DELIVERY = 500
BATCH = 100
GRACE = timedelta(hours=2)
FORECAST = "/forecast/{city_id}"
WEIGHTS = RouteWeights((WeightedRoute(FORECAST, ("GET",), 5),))
LOG_GROUP = "/aws/apigateway/weather-api-access"


@dataclass
class Tally:
    """Calls, units and billable units per (consumer, hour); the rejected calls per hour."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    units: Counter[tuple[str, str]] = field(default_factory=Counter)
    billable: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values()) + sum(self.rejected.values())


@dataclass(frozen=True)
class Line:
    id: str
    timestamp: int
    message: str


@dataclass
class Soak:
    """What one soak did and found: the lines made and what each stage took, what was counted, what differs."""

    lines: int
    delivered_lines: int
    deliveries: int
    records: int
    record_deliveries: int
    seconds: dict[str, float]
    outcomes: Counter[str]
    made: Tally
    counted: Tally
    meter_events: int
    #: Each number that is not what the lines imply, one line each: empty when everything was counted exactly once.
    differences: list[str]

    def rate(self, stage: str) -> float:
        handed = self.delivered_lines if stage == "forwarder" else self.lines
        return handed / self.seconds[stage]


def access_lines(count: int, start: datetime, rng: random.Random) -> tuple[list[Line], Tally]:
    """``count`` distinct lines over :data:`HOURS` hours from ``start``, and what they add up to."""
    made = Tally()
    lines = []
    start_ms = int(start.timestamp() * 1000)
    for i in range(count):
        hour = rng.randrange(HOURS)
        epoch_ms = start_ms + hour * 3_600_000 + rng.randrange(3_600_000)
        path = FORECAST if rng.random() < 0.2 else "/{proxy+}"
        fields: dict[str, object] = {
            "requestId": f"req-{i}",
            "requestTimeEpoch": epoch_ms,
            "apiId": "abc123",
            "stage": "prod",
            "httpMethod": "GET",
            "resourcePath": path,
            "responseLatency": 12,
            "integrationLatency": 9,
            "responseLength": 240,
        }
        hour_start = hour_text(start + timedelta(hours=hour))
        if rng.random() < 0.1:  # no key or a wrong one: the authorizer's answer, nobody billed
            fields["status"] = rng.choice((401, 403))
            made.rejected[hour_start] += 1
        else:
            consumer = rng.randrange(len(CONSUMERS))
            status = 200 if rng.random() < 0.9 else 404
            fields.update(
                status=status,
                keyId=f"key_{CONSUMERS[consumer]}",
                plan="pro",
                authorizerDecision=f"decision-{consumer}-{hour}",
                authorizerLatency=3,
            )
            weight = WEIGHTS.weight_of("GET", path)
            who = (CONSUMERS[consumer], hour_start)
            made.calls[who] += 1
            made.units[who] += weight
            made.billable[who] += weight if status < 300 else 0
        lines.append(Line(f"{i:056d}", epoch_ms, render_access_log_line(fields)))
    return lines, made


def deliveries(lines: list[Line], account: str, rng: random.Random) -> list[dict[str, Any]]:
    """The lines as CloudWatch Logs subscription deliveries: shuffled, a line in a hundred twice in its delivery,
    one delivery in twenty (the first among them) delivered twice, and the deliveries in no particular order."""
    shuffled = lines[:]
    rng.shuffle(shuffled)
    batches = []
    for start in range(0, len(shuffled), DELIVERY):
        batch = shuffled[start : start + DELIVERY]
        batch += rng.sample(batch, len(batch) // 100)
        rng.shuffle(batch)
        batches.append(batch)
    batches += batches[::20]
    rng.shuffle(batches)
    return [
        log_subscription_event(
            LOG_GROUP,
            account,
            [{"eventId": line.id, "timestamp": line.timestamp, "message": line.message} for line in batch],
        )
        for batch in batches
    ]


def usage_queue() -> str:
    """The queue the control plane's usage rule fills from its bus, as the stack wires them; its URL."""
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="apid-usage")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = f'{{"source":["{USAGE_SOURCE}"],"detail-type":["{USAGE_DETAIL_TYPE}"]}}'
    events.put_rule(Name="usage", EventBusName=BUS, EventPattern=pattern)
    events.put_targets(Rule="usage", EventBusName=BUS, Targets=[{"Id": "usage", "Arn": arn}])
    return str(url)


def drained(queue_url: str) -> list[str]:
    """Every message body on the queue, taken off it."""
    sqs = boto3.client("sqs", region_name=REGION)
    bodies = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [message["Body"] for message in messages]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return bodies


def forward(delivered: list[dict[str, Any]], bus_arn: str, queue_url: str) -> tuple[float, list[str]]:
    """Seconds for the forwarder's handler to take every delivery, and the messages its records became on the usage
    queue. The queue is drained after each delivery, untimed, as the aggregator keeps it short: moto's queue checks
    every message it holds on each send."""
    context = FakeLambdaContext(function_name="usage-forwarder")
    variables = {"CONTROL_PLANE_BUS_ARN": bus_arn, "API_NAME": API, ROUTE_WEIGHTS_ENV: WEIGHTS.to_json()}
    usage_forwarder.events_client.cache_clear()
    level = usage_forwarder.logger.log_level
    usage_forwarder.logger.setLevel("WARNING")  # a line per delivery is the forwarder's log, not the bench's output
    seconds, bodies = 0.0, []
    try:
        with environment(variables):
            for event in delivered:
                started = time.perf_counter()
                usage_forwarder.handler(event, context)  # type: ignore[arg-type]
                seconds += time.perf_counter() - started
                bodies += drained(queue_url)
    finally:
        usage_forwarder.logger.setLevel(level)
    return seconds, bodies


def aggregate(market: BilledMarket, bodies: list[str], now: datetime, rng: random.Random) -> tuple[float, Counter[str]]:
    """Seconds for :func:`process_usage` to take the messages in SQS batches, shuffled, one in thirty
    twice, and one batch in twenty (the first among them) handed over again once applied (the aggregator died
    before SQS heard back);
    a message the batch names as failed is delivered again. The records' outcomes, ``retried`` among them."""
    queue = bodies + bodies[::30]
    rng.shuffle(queue)
    owners = KeyOwners()  # one warm aggregator: key owners looked up once
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    number = 0
    while queue:
        batch, queue = queue[:BATCH], queue[BATCH:]
        usage = UsageBatch(market.store, None, None, now, owners)
        failures = process_usage(sqs_event(*batch), usage)["batchItemFailures"]
        outcomes.update(usage.outcomes)
        failed = {failure["itemIdentifier"] for failure in failures}
        outcomes["retried"] += len(failed)
        queue += [body for i, body in enumerate(batch) if f"m{i}" in failed]
        if number % 20 == 0:
            queue += batch
        number += 1
    return time.perf_counter() - started, outcomes


def close(market: BilledMarket, at: datetime) -> tuple[float, int]:
    """Seconds for the closer's run at ``at`` (every hour past its grace closed and reported), then a second run
    that must find nothing left; the meter events the two sent."""
    started = time.perf_counter()
    first = close_and_report(market.store, market.billing, at, GRACE)
    seconds = time.perf_counter() - started
    again = close_and_report(market.store, market.billing, at, GRACE)
    return seconds, first.meter_events + again.meter_events


def counted(market: BilledMarket, hours: list[str]) -> Tally:
    """What the control plane holds: the counters' calls, units and billable units, and the rejected calls."""
    tally = Tally()
    for consumer in market.consumers:
        for hour in hours:
            key = counter_key(API, consumer, hour, "pro")
            item = market.store.get(key["pk"], key["sk"])
            if item is not None:
                if item["state"] != "reported":
                    tally.rejected[f"not reported: {consumer} {hour} ({item['state']})"] += 1
                for name in ("calls", "units", "billable"):
                    getattr(tally, name)[consumer, hour] += int(item[name])
    for item in market.store.query(unattributed_pk(API)):
        tally.rejected[item["period_start"]] += int(item["calls"])
    return tally


def reported(market: BilledMarket) -> Counter[tuple[str, int]]:
    """Stripe's meter events: billable units per (consumer, hour's last second)."""
    consumers = {customer["id"]: customer["metadata"]["apid_consumer"] for customer in market.stripe.customers()}
    events: Counter[tuple[str, int]] = Counter()
    for event in market.stripe.meter_events():
        events[consumers[event["payload"]["stripe_customer_id"]], int(event["timestamp"])] += int(
            event["payload"]["value"]
        )
    return events


def differences(made: Tally, found: Tally, sent: Counter[tuple[str, int]], hours: list[str]) -> list[str]:
    """Every number the control plane or Stripe holds that the lines do not imply."""
    wrong = [
        f"{name} of {consumer} in {hour}: {getattr(found, name)[consumer, hour]}, made {getattr(made, name)[consumer, hour]}"
        for name in ("calls", "units", "billable")
        for consumer, hour in sorted(set(getattr(made, name)) | set(getattr(found, name)))
        if getattr(found, name)[consumer, hour] != getattr(made, name)[consumer, hour]
    ]
    wrong += [
        f"rejected calls {hour}: {found.rejected[hour]}, made {made.rejected[hour]}"
        for hour in sorted(set(made.rejected) | set(found.rejected))
        if found.rejected[hour] != made.rejected[hour]
    ]
    ends = {hour: int((parse_hour(hour) + timedelta(hours=1)).timestamp()) - 1 for hour in hours}
    billed = Counter({(consumer, ends[hour]): units for (consumer, hour), units in made.billable.items() if units})
    if sent != billed:
        wrong.append(f"meter events in Stripe {dict(sent)}, made {dict(billed)}")
    return wrong


def soak(lines: int = LINES, seed: int = 23) -> Soak:
    """The whole pipeline over ``lines`` lines, in a fresh world (moto patched as the emulator patches it)."""
    _moto_as_the_emulator_patches_it()
    rng = random.Random(seed)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [hour_text(start + timedelta(hours=h)) for h in range(HOURS)]
    made_lines, made = access_lines(lines, start, rng)
    with environment({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}):
        account = DEFAULT_ACCOUNT_ID  # the account moto's EventBridge names as every event's sender
        with billed_market(CONSUMERS, account) as market:
            queue = usage_queue()
            delivered = deliveries(made_lines, account, rng)
            bus_arn = f"arn:aws:events:{REGION}:{account}:event-bus/{BUS}"
            forwarding, bodies = forward(delivered, bus_arn, queue)
            aggregating, outcomes = aggregate(market, bodies, start, rng)
            closing, meter_events = close(market, start + timedelta(hours=HOURS) + GRACE)
            found = counted(market, hours)
            sent = reported(market)
    return Soak(
        lines=lines,
        delivered_lines=sum(_lines_in(event) for event in delivered),
        deliveries=len(delivered),
        records=outcomes["applied"] + outcomes["anonymous"],
        record_deliveries=len(bodies),
        seconds={"forwarder": forwarding, "aggregator": aggregating, "closer": closing},
        outcomes=outcomes,
        made=made,
        counted=found,
        meter_events=meter_events,
        differences=differences(made, found, sent, hours),
    )


@functools.cache
def _moto_as_the_emulator_patches_it() -> None:
    """Transactions that copy only their items (as :mod:`bench.metering` has them), events to SQS naming their
    account (the aggregator checks it); once per process, as the emulator applies them."""
    transactions_snapshot_only_their_items()
    delivered_events_name_their_account()


def _lines_in(event: dict[str, Any]) -> int:
    return len(usage_forwarder.decode_log_lines(event))


def measure(lines: int = LINES) -> list[Figure]:
    found = soak(lines)
    exact = not found.differences
    outcomes = ", ".join(f"{name} {n:,}" for name, n in sorted(found.outcomes.items()))
    made, counted_ = found.made, found.counted
    note = (
        f"{found.lines:,} distinct lines (4 keys and the authorizer's rejections, 3 hours, a route of weight 5, "
        f"2xx and 4xx) as {found.deliveries} deliveries holding {found.delivered_lines:,} lines (lines twice in a "
        f"delivery, deliveries twice, all shuffled) -> {found.record_deliveries:,} usage records on the queue -> "
        f"SQS batches of {BATCH} with duplicates and redelivered batches ({outcomes}) -> "
        f"{found.meter_events} meter events. Counted: calls {counted_.total_calls:,} of {made.total_calls:,}, "
        f"units {sum(counted_.units.values()):,} of {sum(made.units.values()):,}, billable "
        f"{sum(counted_.billable.values()):,} of {sum(made.billable.values()):,}"
        + (f"; DIFFERENT: {'; '.join(found.differences)[:400]}" if not exact else "; every number exact")
    )
    stages = {
        "forwarder": "the usage forwarder's handler (decode, aggregate, PutEvents to moto's EventBridge, whose rule "
        "fills the usage queue); per line handed to it, duplicates included",
        "aggregator": "process_usage over SQS batches of 100 (parse, attribute, one transaction per counter, against "
        "moto in process); per distinct line counted",
        "closer": "close_and_report: every hour closed and reported to the Stripe fake as one meter event; per "
        "distinct line counted",
    }
    return [
        Figure(
            "metering soak: calls counted against access-log lines made",
            "calls",
            float(counted_.total_calls),
            float(made.total_calls),
            "lines made",
            "= 1x, units and billable exact",
            exact,
            note,
        ),
        *(
            Figure(
                f"metering soak: {stage}",
                "lines/s",
                found.rate(stage),
                None,
                "no peer",
                "measured (no target)",
                True,
                f"{found.seconds[stage]:.2f} s: {what}; moto, not AWS",
            )
            for stage, what in stages.items()
        ),
    ]


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else LINES)))
