"""Access-log lines as API Gateway writes them, for tests that feed the parser or forwarder."""

from api_direct.runtime.access_log import render_access_log_line


def access_line(
    request_id: str,
    epoch_ms: int,
    key_id: str = "key-1",
    plan: str = "free",
    status: int = 200,
    latency_ms: int | None = 10,
    api_id: str = "abc123",
    resource_path: str = "/items/{id}",
    response_length: int | None = None,
    decision: str | None = None,
    authorizer_latency_ms: int | None = None,
) -> str:
    """A line for one request; ``key_id=""`` is a request the authorizer rejected. A measure left ``None`` is
    API Gateway's ``-``."""
    fields: dict[str, object] = {
        "requestId": request_id,
        "requestTimeEpoch": epoch_ms,
        "apiId": api_id,
        "stage": "prod",
        "httpMethod": "GET",
        "resourcePath": resource_path,
        "status": status,
        "keyId": key_id,
        "plan": plan,
    }
    if latency_ms is not None:
        fields["responseLatency"] = latency_ms
        fields["integrationLatency"] = max(latency_ms - 2, 0)
    measures = {
        "responseLength": response_length,
        "authorizerDecision": decision,
        "authorizerLatency": authorizer_latency_ms,
    }
    fields.update({name: value for name, value in measures.items() if value is not None})
    return render_access_log_line(fields)
