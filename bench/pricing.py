"""What each pricing shape costs on the request path, and in the usage forwarder, measured against a plain plan.

    .venv/bin/python -m bench.pricing [keys]

A call's path in AWS is API Gateway (usage-plan throttle and quota: no code of
ours), the authorizer on a cache miss (:func:`decide` over the key's record), and
the app's adapter. The shapes differ only in what the key's record holds:

* a subscription, a trial, a prepaid plan with credit left: an active record, nothing more;
* a used-up prepaid credit or a weighted quota reached: a cap on the record, so the
  authorizer allows the key with a message and the adapter answers 402 or 429
  (:func:`payment_required`) before the app runs;
* a weighted route: an API Gateway resource of its own and a method throttle (no
  code), and a weight lookup per log line in the usage forwarder.

Each figure is the shape's time over the plain subscription's, measured in the
same run: the request path adds no I/O for any shape (balances and units are kept
by the control plane, after the call), which the ratios show.
"""

import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from api_direct.control_plane.api.store import api_pk
from api_direct.runtime.access_log import render_access_log_line
from api_direct.runtime.api_keys import generate_key, hash_key
from api_direct.runtime.asgi_lambda import CAP_STATUS_CONTEXT, PAYMENT_REQUIRED_CONTEXT, payment_required
from api_direct.runtime.key_check import UNTIL_LIFTED, KeyRecord, decide
from api_direct.runtime.route_weights import RouteWeights, WeightedRoute
from api_direct.runtime.usage_records import LogLine, aggregate
from bench.figures import Figure
from bench.metering import StubStore, apply_only, best, bodies
from tests.control_plane.billing.usage import API

KEYS = 5000
LINES = 20_000
RECORDS = 20_000
#: What a shape may add to the plain path, as a ratio measured in one run (noise on a shared machine included).
TARGET_RATIO = 1.5
#: What a cap may add to the authorizer's decision: small beside the key table's GetItem it follows on a cache miss.
ADDED_TARGET_US = 50


def best_of(runs: int, work: Callable[[], Any]) -> float:
    """The fastest of ``runs`` timings of ``work``, in seconds: the least disturbed by other processes."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def key_records(shape: str, keys: list[str]) -> dict[str, KeyRecord]:
    """Key records as the key table holds them for one pricing shape."""
    month_end = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    made = {}
    for i, key in enumerate(keys):
        record = KeyRecord(hash_key(key), f"key_{i:016x}", "credits", "active", "", usage_id=f"u{i}")
        if shape == "credit used up":
            record = replace(record, credit_capped_until=UNTIL_LIFTED, cap_api="weather-api", buy_url="https://x/")
        elif shape == "weighted quota reached":
            record = replace(record, quota_capped_until=month_end, cap_api="weather-api")
        made[record.key_hash] = record
    return made


def decide_seconds(shape: str, keys: list[str]) -> float:
    by_hash = key_records(shape, keys)
    lookup = by_hash.get
    now = datetime.now(UTC)
    return best_of(5, lambda: [decide(key, lookup, now) for key in keys]) / len(keys)


def adapter_event(decision_context: dict[str, str]) -> dict[str, Any]:
    return {"requestContext": {"authorizer": decision_context}, "httpMethod": "GET", "path": "/"}


def log_lines(count: int) -> list[LogLine]:
    """Access-log lines over a weighted route and an unweighted one, alternately, within one hour; each key's
    authorizer decision cached for 300 of its calls, as a cache TTL of a few minutes keeps it."""
    start = int(datetime(2026, 12, 5, 10, tzinfo=UTC).timestamp() * 1000)
    lines = []
    for i in range(count):
        path = "/forecast/{city}" if i % 2 else "/{proxy+}"
        fields = {
            "requestId": f"r{i}",
            "requestTimeEpoch": start + i,
            "apiId": "abc123",
            "stage": "v1",
            "httpMethod": "GET",
            "resourcePath": path,
            "status": 200,
            "responseLatency": 12,
            "integrationLatency": 10,
            "keyId": f"key_{i % 50:016x}",
            "plan": "pro",
            "responseLength": 1800,
            "authorizerDecision": f"decision-{i % 50}-{i // 15_000}",
            "authorizerLatency": 20,
        }
        lines.append(LogLine(str(i), render_access_log_line(fields)))
    return lines


class PrepaidStubStore(StubStore):
    """The metering benchmark's stub store, its plan prepaid: each record's transaction debits the credit too."""

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        if (pk, sk) == (api_pk(API), "PLAN#pro"):
            return {"billable_statuses": ["2xx"], "prepaid": {"calls": 10000, "price": "8.00"}}
        return super().get(pk, sk)


def metering_figure(records: int) -> Figure:
    """Records applied per second on a prepaid plan against a subscription, in the same run (stub store)."""
    messages = bodies(records)
    apply_only(messages[:1000])  # warm-up: pydantic validators, regexes
    subscription = records / best(lambda: apply_only(messages))
    prepaid = records / best(lambda: apply_only(messages, PrepaidStubStore))
    return Figure(
        "metering apply on a prepaid plan (debit in the same transaction)",
        "records/s",
        prepaid,
        subscription,
        "a subscription's records",
        f">= {1 / TARGET_RATIO:.2f}x",
        prepaid / subscription >= 1 / TARGET_RATIO,
        f"parse + Meter.apply building each counter's transaction, storage stubbed, {records:,} records, best of 3; "
        "in DynamoDB the debit is one more item of a transaction already written (no extra request)",
    )


def measure(keys: int = KEYS, lines: int = LINES, records: int = RECORDS) -> list[Figure]:
    api_keys = [generate_key() for _ in range(keys)]
    plain = decide_seconds("plain", api_keys)
    figures = []
    for shape in ("credit used up", "weighted quota reached"):
        seconds = decide_seconds(shape, api_keys)
        figures.append(
            Figure(
                f"authorizer decide(), {shape} vs an active key",
                "µs",
                seconds * 1e6,
                plain * 1e6,
                "a subscription/trial/prepaid key with credit",
                f"adds <= {ADDED_TARGET_US} µs",
                (seconds - plain) * 1e6 <= ADDED_TARGET_US,
                f"in-memory lookup, {keys} keys, best of 5 (the cap's message is formatted per decision, then cached "
                "with it); a subscription, a trial and a prepaid plan with credit have the same record, so the "
                "same time",
            )
        )
    uncapped = adapter_event({"keyId": "key_1", "plan": "pro"})
    capped_decision = decide(api_keys[0], key_records("credit used up", api_keys).get)
    capped = adapter_event(
        {PAYMENT_REQUIRED_CONTEXT: capped_decision.payment_required or "", CAP_STATUS_CONTEXT: "402"}
    )
    rounds = 20_000
    every_call = best_of(5, lambda: [payment_required(uncapped) for _ in range(rounds)]) / rounds
    answer_402 = best_of(5, lambda: [payment_required(capped) for _ in range(rounds)]) / rounds
    figures.append(
        Figure(
            "adapter: cap check on every call / 402 answer for a capped key",
            "µs",
            every_call * 1e6,
            None,
            "no peer (the app does not run for a capped key)",
            "<= 5 µs per call",
            every_call * 1e6 <= 5,
            f"the 402 answer itself {answer_402 * 1e6:.1f} µs, instead of the app; best of 5 x {rounds}",
        )
    )
    sample = log_lines(lines)
    weights = RouteWeights((WeightedRoute("/forecast/{city}", (), 5),))
    unweighted = best_of(3, lambda: aggregate("weather-api", sample)) / lines
    weighted = best_of(3, lambda: aggregate("weather-api", sample, weights)) / lines
    figures.append(
        Figure(
            "usage forwarder aggregate(), per log line, one weighted route",
            "µs",
            weighted * 1e6,
            unweighted * 1e6,
            "no [[routes]]",
            f"<= {TARGET_RATIO:g}x",
            weighted / unweighted <= TARGET_RATIO,
            f"{lines:,} lines, half on the weighted route, best of 3; after the call, never on its path",
        )
    )
    figures.append(metering_figure(records))
    return figures


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else KEYS)))
