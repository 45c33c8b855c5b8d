"""Authorizer latency on a cache miss: the real handler against a moto key table, p50/p99.

    .venv/bin/python -m bench.authorizer [keys]

Each call is a REQUEST event with a distinct active key, so every call is what API
Gateway sends on a cache miss: one GetItem, one decision, one log line. The same
keys then go through :func:`decide` alone with an in-memory lookup, to show how
much of the handler's time is moto's and how much ours. There is no peer to run:
API Gateway's native API-key check costs no code, so the figure is absolute.
"""

import cProfile
import io
import logging
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws

from api_direct.runtime import key_store
from api_direct.runtime.api_keys import generate_key, hash_key
from api_direct.runtime.authorizer import decide, handler
from api_direct.runtime.key_store import KeyRecord, KeyTable
from bench.figures import Figure

REGION = "us-east-1"
KEY_TABLE = "apid-keys"
KEYS = 2000
TARGET_MS = 2.0
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/current/paris"


class Context:
    """The parts of a Lambda context Powertools' logger reads."""

    function_name = "apid-authorizer"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:apid-authorizer"
    memory_limit_in_mb = 128
    aws_request_id = "bench"


def event(api_key: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/{proxy+}",
        "path": "/current/paris",
        "httpMethod": "GET",
        "headers": {"x-api-key": api_key},
        "queryStringParameters": {},
        "pathParameters": {"proxy": "current/paris"},
        "stageVariables": {},
        "requestContext": {"requestId": "r", "stage": "prod", "apiId": "abc123", "accountId": "123456789012"},
    }


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of durations in seconds, in milliseconds."""
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def timed(calls: list[Callable[[], Any]]) -> list[float]:
    samples = []
    for call in calls:
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def key_table(keys: list[str]) -> KeyTable:
    table = boto3.resource("dynamodb", region_name=REGION).create_table(
        TableName=KEY_TABLE,
        KeySchema=[{"AttributeName": "key_hash", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key_hash", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    keys_table = KeyTable(table)
    at = datetime.now(UTC)
    for i, key in enumerate(keys):
        assert keys_table.record_plan(hash_key(key), f"key_{i:016x}", "pro", at)
    return keys_table


def profile_line(calls: list[Callable[[], Any]]) -> str:
    """Where the handler's time goes, as shares of the profiled total: one line for the note."""
    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:
        call()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    total = max(cumulative for (_, _, _, cumulative, _) in stats.values())
    shares = {}
    for label, (file_part, function) in PROFILED.items():
        shares[label] = (
            max(
                (
                    cumulative
                    for (path, _, name), (_, _, _, cumulative, _) in stats.items()
                    if name == function and file_part in path
                ),
                default=0.0,
            )
            / total
        )
    return ", ".join(f"{label} {share:.0%}" for label, share in shares.items())


#: What the profile line reports: label -> (a part of the file's path, function name).
PROFILED = {
    "boto3 GetItem incl. moto": ("botocore", "_make_api_call"),
    "of which moto's DynamoDB backend": ("moto/dynamodb", "get_item"),
    "Powertools logger.info": ("aws_lambda_powertools/logging", "info"),
    "policy_for": ("api_direct/runtime", "policy_for"),
}


def quiet_logs() -> None:
    """The authorizer's log lines formatted as in Lambda, not printed."""
    for log_handler in logging.getLogger("apid-authorizer").handlers:
        if isinstance(log_handler, logging.StreamHandler):
            log_handler.setStream(io.StringIO())


def measure(keys: int = KEYS) -> list[Figure]:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION=REGION,
        KEY_TABLE_NAME=KEY_TABLE,
        POWERTOOLS_SERVICE_NAME="apid-authorizer",
    )
    quiet_logs()
    api_keys = [generate_key() for _ in range(keys)]
    context = Context()
    key_store.key_table_from_env.cache_clear()
    with mock_aws():
        table = key_table(api_keys)
        calls = [lambda key=key: handler(event(key), context) for key in api_keys]  # type: ignore[misc]
        calls[0]()  # the container's first call creates the boto3 resource
        handler_p50, handler_p99 = percentiles(timed(calls))
        lookup_p50, lookup_p99 = percentiles(timed([lambda key=key: table.get(hash_key(key)) for key in api_keys]))  # type: ignore[misc]
        profile = profile_line(calls[:500])
    key_store.key_table_from_env.cache_clear()
    records = {
        hash_key(key): KeyRecord(hash_key(key), f"key_{i:016x}", "pro", "active", "") for i, key in enumerate(api_keys)
    }
    decide_p50, decide_p99 = percentiles(timed([lambda key=key: decide(key, records.get) for key in api_keys]))  # type: ignore[misc]
    ours = handler_p99 - lookup_p99
    return [
        Figure(
            "authorizer cache miss, handler p99 (moto table)",
            "ms",
            handler_p99,
            None,
            "API Gateway native API-key check (no code): no cost here",
            f"p99 <= {TARGET_MS:g} ms",
            handler_p99 <= TARGET_MS,
            f"{keys} distinct active keys; p50 {handler_p50:.2f} ms. KeyTable.get alone (moto GetItem) "
            f"p50 {lookup_p50:.2f} / p99 {lookup_p99:.2f} ms, so ours is ~{max(ours, 0):.2f} ms of the p99. "
            f"Profile (cumulative): {profile}",
        ),
        Figure(
            "authorizer decide() alone p99 (in-memory lookup)",
            "ms",
            decide_p99,
            None,
            "no peer",
            f"p99 <= {TARGET_MS:g} ms",
            decide_p99 <= TARGET_MS,
            f"p50 {decide_p50 * 1000:.1f} µs",
        ),
    ]


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else KEYS)))
