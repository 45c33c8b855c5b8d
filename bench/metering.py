"""Metering throughput: usage records applied per second, our code alone and through moto_server.

    .venv/bin/python -m bench.metering [records]

In process, the storage is a stub that answers the listing, key and plan reads
from memory and commits every transaction, so what is timed is ours: the SQS batch
(Powertools' batch processor), :meth:`UsageEvent.parse`, :meth:`Meter.attribute`
with :func:`billable_calls`, and the transaction :meth:`Meter.apply` builds. Then
the real :func:`process_usage` against a moto server (:mod:`bench.aggregator`),
whose figure is mostly moto and botocore: the profile line, from the same run in
process with moto patched as the emulator patches it (this process's moto stays
patched afterwards), says how much.
"""

import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from api_direct.control_plane.api.store import api_pk
from api_direct.control_plane.billing.handlers import UsageBatch, process_usage
from api_direct.control_plane.billing.metering import Meter, UsageEvent
from bench import aggregator
from api_direct.local.emulator.dynamodb import transactions_snapshot_only_their_items
from bench.figures import Figure
from tests.control_plane.billing.usage import API, body, sqs_event, usage_event
from tests.control_plane.marketplace import CREATOR_ACCOUNT

IN_PROCESS_RECORDS = 50_000
MOTO_RECORDS = 3000
IN_PROCESS_TARGET = 50_000
MOTO_TARGET = 2_000


class StubTable:
    """The table calls :class:`Meter` makes directly: the key-by-id query, and the key's last use (a write that
    always succeeds here)."""

    def query(self, **_: Any) -> dict[str, Any]:
        return {"Items": [{"api_id": API, "consumer": "consumer-carol", "plan": "pro"}]}

    def update_item(self, **_: Any) -> dict[str, Any]:
        return {}


class StubStore:
    """A store whose reads come from memory and whose transactions all commit."""

    table = StubTable()

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        if (pk, sk) == (api_pk(API), "LISTING"):
            return {"api_id": API, "account_id": CREATOR_ACCOUNT}
        if (pk, sk) == (api_pk(API), "PLAN#pro"):
            return {"billable_statuses": ["2xx"]}
        return None

    def transact_conditionally(self, operations: Sequence[Mapping[str, Any]], answered: Collection[int]) -> list[str]:
        return []


def bodies(records: int) -> list[str]:
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H:00:00Z")
    return [body(usage_event(f"key_{i % 10:016x}", calls=5, hour=hour, record=f"bench-{i}")) for i in range(records)]


def apply_only(messages: list[str], store: Callable[[], StubStore] = StubStore) -> float:
    """Seconds for parse + :meth:`Meter.apply` of each message, one meter per 100 (as per batch)."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    for start in range(0, len(messages), aggregator.BATCH):
        meter = Meter(store())  # type: ignore[arg-type]
        for message in messages[start : start + aggregator.BATCH]:
            assert meter.apply(UsageEvent.parse(message), now) == "applied"
    return time.perf_counter() - started


def batches(messages: list[str]) -> float:
    """Seconds for :func:`process_usage` over SQS batches of 100 with the stub store."""
    events = [
        sqs_event(*messages[start : start + aggregator.BATCH]) for start in range(0, len(messages), aggregator.BATCH)
    ]
    started = time.perf_counter()
    for event in events:
        assert process_usage(event, UsageBatch(StubStore(), None, None, datetime.now(UTC))) == {"batchItemFailures": []}  # type: ignore[arg-type]
    return time.perf_counter() - started


def moto_profile(records: int) -> str:
    """Where the in-process run's time goes, as one line, with moto patched as the emulator patches it."""
    transactions_snapshot_only_their_items()
    profiler = cProfile.Profile()
    profiler.enable()
    aggregator.in_process(records)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats  # type: ignore[attr-defined]

    def cumulative(file_part: str, function: str) -> float:
        return max(
            (c for (path, _, name), (_, _, _, c, _) in stats.items() if name == function and file_part in path),
            default=0.0,
        )

    total = cumulative("bench/aggregator", "in_process")  # the table's set-up included: its calls are in the same sums
    moto = cumulative("moto/core/botocore_stubber", "__call__")
    calls = cumulative("botocore/client", "_make_api_call")
    shares = {
        "moto's DynamoDB (transactions, queries)": moto,
        "botocore (serialising, signing, parsing)": calls - moto,
        "the rest: ours (parse, attribute, group, build the transactions), Powertools, the bench": total - calls,
    }
    return f"profile of {records} records in process: " + ", ".join(
        f"{name} {share / total:.0%}" for name, share in shares.items()
    )


def best(timing: Callable[[], float], repeats: int = 3) -> float:
    return min(timing() for _ in range(repeats))


def measure(records: int = IN_PROCESS_RECORDS, moto_records: int = MOTO_RECORDS) -> list[Figure]:
    messages = bodies(records)
    apply_only(messages[:1000])  # warm-up: pydantic validators, regexes
    apply_rate = records / best(lambda: apply_only(messages))
    batch_rate = records / best(lambda: batches(messages))
    fresh, duplicates = aggregator.through_moto_server(moto_records)
    moto_rate, duplicate_rate = moto_records / fresh, moto_records / duplicates
    profile = moto_profile(200)
    return [
        Figure(
            "metering apply, in process (stub store)",
            "records/s",
            batch_rate,
            None,
            "no peer",
            f">= {IN_PROCESS_TARGET:,}/s",
            batch_rate >= IN_PROCESS_TARGET,
            f"process_usage over SQS batches of 100 (Powertools batch processor + parse + attribute + build the "
            f"transaction), storage stubbed; parse + Meter.apply alone {apply_rate:,.0f}/s; "
            f"best of 3, {records:,} records",
        ),
        Figure(
            "metering apply, real process_usage via moto_server",
            "records/s",
            moto_rate,
            None,
            "no peer",
            f">= {MOTO_TARGET:,}/s",
            moto_rate >= MOTO_TARGET,
            f"one TransactWriteItems per counter over HTTP (10 keys, so 10 per batch of 100), {moto_records} new "
            f"records ({duplicate_rate:,.0f}/s as duplicates); this measures moto, not DynamoDB; {profile}",
        ),
    ]


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else IN_PROCESS_RECORDS)))
