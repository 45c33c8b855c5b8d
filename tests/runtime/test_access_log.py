import json

import pytest

from api_direct.runtime.access_log import (
    ACCESS_LOG_FORMAT,
    AccessLogEntry,
    access_log_format_json,
    parse_access_log_line,
)
from api_direct.runtime.access_log import render_access_log_line as render
from tests.runtime.access_lines import access_line


def test_format_records_every_field_from_its_context_variable() -> None:
    assert ACCESS_LOG_FORMAT == {
        "requestId": "$context.requestId",
        "requestTimeEpoch": "$context.requestTimeEpoch",
        "apiId": "$context.apiId",
        "stage": "$context.stage",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "keyId": "$context.authorizer.keyId",
        "plan": "$context.authorizer.plan",
        "responseLength": "$context.responseLength",
        "authorizerDecision": "$context.authorizer.decision",
        "authorizerLatency": "$context.authorizer.integrationLatency",
    }


def test_template_is_one_line_of_json_with_every_variable() -> None:
    template = access_log_format_json()
    assert "\n" not in template
    assert json.loads(template) == ACCESS_LOG_FORMAT


def test_rendered_line_parses_back() -> None:
    line = access_line(
        "req-1",
        1_764_075_600_123,
        key_id="key-7",
        plan="pro",
        status=201,
        latency_ms=35,
        response_length=1234,
        decision="8d1c-authorizer-request",
        authorizer_latency_ms=18,
    )
    assert parse_access_log_line(line) == AccessLogEntry(
        request_id="req-1",
        request_time_epoch_ms=1_764_075_600_123,
        api_id="abc123",
        stage="prod",
        http_method="GET",
        resource_path="/items/{id}",
        status=201,
        response_latency_ms=35,
        integration_latency_ms=33,
        key_id="key-7",
        plan="pro",
        response_length=1234,
        authorizer_decision="8d1c-authorizer-request",
        authorizer_latency_ms=18,
    )


def test_a_line_with_dashes_for_every_optional_value_is_still_valid_and_counted() -> None:
    """A request the authorizer rejected: no integration, no authorizer context."""
    line = render({"requestId": "req-2", "requestTimeEpoch": 1_764_075_600_000, "status": 403})
    assert '"integrationLatency":"-"' in line
    entry = parse_access_log_line(line)
    assert entry is not None
    assert (entry.status, entry.key_id, entry.plan) == (403, "", "")
    assert entry.response_latency_ms is None
    assert entry.integration_latency_ms is None
    assert (entry.response_length, entry.authorizer_decision, entry.authorizer_latency_ms) == (None, "", None)
    assert entry.api_id == entry.stage == entry.http_method == entry.resource_path == ""


def test_empty_authorizer_values_read_as_empty() -> None:
    line = access_line("req-3", 1_764_075_600_000, key_id="", plan="", status=403)
    entry = parse_access_log_line(line)
    assert entry is not None and (entry.key_id, entry.plan) == ("", "")


def test_unquoted_numbers_and_missing_fields_are_accepted() -> None:
    fields = {"requestId": "r", "requestTimeEpoch": 1000, "status": 200, "responseLatency": 7}
    line = json.dumps(fields)
    entry = parse_access_log_line(line)
    assert entry is not None
    assert (entry.request_time_epoch_ms, entry.status, entry.response_latency_ms) == (1000, 200, 7)
    assert entry.integration_latency_ms is None
    assert entry.key_id == ""

    # A stage deployed before the format had the cost measures logs lines without them.
    assert (entry.response_length, entry.authorizer_decision, entry.authorizer_latency_ms) == (None, "", None)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "not json",
        "START RequestId: 1f0c Version: $LATEST",
        "[1, 2]",
        '"a string"',
        "{}",
        '{"requestId":"r","requestTimeEpoch":"1000"',
        '{"requestTimeEpoch":"1000","status":"200"}',
        '{"requestId":"-","requestTimeEpoch":"1000","status":"200"}',
        '{"requestId":"r","requestTimeEpoch":"-","status":"200"}',
        '{"requestId":"r","requestTimeEpoch":"1000","status":"-"}',
        '{"requestId":"r","requestTimeEpoch":"1000","status":"ok"}',
        '{"requestId":"r","requestTimeEpoch":"1000","status":true}',
        '{"requestId":"r","requestTimeEpoch":"-5","status":"200"}',
        '{"requestId":"r","requestTimeEpoch":1.5,"status":"200"}',
        '{"requestId":7,"requestTimeEpoch":"1000","status":"200"}',
    ],
)
def test_lines_that_are_not_our_entries_give_none(line: str) -> None:
    assert parse_access_log_line(line) is None


@pytest.mark.parametrize("latency", ["-", "", "fast", None, -1, "٣"])
@pytest.mark.parametrize("field", ["responseLatency", "responseLength", "authorizerLatency"])
def test_odd_numbers_read_as_none(field: str, latency: object) -> None:
    fields = {"requestId": "r", "requestTimeEpoch": "1", "status": "2", field: latency}
    entry = parse_access_log_line(json.dumps(fields))
    assert entry is not None
    assert (entry.response_latency_ms, entry.response_length, entry.authorizer_latency_ms) == (None, None, None)
