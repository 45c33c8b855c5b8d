import base64
import gzip
import json
from collections.abc import Callable
from io import StringIO
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api_direct.runtime import usage_forwarder
from api_direct.runtime.access_log import parse_access_log_line
from api_direct.runtime.usage_forwarder import (
    LogLine,
    UsageDeliveryError,
    UsageRecord,
    aggregate,
    decode_log_lines,
    handler,
    put_records,
)
from api_direct.contracts import ROUTE_WEIGHTS_ENV
from api_direct.runtime.route_weights import RouteWeights, WeightedRoute
from api_direct.runtime.usage_records import period_start
from tests.runtime.access_lines import access_line
from tests.runtime.emulated_aws import REGION, Bus

HOUR_13 = 1_795_611_600_000  # 2026-11-25T13:00:00Z in epoch ms
HOUR_14 = HOUR_13 + 3_600_000


def delivery(lines: list[LogLine], message_type: str = "DATA_MESSAGE") -> dict[str, Any]:
    """A CloudWatch Logs subscription event: base64 of gzip of JSON."""
    data = {
        "messageType": message_type,
        "owner": "123456789012",
        "logGroup": "API-Gateway-Execution-Logs_abc123/prod",
        "logStream": "stream",
        "subscriptionFilters": ["usage"],
        "logEvents": [{"id": line.id, "timestamp": HOUR_13, "message": line.message} for line in lines],
    }
    compressed = gzip.compress(json.dumps(data).encode())
    return {"awslogs": {"data": base64.b64encode(compressed).decode()}}


def test_period_start_is_the_utc_hour_of_the_request() -> None:
    entry = parse_access_log_line(access_line("r", HOUR_13 + 3_599_999))
    assert entry is not None
    assert period_start(entry) == "2026-11-25T13:00:00Z"


def test_decoding_yields_ids_and_messages_in_order() -> None:
    lines = [LogLine("1", access_line("a", HOUR_13)), LogLine("2", "not an access log line")]
    assert decode_log_lines(delivery(lines)) == lines


def test_control_message_has_no_lines() -> None:
    control = delivery([LogLine("1", "CWL CONTROL MESSAGE")], "CONTROL_MESSAGE")
    assert decode_log_lines(control) == []


def test_aggregation_per_key_plan_and_hour() -> None:
    lines = [
        LogLine("1", access_line("a", HOUR_13 + 5, key_id="k1", status=200, latency_ms=10)),
        LogLine("2", access_line("b", HOUR_13 + 900, key_id="k1", status=404, latency_ms=4)),
        LogLine("3", access_line("c", HOUR_13 + 30, key_id="k1", status=503, latency_ms=None)),
        LogLine("4", access_line("d", HOUR_14, key_id="k1", status=302)),
        LogLine("5", access_line("e", HOUR_13 + 7, key_id="k2", plan="pro", status=201)),
        LogLine("6", access_line("f", HOUR_13 + 8, key_id="", plan="", status=403, latency_ms=1)),
        LogLine("7", access_line("g", HOUR_13 + 9, key_id="", plan="", status=401, latency_ms=2)),
        LogLine("8", "START RequestId: not ours"),
        LogLine("2", access_line("b", HOUR_13 + 900, key_id="k1", status=404, latency_ms=4)),
    ]
    records = {(r.key_id, r.plan, r.period_start): r for r in aggregate("weather", lines)}
    assert set(records) == {
        ("k1", "free", "2026-11-25T13:00:00Z"),
        ("k1", "free", "2026-11-25T14:00:00Z"),
        ("k2", "pro", "2026-11-25T13:00:00Z"),
        ("", "", "2026-11-25T13:00:00Z"),
    }
    k1 = records[("k1", "free", "2026-11-25T13:00:00Z")]
    assert (k1.api, k1.api_id, k1.calls) == ("weather", "abc123", 3)
    assert k1.status_counts == {"2xx": 1, "3xx": 0, "4xx": 1, "5xx": 1}
    assert k1.latency_ms_total == 14
    assert (k1.first_request_epoch_ms, k1.last_request_epoch_ms) == (HOUR_13 + 5, HOUR_13 + 900)
    assert records[("k1", "free", "2026-11-25T14:00:00Z")].status_counts["3xx"] == 1
    rejected = records[("", "", "2026-11-25T13:00:00Z")]
    assert (rejected.calls, rejected.status_counts["4xx"]) == (2, 2)
    assert len({record.record_id for record in records.values()}) == 4


def test_requests_to_the_mcp_endpoint_are_counted_under_no_key_never_billed() -> None:
    lines = [
        LogLine("1", access_line("a", HOUR_13 + 1, key_id="k1", plan="pro", resource_path="/mcp")),
        LogLine("2", access_line("b", HOUR_13 + 2, key_id="k1", plan="pro", resource_path="/mcp", status=429)),
        # The tool call that /mcp request made, or the app's own /mcp when the endpoint is off: the app's proxy
        # resource, billed to the key.
        LogLine("3", access_line("c", HOUR_13 + 3, key_id="k1", plan="pro", resource_path="/{proxy+}")),
        LogLine("5", access_line("e", HOUR_13 + 5, key_id="", plan="", status=403, resource_path="/mcp")),
    ]
    records = {(r.key_id, r.plan): r for r in aggregate("weather", lines)}
    assert set(records) == {("k1", "pro"), ("", "")}
    assert records[("k1", "pro")].calls == 1
    unbilled = records[("", "")]
    assert unbilled.calls == 3 and unbilled.status_counts == {"2xx": 1, "3xx": 0, "4xx": 2, "5xx": 0}


def test_a_record_totals_what_the_cost_model_reads() -> None:
    """Two decisions among four calls (the cache answered two), one a line from before the format had them."""
    measured = [
        access_line("a", HOUR_13 + 1_000, latency_ms=30, response_length=1000, decision="d1", authorizer_latency_ms=25),
        access_line("b", HOUR_13 + 1_500, latency_ms=12, response_length=200, decision="d1"),
        access_line("c", HOUR_13 + 2_999, latency_ms=10, response_length=0, decision="d1", authorizer_latency_ms=25),
        access_line("d", HOUR_13 + 9_000, latency_ms=None, decision="d2", authorizer_latency_ms=40),
        access_line("e", HOUR_13 + 9_001, latency_ms=22),
    ]
    lines = [LogLine(str(n), message) for n, message in enumerate(measured)]
    [record] = aggregate("weather", lines)
    assert (record.calls, record.response_bytes, record.integration_ms) == (5, 1200, 28 + 10 + 8 + 20)
    assert (record.authorizer_invocations, record.authorizer_ms) == (2, 25 + 40)
    assert record.log_bytes == sum(len(message.encode()) + 26 for message in measured)
    assert record.active_seconds == 3  # seconds 1 and 2 (twice), and 9 (twice)
    [anonymous] = aggregate("weather", [LogLine("9", access_line("f", HOUR_13, key_id="", plan="", status=401))])
    assert (anonymous.authorizer_invocations, anonymous.response_bytes, anonymous.active_seconds) == (0, 0, 1)


def test_log_bytes_count_a_line_in_utf_8() -> None:
    message = access_line("é", HOUR_13)
    [record] = aggregate("weather", [LogLine("1", message)])
    assert record.log_bytes == len(message) + 1 + 26


FORECAST_5 = RouteWeights((WeightedRoute("/forecast/{city}", ("GET",), 5), WeightedRoute("/health", (), 0)))


def test_units_are_the_weights_of_the_calls_per_status_class() -> None:
    lines = [
        LogLine("1", access_line("a", HOUR_13 + 1, resource_path="/forecast/{city}")),
        LogLine("2", access_line("b", HOUR_13 + 2, resource_path="/forecast/{city}", status=404)),
        LogLine("3", access_line("c", HOUR_13 + 3, resource_path="/{proxy+}")),
        LogLine("4", access_line("d", HOUR_13 + 4, resource_path="/health")),
    ]
    [record] = aggregate("weather", lines, FORECAST_5)
    assert record.status_counts == {"2xx": 3, "3xx": 0, "4xx": 1, "5xx": 0}
    assert record.units_by_status == {"2xx": 5 + 1 + 0, "3xx": 0, "4xx": 5, "5xx": 0}
    [unweighted] = aggregate("weather", lines)
    assert unweighted.units_by_status == unweighted.status_counts
    assert unweighted.record_id == record.record_id  # the lines, not the weights, name a record


def test_handler_counts_units_by_the_weights_in_its_environment(
    bus: Bus, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ROUTE_WEIGHTS_ENV, FORECAST_5.to_json())
    handler(delivery([LogLine("1", access_line("a", HOUR_13, resource_path="/forecast/{city}"))]), lambda_context)
    [event] = bus.received()
    assert (event["detail"]["calls"], event["detail"]["units_by_status"]["2xx"]) == (1, 5)


def test_record_id_covers_api_name_and_line_ids() -> None:
    lines = [LogLine("1", access_line("a", HOUR_13))]
    [weather] = aggregate("weather", lines)
    [other_api] = aggregate("news", lines)
    [other_line] = aggregate("weather", [LogLine("9", access_line("a", HOUR_13))])
    assert len({weather.record_id, other_api.record_id, other_line.record_id}) == 3
    assert weather.log_event_ids_digest == other_api.log_event_ids_digest


def test_handler_puts_records_on_the_control_plane_bus(bus: Bus, lambda_context: Any) -> None:
    lines = [
        LogLine("1", access_line("a", HOUR_13, key_id="k1")),
        LogLine("2", access_line("b", HOUR_13, key_id="k2", plan="pro")),
    ]
    handler(delivery(lines), lambda_context)
    received = bus.received()
    assert {(event["source"], event["detail-type"]) for event in received} == {("api-direct.usage", "UsageRecorded")}
    expected = [json.loads(record.detail()) for record in aggregate("weather", lines)]
    assert sorted((event["detail"] for event in received), key=lambda d: d["key_id"]) == expected


def test_more_than_ten_records_go_in_batches_of_ten(bus: Bus, lambda_context: Any) -> None:
    lines = [LogLine(str(n), access_line(f"r{n}", HOUR_13, key_id=f"k{n}")) for n in range(23)]
    calls: list[int] = []
    client = boto3.client("events", region_name=REGION)
    original = client.put_events

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Entries"]))
        return original(**kwargs)

    client.put_events = counting  # type: ignore[method-assign]
    put_records(client, bus.arn, aggregate("weather", lines))
    assert calls == [10, 10, 3]
    assert len(bus.received()) == 23


class RefusesFirst:
    """The moto events client, but the bus refuses one entry the first ``refusals`` times."""

    def __init__(self, refused_request_id: str, refusals: int) -> None:
        self._client = boto3.client("events", region_name=REGION)
        self._refused = refused_request_id
        self._refusals = refusals
        self.calls: list[int] = []

    def put_events(self, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.calls.append(len(Entries))
        refuse = self._refusals > 0
        results = []
        for entry in Entries:
            if refuse and self._refused in entry["Detail"]:
                self._refusals -= 1
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"})
            else:
                results.append(self._client.put_events(Entries=[entry])["Entries"][0])
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def test_refused_entries_are_retried_alone(bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usage_forwarder, "RETRY_DELAY_SECONDS", 0)
    lines = [LogLine(str(n), access_line(f"r{n}", HOUR_13, key_id=f"k{n}")) for n in range(3)]
    records = aggregate("weather", lines)
    client = RefusesFirst('"key_id":"k1"', refusals=2)
    put_records(client, bus.arn, records)  # type: ignore[arg-type]
    assert client.calls == [3, 1, 1]
    assert sorted(event["detail"]["key_id"] for event in bus.received()) == ["k0", "k1", "k2"]


def test_persistent_refusal_raises_after_the_last_attempt(bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usage_forwarder, "RETRY_DELAY_SECONDS", 0)
    records = aggregate("weather", [LogLine("1", access_line("r", HOUR_13, key_id="k1"))])
    client = RefusesFirst('"key_id":"k1"', refusals=99)
    expected = r"1 usage records .* 3 attempts \(ThrottlingException\)"
    with pytest.raises(UsageDeliveryError, match=expected):
        put_records(client, bus.arn, records)  # type: ignore[arg-type]
    assert client.calls == [1, 1, 1]


def test_logs_counts_and_nothing_from_the_lines(
    bus: Bus, lambda_context: Any, capture_logs: Callable[[Logger], StringIO]
) -> None:
    logs = capture_logs(usage_forwarder.logger)
    lines = [
        LogLine("1", access_line("req-secret-1", HOUR_13, key_id="consumer-7")),
        LogLine("2", access_line("req-secret-2", HOUR_13, key_id="consumer-7")),
        LogLine("3", "garbage"),
    ]
    handler(delivery(lines), lambda_context)
    [line] = [json.loads(text) for text in logs.getvalue().splitlines()]
    assert (line["log_events"], line["requests"], line["records"]) == (3, 2, 1)
    assert "consumer-7" not in logs.getvalue()
    assert "req-secret" not in logs.getvalue()


# --- determinism: the same log lines give the same records, however they arrive ---

_access_events = st.lists(
    st.tuples(
        st.sampled_from(["", "k1", "k2"]),
        st.sampled_from(["free", "pro"]),
        st.integers(min_value=0, max_value=3 * 3_600_000),
        st.sampled_from([200, 201, 304, 400, 403, 429, 500, 503]),
        st.one_of(st.none(), st.integers(min_value=0, max_value=30_000)),
    ),
    max_size=40,
)
"""(key id, plan, ms after 13:00, status, latency) of requests over a little more than 3 hours."""


# Pure functions: the autouse moto fixture is irrelevant to them, so its scope is too.
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _lines(events: list[tuple[str, str, int, int, int | None]]) -> list[LogLine]:
    """The events' lines, each key's authorizer decision cached for ten minutes and invoked in its latency."""
    return [
        LogLine(
            f"{37000000000000000000 + n}",
            access_line(
                f"req-{n}",
                HOUR_13 + offset,
                key,
                plan,
                status,
                latency,
                response_length=latency,
                decision=f"{key}-{offset // 600_000}" if key else None,
                authorizer_latency_ms=latency,
            ),
        )
        for n, (key, plan, offset, status, latency) in enumerate(events)
    ]


def _contents(records: list[UsageRecord]) -> list[str]:
    return sorted(record.detail() for record in records)


@PROPERTY_SETTINGS
@given(events=_access_events, data=st.data())
def test_records_do_not_depend_on_order_or_batching(events: list[Any], data: st.DataObject) -> None:
    lines = _lines(events)
    whole = aggregate("weather", lines)
    shuffled = data.draw(st.permutations(lines))
    batch_of_group: dict[tuple[str, str, str], int] = {}
    batches: dict[int, list[LogLine]] = {}
    for line in shuffled:
        entry = parse_access_log_line(line.message)
        assert entry is not None
        group = (entry.key_id, entry.plan, period_start(entry))
        if group not in batch_of_group:
            batch_of_group[group] = data.draw(st.integers(min_value=0, max_value=3))
        batches.setdefault(batch_of_group[group], []).append(line)
    rebatched = [record for batch in batches.values() for record in aggregate("weather", batch)]
    assert _contents(rebatched) == _contents(whole)
    assert sum(record.calls for record in whole) == len(lines)


@PROPERTY_SETTINGS
@given(events=_access_events.filter(bool), data=st.data())
def test_different_log_lines_give_different_ids(events: list[Any], data: st.DataObject) -> None:
    lines = _lines(events)
    whole = aggregate("weather", lines)
    assert len({record.record_id for record in whole}) == len(whole)
    dropped = lines[data.draw(st.integers(min_value=0, max_value=len(lines) - 1))]
    rest = [line for line in lines if line != dropped]
    fewer = {record.record_id for record in aggregate("weather", rest)}
    entry = parse_access_log_line(dropped.message)
    assert entry is not None
    [dropped_group] = [
        record
        for record in whole
        if (record.key_id, record.plan, record.period_start) == (entry.key_id, entry.plan, period_start(entry))
    ]
    assert dropped_group.record_id not in fewer
    assert {record.record_id for record in whole} - {dropped_group.record_id} <= fewer
