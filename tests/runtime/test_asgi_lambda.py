"""LambdaAsgiHandler's request scope, from events shaped as live REST API events are: what uvicorn would build."""

import json
from typing import Any

from api_direct.local.rest_proxy import HttpRequest, RestProxy
from api_direct.runtime.asgi_lambda import LambdaAsgiHandler
from tests.runtime.asgi_apps import answering, event


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


def lifespan_app(starts: list[str], fail_first: int = 0) -> Any:
    """A FastAPI app whose lifespan counts its runs, fails the first ``fail_first`` of them, and yields state."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        starts.append("start")
        if len(starts) <= fail_first:
            raise RuntimeError("database not reachable")
        yield {"model": f"loaded by start {len(starts)}"}

    app = FastAPI(lifespan=lifespan)

    @app.get("/model")
    def model(request: Request) -> dict[str, Any]:
        request.state.model += " (seen)"  # a copy per request: the next one must not see this
        return {"model": request.state.model, "starts": len(starts)}

    return app


def test_the_lifespan_runs_once_per_container_and_its_state_reaches_every_request() -> None:
    starts: list[str] = []
    handler = LambdaAsgiHandler(lifespan_app(starts))
    assert starts == ["start"]  # at import: Lambda's init phase, before the first request
    answers = [json.loads(handler(event("/model"), None)["body"]) for _ in range(3)]
    assert answers == [{"model": "loaded by start 1 (seen)", "starts": 1}] * 3


def test_a_failed_startup_is_logged_answers_500_json_and_is_tried_again(caplog: Any) -> None:
    starts: list[str] = []
    handler = LambdaAsgiHandler(lifespan_app(starts, fail_first=2))
    assert "database not reachable" in caplog.text and "Traceback" in caplog.text
    first = handler(event("/model"), None)
    assert first["statusCode"] == 500 and first["headers"]["content-type"] == "application/json"
    assert json.loads(first["body"])["message"].startswith("Internal server error")
    answer = handler(event("/model"), None)  # the third start succeeds, as a re-run Lambda init would
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["starts"] == 3


def custom_domain_event(path: str, base_path: str) -> dict[str, Any]:
    """A request to ``https://api.example.com<base_path><path>``: no stage in the URL, as on a custom domain."""
    request = HttpRequest("GET", path, (("Host", "api.example.com"),))
    return RestProxy(stage="v1", domain_name="api.example.com", base_path=base_path).event(request)


def test_a_custom_domain_without_a_base_path_gives_no_root_path() -> None:
    from fastapi import FastAPI, Request

    app = FastAPI()

    @app.get("/items/{item}")
    def item(item: int, request: Request) -> dict[str, str]:
        return {"self": str(request.url_for("item", item=item)), "root": request.scope["root_path"]}

    handler = LambdaAsgiHandler(app)
    bare = json.loads(handler(custom_domain_event("/items/7", ""), None)["body"])
    assert bare == {"self": "https://api.example.com/items/7", "root": ""}
    mapped = json.loads(handler(custom_domain_event("/items/7", "/weather"), None)["body"])
    assert mapped == {"self": "https://api.example.com/weather/items/7", "root": "/weather"}


def test_a_request_header_beyond_latin_1_reaches_the_app_as_utf_8() -> None:
    seen: list[dict[str, Any]] = []
    handler = LambdaAsgiHandler(answering([(b"content-type", b"text/plain")], b"ok", seen))
    request = event("/")
    request["multiValueHeaders"]["X-City"] = ["東京"]
    assert handler(request, None)["statusCode"] == 200
    assert (b"x-city", "東京".encode()) in [tuple(pair) for pair in seen[0]["headers"]]
