"""Middleware (GZip, the app's own) and error handling: compressed bytes as sent, errors shaped by handlers."""

import hashlib

from tests.compat.differential import Case, Fleet, RecordProperty, assert_same_answer, case, each_case, get

GZIP = [("Accept-Encoding", "gzip")]
IDENTITY = [("Accept-Encoding", "identity")]

CASES: dict[str, list[Case]] = {
    "gzip": [
        get("large-gzip", "/large", headers=GZIP),
        get("large-identity", "/large", headers=IDENTITY),
        get("large-gzip-deflate", "/large", headers=[("Accept-Encoding", "gzip, deflate, br")]),
        get("small-gzip", "/small", headers=GZIP),
        get("text-gzip", "/text", headers=GZIP),
        get("text-gzip-text-accept", "/text", headers=[*GZIP, ("Accept", "text/plain")]),
        get("stream-gzip", "/stream", headers=GZIP),
        get("stream-identity", "/stream", headers=IDENTITY),
        case("head-gzip", "HEAD", "/large", headers=GZIP),
    ],
    "exception_handlers": [
        get("custom-exception", "/quota/500"),
        get("no-exception", "/quota/5"),
        get("http-exception-reshaped", "/missing"),
        get("not-found-reshaped", "/no/such/route"),
        get("validation-reshaped", "/quota/many"),
        get("unhandled", "/crash"),
        get("unhandled-zero-division", "/divide", query="a=1&b=0"),
        case("method-not-allowed", "DELETE", "/missing"),
    ],
    "custom_middleware": [
        get("stamped", "/tenant"),
        get("state-from-middleware", "/tenant", headers=[("X-Tenant", "acme")]),
        get("not-found-stamped", "/nope"),
        case(
            "echo-body",
            "POST",
            "/echo",
            body="through two middlewares ✓".encode(),
            headers=[("Content-Type", "text/plain")],
        ),
    ],
    "large_payloads": [
        get("json-1mb", "/big-json"),
        get("json-1mb-gzip-accepted", "/big-json", headers=GZIP),
        case(
            "upload-3mb",
            "POST",
            "/upload",
            body=hashlib.sha256(b"up").digest() * 98304,
            headers=[("Content-Type", "application/octet-stream")],
        ),
        get("binary-2mb", "/big-binary"),
    ],
}


@each_case(CASES)
def test_answers_as_uvicorn(running: Fleet, app: str, exchange: Case, record_property: RecordProperty) -> None:
    assert_same_answer(running[app], exchange, record_property)
