"""The app's adapter lets the marketplace's origin read a response, and leaves an app's own CORS alone."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api_direct.local.rest_proxy import HttpRequest, RestProxy
from api_direct.runtime.asgi_lambda import CORS_EXPOSE_HEADERS, CORS_ORIGIN_ENV, LambdaAsgiHandler
from tests.runtime.asgi_apps import answering

MARKETPLACE = "https://market.example.com"


def call(app: Any, *headers: tuple[str, str]) -> dict[str, Any]:
    handler = LambdaAsgiHandler(app)
    try:
        return handler(RestProxy(stage="v1").event(HttpRequest("GET", "/items", headers)), None)
    finally:
        handler.close()


def names(result: dict[str, Any]) -> dict[str, str]:
    """The result's headers by lowercase name (single values; the multi-value ones joined)."""
    merged = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        merged[name.lower()] = ", ".join(values)
    return merged


@pytest.fixture
def allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CORS_ORIGIN_ENV, MARKETPLACE)


def test_a_call_from_the_marketplace_may_be_read_with_its_limit_headers(allowed: None) -> None:
    headers = names(call(answering([(b"content-type", b"application/json")], b"{}"), ("Origin", MARKETPLACE)))
    assert headers["access-control-allow-origin"] == MARKETPLACE
    assert headers["access-control-expose-headers"] == ", ".join(CORS_EXPOSE_HEADERS)
    assert {"ratelimit-policy", "ratelimit", "retry-after"} == {n.lower() for n in CORS_EXPOSE_HEADERS}
    assert headers["vary"] == "Origin"


def test_another_origin_gets_no_permission_but_learns_the_answer_varies(allowed: None) -> None:
    headers = names(call(answering([], b"{}"), ("Origin", "https://evil.example.org")))
    assert "access-control-allow-origin" not in headers and headers["vary"] == "Origin"


def test_an_app_s_own_vary_is_kept(allowed: None) -> None:
    headers = names(call(answering([(b"vary", b"Accept-Encoding")], b"{}"), ("Origin", MARKETPLACE)))
    assert headers["vary"] == "Accept-Encoding" and headers["access-control-allow-origin"] == MARKETPLACE


def test_an_app_with_its_own_cors_middleware_answers_for_itself(allowed: None) -> None:
    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=["https://shop.example.com"], expose_headers=["x-total-count"])
    app.get("/items")(lambda: [])
    shop = names(call(app, ("Origin", "https://shop.example.com")))
    assert shop["access-control-allow-origin"] == "https://shop.example.com"
    assert shop["access-control-expose-headers"] == "x-total-count"
    # Not listed by its middleware, the marketplace is still let in (its console), the app's exposed header kept.
    marketplace = names(call(app, ("Origin", MARKETPLACE)))
    assert marketplace["access-control-allow-origin"] == MARKETPLACE
    assert marketplace["access-control-expose-headers"] == f"x-total-count, {', '.join(CORS_EXPOSE_HEADERS)}"


def test_without_an_origin_configured_nothing_is_added(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CORS_ORIGIN_ENV, raising=False)
    headers = names(call(answering([], b"{}"), ("Origin", MARKETPLACE)))
    assert not {"access-control-allow-origin", "vary"} & set(headers)
