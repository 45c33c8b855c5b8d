"""Measured traffic to metered usage: each constant applied once, totals that add and scale."""

import pytest

from api_direct.aws_costs import traffic
from api_direct.aws_costs.traffic import RuntimeProfile, Traffic

PROFILE = RuntimeProfile(region="us-east-1", architecture="x86_64", memory_mb=1024, authorizer_memory_mb=512)
SAMPLE = Traffic(
    calls=400,
    integration_ms=12_345,
    response_bytes=800_000,
    authorizer_invocations=7,
    authorizer_ms=140,
    log_bytes=210_000,
    active_seconds=120,
    records=3,
)


def test_usage_carries_each_measured_total_to_its_line() -> None:
    usage = traffic.usage(SAMPLE, PROFILE)
    assert (usage.requests, usage.billed_duration_ms, usage.response_bytes) == (400, 12_345, 800_000)
    assert (usage.memory_mb, usage.architecture) == (1024, "x86_64")
    assert (usage.authorizer_invocations, usage.authorizer_billed_duration_ms) == (7, 140)
    assert (usage.authorizer_memory_mb, usage.authorizer_architecture) == (512, "arm64")
    assert usage.key_table_read_units == 7
    assert usage.log_bytes == 210_000 + (400 + 7) * traffic.PLATFORM_LOG_BYTES_PER_INVOCATION
    assert usage.usage_events == 3
    # 120 seconds' first calls, then 5% of the 280 others (14).
    assert usage.traces == 120 + 14


@pytest.mark.parametrize(
    ("calls", "seconds", "expected"),
    [(0, 0, 0), (1, 1, 1), (100, 100, 100), (121, 100, 102), (1000, 1, 1 + 50), (5, 9, 5)],
)
def test_traces_follow_x_rays_default_rule(calls: int, seconds: int, expected: int) -> None:
    assert traffic.traces(Traffic(calls=calls, active_seconds=seconds)) == expected


def test_traffic_adds_field_by_field() -> None:
    total = SAMPLE + Traffic(calls=1, integration_ms=5, records=1)
    assert (total.calls, total.integration_ms, total.records, total.response_bytes) == (401, 12_350, 4, 800_000)


def test_scaling_keeps_the_shape_and_rounds_up() -> None:
    scaled = SAMPLE.scaled(1000)
    assert scaled.calls == 1000
    assert scaled.integration_ms == -(-12_345 * 1000 // 400)  # 30,862.5 rounds up
    assert scaled.records == 8  # 7.5 rounds up
    with pytest.raises(ValueError, match="no calls"):
        Traffic().scaled(10)


def test_the_assumed_traffic_is_per_1000_calls() -> None:
    assert traffic.ASSUMED_PER_1000.calls == 1000
