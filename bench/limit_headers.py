"""What the limit headers add to the request path: the authorizer's context and the adapter's headers.

    .venv/bin/python -m bench.limit_headers [calls]

Both halves run with and without the feature, interleaved in rounds so drift on a
shared machine hits both alike, and the figure is the difference of medians:

* the authorizer (a cache miss, the real handler against a moto key table) with
  ``PLAN_LIMITS`` set for a plan with a monthly quota, against the same handler
  with it unset. The keys are not bound to a usage plan, so no GetUsage runs: in
  AWS that read is one more API call per cache miss, a network round trip this
  machine cannot measure (moto answers it 404), and it is not counted here;
* the generated handler (examples/weather_api behind the adapter) fed an event
  whose authorizer context carries the limits, against one whose context does not.
"""

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto import mock_aws

from api_direct.runtime import key_store
from api_direct.runtime.api_keys import generate_key
from api_direct.runtime.authorizer import handler as authorizer
from api_direct.runtime.limit_headers import PLAN_LIMITS_ENV, PlanQuota, limits_context
from bench import adapter
from bench import authorizer as authorizer_bench
from bench.figures import Figure

CALLS = 2000
ROUNDS = 10
TARGET_MS = 0.1
PLAN_LIMITS = '{"pro": {"rate_limit": 10, "burst": 20, "monthly_quota": 100000}}'


def interleaved(with_it: Callable[[], Any], without: Callable[[], Any], calls: int) -> tuple[float, float]:
    """Median seconds per call of each, measured in alternating rounds."""
    with_samples: list[float] = []
    without_samples: list[float] = []
    for _ in range(ROUNDS):
        for call, samples in ((with_it, with_samples), (without, without_samples)):
            for _ in range(calls // ROUNDS):
                started = time.perf_counter()
                call()
                samples.append(time.perf_counter() - started)
    return statistics.median(with_samples), statistics.median(without_samples)


def authorizer_added(calls: int) -> tuple[float, float]:
    """Median ms of a cache miss with and without the limits in the context."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION=authorizer_bench.REGION,
        KEY_TABLE_NAME=authorizer_bench.KEY_TABLE,
        POWERTOOLS_SERVICE_NAME="apid-authorizer",
    )
    authorizer_bench.quiet_logs()
    keys = [generate_key() for _ in range(64)]
    context = authorizer_bench.Context()
    key_store.key_table_from_env.cache_clear()
    turn = iter(range(sys.maxsize))

    def call(limits: bool) -> dict[str, Any]:
        if limits:
            os.environ[PLAN_LIMITS_ENV] = PLAN_LIMITS
        else:
            os.environ.pop(PLAN_LIMITS_ENV, None)
        response = authorizer(authorizer_bench.event(keys[next(turn) % len(keys)]), context)
        assert ("rateLimitPolicy" in response["context"]) is limits
        return response

    with mock_aws():
        authorizer_bench.key_table(keys)
        call(False)  # the container's first call creates the boto3 resource
        with_it, without = interleaved(lambda: call(True), lambda: call(False), calls)
    key_store.key_table_from_env.cache_clear()
    os.environ.pop(PLAN_LIMITS_ENV, None)
    return with_it * 1000, without * 1000


def adapter_added(calls: int) -> tuple[float, float]:
    """Median ms of a request through the generated handler with and without limits in the context."""
    handler = adapter.generated_handler()
    plain = adapter.proxy_event(adapter.PATH)
    limits = limits_context(PlanQuota(10, 20, 100_000), 99_000, datetime.now(UTC))
    limited = {
        **plain,
        "requestContext": {
            **plain["requestContext"],
            "authorizer": {**plain["requestContext"]["authorizer"], **limits},
        },
    }
    context = adapter.Context()
    assert "RateLimit" in handler(limited, context)["headers"]
    assert "RateLimit" not in handler(plain, context)["headers"]
    with_it, without = interleaved(lambda: handler(limited, context), lambda: handler(plain, context), calls)
    return with_it * 1000, without * 1000


def measure(calls: int = CALLS) -> list[Figure]:
    figures = []
    for name, (with_it, without), note in (
        (
            "limit headers: added to an authorizer cache miss (median)",
            authorizer_added(calls),
            "PLAN_LIMITS set vs unset, moto key table; excludes the GetUsage round trip AWS adds per cache miss",
        ),
        (
            "limit headers: added to a request through the adapter (median)",
            adapter_added(calls),
            f"GET {adapter.PATH} on examples/weather_api, authorizer context with vs without the limits",
        ),
    ):
        added = with_it - without
        figures.append(
            Figure(
                name,
                "ms",
                added,
                None,
                "same path without the headers",
                f"<= {TARGET_MS:g} ms",
                added <= TARGET_MS,
                f"{calls} calls each, interleaved in {ROUNDS} rounds: with {with_it:.3f} ms, without {without:.3f} ms; "
                f"{note}",
            )
        )
    return figures


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else CALLS)))
