"""LambdaAsgiHandler's request scope, from events shaped as live REST API events are: what uvicorn would build."""

import json
from typing import Any

from api_direct.runtime.asgi_lambda import LambdaAsgiHandler

HOST = "abc123.execute-api.us-east-1.amazonaws.com"


def answering(headers: list[tuple[bytes, bytes]], body: bytes, seen: list[dict[str, Any]] | None = None):
    """An ASGI app with an empty lifespan that answers every request alike and remembers its scope."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if seen is not None:
            seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def event(path: str, stage: str = "v1") -> dict[str, Any]:
    """A REST proxy event for ``GET /<stage><path>``, the path percent-encoded as the client sent it."""
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": "GET",
        "headers": {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"},
        "multiValueHeaders": {"Host": [HOST], "X-Forwarded-Proto": ["https"], "X-Forwarded-Port": ["443"]},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {"path": f"/{stage}{path}", "stage": stage, "resourcePath": "/{proxy+}",
                           "httpMethod": "GET", "identity": {"sourceIp": "203.0.113.7"}},
        "body": None, "isBase64Encoded": False,
    }


def handle(path: str) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []
    app = answering([(b"content-type", b"application/json")], json.dumps({"ok": True}).encode(), seen)
    handler = LambdaAsgiHandler(app)
    try:
        assert handler(event(path), None)["statusCode"] == 200
    finally:
        handler.close()
    return seen[0]


def test_an_encoded_path_keeps_the_stage_as_root_path() -> None:
    scope = handle("/cities/New%20York")
    assert scope["root_path"] == "/v1"
    assert scope["path"] == "/v1/cities/New York"


def test_raw_path_is_the_path_as_sent_stage_included_as_uvicorn_gives_it() -> None:
    assert handle("/cities/New%20York")["raw_path"] == b"/v1/cities/New%20York"


def test_an_encoded_percent_is_decoded_once() -> None:
    scope = handle("/cities/a%2541")
    assert scope["path"] == "/v1/cities/a%41"
    assert scope["raw_path"] == b"/v1/cities/a%2541"


def test_a_latin_1_response_header_is_passed_on_not_a_failed_invocation() -> None:
    """Starlette writes header values as latin-1 bytes (as uvicorn sends them); Mangum alone raised on them."""
    app = answering([(b"content-type", b"text/plain"), (b"x-city", "Zürich".encode("latin-1"))], b"ok")
    handler = LambdaAsgiHandler(app)
    try:
        result = handler(event("/"), None)
    finally:
        handler.close()
    assert result["statusCode"] == 200
    assert result["headers"]["x-city"] == "Zürich"
