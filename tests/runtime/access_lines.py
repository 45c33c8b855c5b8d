"""Access-log lines as API Gateway writes them, for tests that feed the parser or forwarder."""

from collections.abc import Mapping

from api_direct.runtime.access_log import ACCESS_LOG_FORMAT, access_log_format_json

MISSING = "-"


def render(fields: Mapping[str, object]) -> str:
    """The real template with each ``$context`` variable replaced as text, as API Gateway does.

    A field left out renders as ``-``, API Gateway's placeholder for "no value".
    Longer variable names go first so that none is replaced inside another.
    """
    line = access_log_format_json()
    for name, variable in sorted(ACCESS_LOG_FORMAT.items(), key=lambda item: -len(item[1])):
        line = line.replace(variable, str(fields.get(name, MISSING)))
    return line


def access_line(
    request_id: str,
    epoch_ms: int,
    key_id: str = "key-1",
    plan: str = "free",
    status: int = 200,
    latency_ms: int | None = 10,
    api_id: str = "abc123",
) -> str:
    """A line for one request; ``key_id=""`` is a request the authorizer rejected."""
    fields: dict[str, object] = {
        "requestId": request_id,
        "requestTimeEpoch": epoch_ms,
        "apiId": api_id,
        "stage": "prod",
        "httpMethod": "GET",
        "resourcePath": "/items/{id}",
        "status": status,
        "keyId": key_id,
        "plan": plan,
    }
    if latency_ms is not None:
        fields["responseLatency"] = latency_ms
        fields["integrationLatency"] = max(latency_ms - 2, 0)
    return render(fields)
