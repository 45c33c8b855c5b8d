"""Aggregator throughput: usage records applied per second, in process (moto) and through moto_server.

    .venv/bin/python -m bench.aggregator [records]

Each record is a distinct ``UsageRecorded`` event in SQS batches of 100 (the
construct's batch size), from ten keys, applied by the real :func:`process_usage`
(one DynamoDB transaction per counter, so ten a batch, with key owners kept across
batches as a warm Lambda keeps them), then the same records again (all
duplicates: each transaction is refused, then nothing is left to write).
Numbers are for the emulator: they measure our code plus moto, not DynamoDB.
"""

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws

from api_direct.control_plane.api.store import PK, SK, Store, api_pk
from api_direct.control_plane.billing.handlers import UsageBatch, process_usage
from api_direct.control_plane.billing.metering import KeyOwners, key_id_index_pk
from tests.control_plane.billing.usage import API, body, sqs_event, usage_event
from tests.control_plane.marketplace import CREATOR_ACCOUNT
from tests.control_plane.resources import REGION, TABLE, create_table
from api_direct.local.emulator import running_moto_server

BATCH = 100


def world(resource: Any, client: Any) -> tuple[Store, list[str]]:
    create_table(client, TABLE)
    store = Store(resource.Table(TABLE))
    store.put({PK: api_pk(API), SK: "LISTING", "api_id": API, "creator": "c", "account_id": CREATOR_ACCOUNT})
    keys = [f"key_{i:016x}" for i in range(10)]
    for key_id in keys:
        store.put(
            {
                PK: f"KEY#{key_id}",
                SK: "KEY",
                "key_id": key_id,
                "consumer": f"consumer-{key_id}",
                "api_id": API,
                "plan": "pro",
                "status": "active",
                "gsi1pk": key_id_index_pk(key_id),
                "gsi1sk": "KEY",
            }
        )
    return store, keys


def run(store: Store, keys: list[str], records: int) -> tuple[float, float]:
    """Seconds to apply ``records`` new records, then the same again as duplicates."""
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H:00:00Z")
    events = [body(usage_event(keys[i % len(keys)], calls=5, hour=hour, record=f"bench-{i}")) for i in range(records)]
    timings = []
    owners = KeyOwners()  # one warm aggregator: key owners looked up once, as the handler keeps them
    for _ in range(2):
        started = time.perf_counter()
        for start in range(0, records, BATCH):
            batch = sqs_event(*events[start : start + BATCH])
            assert process_usage(batch, UsageBatch(store, None, None, datetime.now(UTC), owners)) == {
                "batchItemFailures": []
            }
        timings.append(time.perf_counter() - started)
    return timings[0], timings[1]


def in_process(records: int) -> tuple[float, float]:
    """:func:`run` against moto in this process (``mock_aws``)."""
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
    with mock_aws():
        store, keys = world(
            boto3.resource("dynamodb", region_name=REGION), boto3.client("dynamodb", region_name=REGION)
        )
        return run(store, keys, records)


def through_moto_server(records: int) -> tuple[float, float]:
    """:func:`run` against a moto server in a subprocess, over HTTP."""
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
    with running_moto_server() as endpoint:
        resource = boto3.resource("dynamodb", region_name=REGION, endpoint_url=endpoint)
        store, keys = world(resource, boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint))
        return run(store, keys, records)


def report(name: str, measure: Callable[[], tuple[float, float]], records: int) -> None:
    fresh, duplicates = measure()
    print(
        f"{name:<28} {records / fresh:>8.0f} records/s new   {records / duplicates:>8.0f} records/s duplicate"
        f"   ({records} records, {fresh:.2f} s + {duplicates:.2f} s)"
    )


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    report("in process (moto)", lambda: in_process(records), records)
    report("through moto_server (HTTP)", lambda: through_moto_server(records), records)


if __name__ == "__main__":
    main()
