"""The console's reading of OpenAPI documents FastAPI emits, in Chromium: parameters, bodies, requests, and code.

The documents are the compatibility apps' own (``app.openapi()``), differently
shaped: nested models by ``$ref``, path, query, header and array parameters, form
fields, and a recursive model. The console's script (``static/try_it.js``) runs in a
blank page, its pure functions called directly; the page itself is tested through
the sandbox (``test_consumer_journey.py``).
"""

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page
from pydantic import BaseModel

from api_direct.control_plane.web.rendering import STATIC_DIR
from tests.e2e.browser import chromium

APPS = Path(__file__).resolve().parents[1] / "compat" / "apps"
BASE = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1"
KEY = "apid_" + "k" * 43


def openapi_of(app_name: str) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(f"try_it_{app_name}", APPS / app_name / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.app.openapi())


class Node(BaseModel):
    name: str
    children: list["Node"]


def recursive_openapi() -> dict[str, Any]:
    app = FastAPI()

    @app.post("/trees")
    def plant(tree: Node) -> Node:
        return tree

    return app.openapi()


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with chromium() as browser:
        page = browser.new_page()
        page.set_content("<!doctype html><title>console functions</title>")
        page.add_script_tag(path=str(STATIC_DIR / "try_it.js"))
        yield page


def form(page: Page, document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """What the console fills in for an operation: each parameter's value, and the body."""
    return dict(
        page.evaluate(
            """([document, method, path]) => {
                const { operation, parameterValue, bodyOf } = window.apidTryIt;
                const op = operation(document, method, path);
                return {
                    op,
                    parameters: op.parameters.map((p) => [p.in, p.name, parameterValue(document, p) ?? null]),
                    body: bodyOf(document, op.requestBody),
                };
            }""",
            [document, method, path],
        )
    )


def call(page: Page, filled: dict[str, Any], values: list[str], body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request the console sends with ``values`` (and the body), and its code, made with a real key."""
    return dict(
        page.evaluate(
            """([base, op, values, key, body]) => {
                const { buildRequest, snippets } = window.apidTryIt;
                const request = buildRequest(base, op, values, key, body);
                const code = snippets(request);
                const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
                new AsyncFunction("process", code.javascript);  // compiles, never runs: a SyntaxError fails the test
                return { request, code };
            }""",
            [BASE, filled["op"], values, KEY, body if body is not None else filled["body"]],
        )
    )


def test_nested_models_by_ref_make_a_body_and_path_and_query_fill_the_url(page: Page) -> None:
    document = openapi_of("json_bodies")
    filled = form(page, document, "PUT", "/stations/{station_id}")
    assert filled["parameters"] == [["path", "station_id", 0], ["query", "notify", False]]
    body = json.loads(filled["body"]["text"])
    assert filled["body"]["type"] == "application/json" and filled["body"]["required"]
    assert body == {
        "name": "string",
        "location": {"lat": -90, "lon": -180},  # the schema's minimum where it has one
        "tags": [],  # its default
        "elevation_m": 0,
        "secret": "internal",  # its default
    }
    made = call(page, filled, ["7", "false"])
    request, code = made["request"], made["code"]
    assert request["url"] == f"{BASE}/stations/7?notify=false" and request["method"] == "PUT"
    assert request["headers"] == [["x-api-key", KEY], ["content-type", "application/json"]]
    assert json.loads(request["body"]) == body
    assert code["curl"].startswith(f"curl -X PUT '{BASE}/stations/7?notify=false' \\\n  -H \"x-api-key: $APID_KEY\"")
    assert "--data-raw '{" in code["curl"]
    compile(code["python"], "python snippet", "exec")
    assert 'os.environ["APID_KEY"]' in code["python"] and '"secret": "internal"' in code["python"]
    assert "process.env.APID_KEY" in code["javascript"]
    assert all(KEY not in snippet for snippet in code.values())  # the key is the one thing code never shows


def test_header_parameters_are_sent_as_headers(page: Page) -> None:
    filled = form(page, openapi_of("header_params"), "GET", "/custom")
    assert filled["parameters"] == [["header", "x-request-id", "string"], ["header", "x-retries", 0]]
    assert filled["body"] is None
    made = call(page, filled, ["abc-1", "3"])
    assert made["request"]["url"] == f"{BASE}/custom"
    assert made["request"]["headers"] == [["x-api-key", KEY], ["x-request-id", "abc-1"], ["x-retries", "3"]]
    assert "-H 'x-request-id: abc-1'" in made["code"]["curl"]


def test_an_array_query_parameter_repeats_its_key_and_an_empty_one_is_left_out(page: Page) -> None:
    document = openapi_of("query_params")
    made = call(page, form(page, document, "GET", "/ids"), ["1,2,3"])
    assert made["request"]["url"] == f"{BASE}/ids?id=1&id=2&id=3"
    search = form(page, document, "GET", "/search")
    assert [name for _, name, _ in search["parameters"]] == ["q", "page", "size", "exact"]
    assert call(page, search, ["", "2", "10", "false"])["request"]["url"] == f"{BASE}/search?page=2&size=10&exact=false"


def test_form_fields_are_sent_url_encoded(page: Page) -> None:
    filled = form(page, openapi_of("forms"), "POST", "/login")
    assert filled["body"]["type"] == "application/x-www-form-urlencoded"
    assert json.loads(filled["body"]["text"]) == {"username": "string", "password": "string", "remember": False}
    made = call(page, filled, [])
    assert made["request"]["form"] == {
        "multipart": False,
        "fields": [["username", "string"], ["password", "string"], ["remember", False]],
    }
    assert "--data-urlencode 'username=string'" in made["code"]["curl"]
    compile(made["code"]["python"], "python snippet", "exec")
    assert 'data={"username": "string"' in made["code"]["python"]


def test_a_recursive_model_ends(page: Page) -> None:
    filled = form(page, recursive_openapi(), "POST", "/trees")
    assert json.loads(filled["body"]["text"]) == {"name": "string", "children": [None]}  # a Node in a Node: left empty


def test_examples_win_over_skeletons(page: Page) -> None:
    document = {
        "openapi": "3.1.0",
        "paths": {
            "/items/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "example": 42}],
                "post": {
                    "parameters": [{"$ref": "#/components/parameters/Lang"}],
                    "requestBody": {
                        "content": {"application/json": {"examples": {"first": {"value": {"given": True}}}}}
                    },
                },
            }
        },
        "components": {
            "parameters": {"Lang": {"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["en", "de"]}}}
        },
    }
    filled = form(page, document, "POST", "/items/{id}")
    assert filled["parameters"] == [["path", "id", 42], ["query", "lang", "en"]]
    assert json.loads(filled["body"]["text"]) == {"given": True}
