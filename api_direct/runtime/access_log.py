"""The access-log line of a creator's REST API, and its parser.

The construct configures the stage's access logging with
:func:`access_log_format_json`; the usage forwarder reads the lines back with
:func:`parse_access_log_line`. Keeping both here means the format and its reader
cannot drift apart.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass

AUTHORIZER_DECISION = "decision"
"""The authorizer context's entry naming the answer: the Lambda request id of the invocation that made it."""

ACCESS_LOG_FORMAT: dict[str, str] = {
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
    "authorizerDecision": f"$context.authorizer.{AUTHORIZER_DECISION}",
    "authorizerLatency": "$context.authorizer.integrationLatency",
}
"""Log field -> the API Gateway ``$context`` variable it records.

The last three are what the cost model needs (``aws_costs.traffic``): the response's
payload bytes, and which authorizer answer let the request through. The authorizer
puts its own Lambda request id in its context as :data:`AUTHORIZER_DECISION`; API Gateway caches the
whole answer, so every request answered from the cache logs the same id, and the
distinct ids are the authorizer's invocations. ``integrationLatency`` of the
authorizer is its function's time on the request that invoked it.
"""

_MISSING = "-"
"""What API Gateway writes for a variable that has no value in this request."""


def access_log_format_json() -> str:
    """The one-line JSON template to give API Gateway as the access-log format.

    Every value is quoted, numbers included. API Gateway substitutes variables as
    text and writes ``-`` for one without a value (``integrationLatency`` of a request
    the authorizer rejected, ``keyId`` when the authorizer raised): an unquoted
    ``-`` would make the whole line invalid JSON and the request would go uncounted.
    The parser turns the quoted numbers back into ints.
    """
    return json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":"))


def render_access_log_line(fields: Mapping[str, object]) -> str:
    """The line API Gateway writes for a request: each ``$context`` variable replaced as text.

    What ``apid dev`` and ``apid sandbox`` log in API Gateway's place, so their usage
    goes through the same parser and forwarder as the deployed API's. A field left
    out renders as ``-``, API Gateway's placeholder for "no value". Longer variable
    names go first so that none is replaced inside another.
    """
    line = access_log_format_json()
    for name, variable in sorted(ACCESS_LOG_FORMAT.items(), key=lambda item: -len(item[1])):
        line = line.replace(variable, str(fields.get(name, _MISSING)))
    return line


@dataclass(frozen=True)
class AccessLogEntry:
    """One request as the access log recorded it.

    ``key_id`` and ``plan`` are ``""`` when the authorizer did not allow the request;
    ``authorizer_decision`` is ``""`` when no authorizer answer applies (no key sent,
    a path no resource matches, a preflight). Latencies and the response length are
    ``None`` when API Gateway had none to report.
    """

    request_id: str
    request_time_epoch_ms: int
    api_id: str
    stage: str
    http_method: str
    resource_path: str
    status: int
    response_latency_ms: int | None
    integration_latency_ms: int | None
    key_id: str
    plan: str
    response_length: int | None
    authorizer_decision: str
    authorizer_latency_ms: int | None


def parse_access_log_line(line: str) -> AccessLogEntry | None:
    """The entry a line records, or ``None`` if it is not one of our access-log lines.

    A line counts as ours when it is a JSON object with a request id, a request time
    and a status: without those a request can be neither identified nor metered.
    Everything else is optional and tolerates ``-``, so that a partly filled line is
    still counted rather than dropped.
    """
    try:
        fields = json.loads(line)
    except ValueError:
        return None
    if not isinstance(fields, dict):
        return None
    request_id = _text(fields.get("requestId"))
    request_time = _number(fields.get("requestTimeEpoch"))
    status = _number(fields.get("status"))
    if not request_id or request_time is None or status is None:
        return None
    return AccessLogEntry(
        request_id=request_id,
        request_time_epoch_ms=request_time,
        api_id=_text(fields.get("apiId")),
        stage=_text(fields.get("stage")),
        http_method=_text(fields.get("httpMethod")),
        resource_path=_text(fields.get("resourcePath")),
        status=status,
        response_latency_ms=_number(fields.get("responseLatency")),
        integration_latency_ms=_number(fields.get("integrationLatency")),
        key_id=_text(fields.get("keyId")),
        plan=_text(fields.get("plan")),
        response_length=_number(fields.get("responseLength")),
        authorizer_decision=_text(fields.get("authorizerDecision")),
        authorizer_latency_ms=_number(fields.get("authorizerLatency")),
    )


def _text(value: object) -> str:
    """A string field, with API Gateway's ``-`` and anything not a string read as ``""``."""
    return value if isinstance(value, str) and value != _MISSING else ""


def _number(value: object) -> int | None:
    """A non-negative integer field, quoted or not; ``None`` for ``-``, missing or garbage."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None
