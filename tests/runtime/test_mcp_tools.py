"""An OpenAPI document's operations as MCP tools, and each tool call as the request to its route.

Handwritten documents pin the rules (names, descriptions, schemas, what is skipped
and excluded); FastAPI's own ``openapi()`` documents (:mod:`tests.runtime.mcp_apps`)
show they hold for the documents creators' apps really have, and each request a tool
call becomes is sent to the app (TestClient), whose routes echo what they read.
"""

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from api_direct.local.agent_calls import arguments_of
from api_direct.local.sample_calls import SampleCall
from api_direct.runtime.mcp_tools import (
    Body,
    Parameter,
    Tool,
    ToolArgumentError,
    Toolset,
    excluded,
    route_call,
    tools_of,
)
from tests.runtime.mcp_apps import shop_app


def document(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": paths,
        **({"components": {"schemas": schemas}} if schemas else {}),
    }


def operation(operation_id: str | None = None, **fields: Any) -> dict[str, Any]:
    return {**({"operationId": operation_id} if operation_id else {}), "responses": {"200": {}}, **fields}


def parameter(name: str, where: str = "query", required: bool = False, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema or {"type": "string"}}


def json_body(schema: dict[str, Any], required: bool = True, media_type: str = "application/json") -> dict[str, Any]:
    return {"required": required, "content": {media_type: {"schema": schema}}}


def only_tool(toolset: Toolset) -> Tool:
    [tool] = toolset.tools
    return tool


def tool(path: str, method: str = "get", **fields: Any) -> Tool:
    return only_tool(tools_of(document({path: {method: operation("op", **fields)}})))


@pytest.fixture(scope="module")
def shop() -> Toolset:
    return tools_of(shop_app().openapi())


@pytest.fixture(scope="module")
def shop_client() -> TestClient:
    return TestClient(shop_app())


def named(toolset: Toolset, name: str) -> Tool:
    found = toolset.named(name)
    assert found is not None, [tool.name for tool in toolset.tools]
    return found


def sent(client: TestClient, tool: Tool, arguments: dict[str, Any]) -> Any:
    """What the app's route read from the request the tool call makes."""
    call = route_call(tool, arguments)
    response = client.request(call.method, call.target, headers=dict(call.headers), content=call.body)
    assert response.status_code == 200, response.text
    return response.json()


# Tools: one per operation, named and described as the document says


def test_one_tool_per_operation_in_the_documents_order() -> None:
    paths = {
        "/a": {"get": operation("list_a"), "post": operation("add_a")},
        "/b/{id}": {"delete": operation("drop_b", parameters=[parameter("id", "path", True)])},
    }
    toolset = tools_of(document(paths))
    assert [(t.name, t.route, t.method) for t in toolset.tools] == [
        ("list_a", "GET /a", "get"),
        ("add_a", "POST /a", "post"),
        ("drop_b", "DELETE /b/{id}", "delete"),
    ]
    assert toolset.skipped == ()
    assert toolset.named("add_a") is toolset.tools[1] and toolset.named("nope") is None


@pytest.mark.parametrize(
    ("operation_id", "expected"),
    [
        ("get weather/by city!", "get_weather_by_city_"),
        ("café.v2-x", "caf_.v2-x"),
        ("x" * 200, "x" * 128),
        (None, "get__items__id_"),
    ],
)
def test_names_fit_mcps_rule(operation_id: str | None, expected: str) -> None:
    paths = {"/items/{id}": {"get": operation(operation_id, parameters=[parameter("id", "path", True)])}}
    assert only_tool(tools_of(document(paths))).name == expected


def test_duplicate_names_are_made_unique_within_128() -> None:
    long = "y" * 128
    paths = {
        "/a": {"get": operation("op"), "post": operation("op"), "put": operation("op_2")},
        "/b": {"get": operation(long), "post": operation(long)},
    }
    names = [tool.name for tool in tools_of(document(paths)).tools]
    # get, put, post: an operation's own name taken by an earlier duplicate moves it on to the next number
    assert names == ["op", "op_2", "op_3", long, "y" * 126 + "_2"]
    assert all(len(name) <= 128 for name in names)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"summary": "Forecast", "description": "Daily highs.\n"}, "Forecast\n\nDaily highs."),
        ({"summary": "Same", "description": "Same"}, "Same"),
        ({"description": "Only this"}, "Only this"),
        ({}, "GET /f"),
    ],
)
def test_description_is_summary_and_description(fields: dict[str, Any], expected: str) -> None:
    assert tool("/f", **fields).description == expected


# Input schemas: parameters by name, the body as one property, components carried along


def test_parameters_by_name_with_their_schemas_and_descriptions() -> None:
    found = tool(
        "/items/{id}",
        parameters=[
            parameter("id", "path", type="integer"),
            {**parameter("q"), "description": "Search words"},
            parameter("x-trace", "header", required=True),
            parameter("session", "cookie"),
        ],
    )
    assert found.input_schema == {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "q": {"type": "string", "description": "Search words"},
            "x-trace": {"type": "string"},
            "session": {"type": "string"},
        },
        "required": ["id", "x-trace"],  # a path parameter is required whatever the document says
    }
    assert [(p.name, p.location, p.required) for p in found.parameters] == [
        ("id", "path", True),
        ("q", "query", False),
        ("x-trace", "header", True),
        ("session", "cookie", False),
    ]


def test_the_callers_key_and_http_headers_are_never_arguments() -> None:
    found = tool("/me", parameters=[parameter(name, "header") for name in ("X-API-Key", "Authorization", "x-ok")])
    assert list(found.input_schema["properties"]) == ["x-ok"]


def test_path_level_parameters_are_merged_and_an_operations_own_wins() -> None:
    item = {
        "parameters": [parameter("id", "path", True), {**parameter("lang"), "description": "shared"}],
        "get": operation("read", parameters=[{**parameter("lang"), "description": "own"}]),
        "delete": operation("drop"),
    }
    toolset = tools_of(document({"/items/{id}": item}))
    read, drop = toolset.tools
    assert read.input_schema["properties"]["lang"]["description"] == "own"
    assert list(read.input_schema["properties"]) == list(drop.input_schema["properties"]) == ["id", "lang"]


def test_body_is_one_property_named_body_or_request_body_when_a_parameter_has_that_name() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    plain = tool("/a", "post", requestBody={**json_body(schema), "description": "The thing"})
    assert plain.body == Body("body", "application/json", True)
    assert plain.input_schema["properties"]["body"] == {**schema, "description": "The thing"}
    assert plain.input_schema["required"] == ["body"]
    clash = tool("/a", "post", parameters=[parameter("body")], requestBody=json_body(schema, required=False))
    assert clash.body == Body("request_body", "application/json", False)
    assert list(clash.input_schema["properties"]) == ["body", "request_body"] and "required" not in clash.input_schema


def test_refs_become_defs_with_only_the_components_reached() -> None:
    schemas = {
        "Order": {
            "type": "object",
            "properties": {"lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}}},
        },
        "Line": {"type": "object", "properties": {"color": {"$ref": "#/components/schemas/Color"}}},
        "Color": {"enum": ["red", "green"]},
        "Unused": {"type": "integer"},
    }
    paths = {"/orders": {"post": operation("place", requestBody=json_body({"$ref": "#/components/schemas/Order"}))}}
    schema = only_tool(tools_of(document(paths, schemas))).input_schema
    assert schema["properties"]["body"] == {"$ref": "#/$defs/Order"}
    assert set(schema["$defs"]) == {"Order", "Line", "Color"}
    assert schema["$defs"]["Order"]["properties"]["lines"]["items"] == {"$ref": "#/$defs/Line"}
    assert "#/components/" not in json.dumps(schema)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"body": {"lines": [{"color": "red"}]}})
    assert not validator.is_valid({"body": {"lines": [{"color": "blue"}]}})


# What is left out, and why


@pytest.mark.parametrize(
    ("item", "why"),
    [
        (
            {"post": operation("up", requestBody=json_body({"type": "object"}, media_type="multipart/form-data"))},
            "its body is multipart/form-data, which a tool's JSON arguments cannot carry",
        ),
        (
            {"put": operation("raw", requestBody=json_body({}, media_type="application/octet-stream"))},
            "its body is application/octet-stream, which a tool's JSON arguments cannot carry",
        ),
        ({"get": operation("old", deprecated=True)}, "deprecated"),
        ({"get": operation("odd", parameters=[parameter("x", "body")])}, "parameter 'x' is in 'body'"),
        (
            {"get": operation("twice", parameters=[parameter("x", "query"), parameter("x", "header")])},
            "two parameters are named 'x'",
        ),
    ],
)
def test_operations_an_agent_cannot_call_are_skipped_with_the_reason(item: dict[str, Any], why: str) -> None:
    toolset = tools_of(document({"/x": item, "/ok": {"get": operation("ok")}}))
    assert [tool.name for tool in toolset.tools] == ["ok"]
    [skipped] = toolset.skipped
    assert skipped.route.endswith(" /x") and skipped.why == why


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("delete_*", True),
        ("delete", False),
        ("/admin/*", True),
        ("/admin", False),
        ("DELETE /admin/users/{id}", True),
        ("delete /admin/*", True),
        ("GET /admin/users/{id}", False),
        ("* /admin/*", False),  # the method is matched as written, never as a glob
    ],
)
def test_exclude_by_operation_id_path_or_method_and_path(pattern: str, expected: bool) -> None:
    assert excluded("DELETE /admin/users/{id}", "delete_user", [pattern]) is expected


def test_excluded_operations_are_skipped_and_named() -> None:
    paths = {
        "/admin/users": {"get": operation("list_users"), "post": operation("add_user")},
        "/public": {"get": operation("public")},
    }
    toolset = tools_of(document(paths), exclude=["POST /admin/*", "list_*"])
    assert [tool.name for tool in toolset.tools] == ["public"]
    assert {(s.route, s.why) for s in toolset.skipped} == {
        ("GET /admin/users", "excluded by [mcp] exclude"),
        ("POST /admin/users", "excluded by [mcp] exclude"),
    }


# Route calls: the request a tool call is


@pytest.mark.parametrize(
    ("value", "segment"),
    [("a b", "a%20b"), ("a/b", "a%2Fb"), ("café", "caf%C3%A9"), ("100%", "100%25"), ("?#&", "%3F%23%26"), (7, "7")],
)
def test_path_values_are_one_percent_encoded_segment(value: object, segment: str) -> None:
    call = route_call(tool("/items/{id}/parts", parameters=[parameter("id", "path")]), {"id": value})
    assert call.target == f"/items/{segment}/parts"


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_a_path_value_that_would_call_another_route_is_refused(value: str) -> None:
    with pytest.raises(ToolArgumentError) as error:
        route_call(tool("/items/{id}", parameters=[parameter("id", "path")]), {"id": value})
    assert str(error.value) == f"argument 'id' is {value!r}, which a path segment cannot be"


def test_query_lists_repeat_booleans_read_as_json_and_none_is_left_out() -> None:
    found = tool("/s", parameters=[parameter(n) for n in ("tag", "exact", "page", "missing", "filter")])
    call = route_call(
        found, {"tag": ["a b", "c&d"], "exact": True, "page": 2, "missing": None, "filter": {"k": [1, False]}}
    )
    assert call.method == "GET" and call.body is None and call.headers == ()
    assert call.target == "/s?tag=a+b&tag=c%26d&exact=true&page=2&filter=%7B%22k%22%3A%5B1%2Cfalse%5D%7D"


def test_header_and_cookie_parameters() -> None:
    found = tool(
        "/p",
        parameters=[
            parameter("x-locale", "header"),
            parameter("debug", "header"),
            parameter("s", "cookie"),
            parameter("t", "cookie"),
        ],
    )
    call = route_call(found, {"x-locale": "fr-CH", "debug": False, "s": "a b;c", "t": "k+/=%!"})
    # A cookie-octet is sent as it is (no server decodes a cookie); what a cookie cannot hold is percent-encoded.
    assert call.headers == (("x-locale", "fr-CH"), ("debug", "false"), ("cookie", "s=a%20b%3Bc; t=k+/=%!"))


@pytest.mark.parametrize("value", ["two\r\nx-admin: 1", "nul\x00", "snow ☃"])
def test_a_header_value_http_cannot_carry_is_refused(value: str) -> None:
    with pytest.raises(ToolArgumentError, match="'x-h' holds characters a header cannot carry"):
        route_call(tool("/h", parameters=[parameter("x-h", "header")]), {"x-h": value})
    assert route_call(tool("/h", parameters=[parameter("x-h", "header")]), {"x-h": "Zürich\tok"}).headers


def test_json_and_form_bodies() -> None:
    schema = {"type": "object"}
    as_json = route_call(tool("/j", "post", requestBody=json_body(schema)), {"body": {"a": [1, "é"], "b": None}})
    assert as_json.method == "POST" and json.loads(as_json.body or b"") == {"a": [1, "é"], "b": None}
    assert as_json.headers == (("content-type", "application/json"),)
    form = tool("/f", "post", requestBody=json_body(schema, media_type="application/x-www-form-urlencoded"))
    as_form = route_call(form, {"body": {"user": "a b", "remember": True}})
    assert as_form.body == b"user=a+b&remember=true"
    assert as_form.headers == (("content-type", "application/x-www-form-urlencoded"),)
    with pytest.raises(ToolArgumentError, match="object of form fields"):
        route_call(form, {"body": ["user"]})
    optional = tool("/o", "post", requestBody=json_body(schema, required=False))
    assert route_call(optional, {}).body is None and route_call(optional, {}).headers == ()


@pytest.mark.parametrize(
    ("found", "arguments", "missing"),
    [
        (Tool("t", "", "get", "/i/{id}", {}, (Parameter("id", "path", True),)), {}, "'id'"),
        (Tool("t", "", "get", "/s", {}, (Parameter("q", "query", True),)), {"q": None}, "'q'"),
        (Tool("t", "", "get", "/h", {}, (Parameter("x-h", "header", True),)), {}, "'x-h'"),
        (Tool("t", "", "post", "/b", {}, (), Body("body", "application/json", True)), {}, "'body'"),
    ],
)
def test_a_missing_required_argument_is_one_line(found: Tool, arguments: dict[str, Any], missing: str) -> None:
    with pytest.raises(ToolArgumentError) as error:
        route_call(found, arguments)
    assert str(error.value) == f"missing required argument {missing}"


# FastAPI's own documents: the tools its apps get, and its routes reading the requests back


def test_a_fastapi_apps_tools_and_what_is_skipped(shop: Toolset) -> None:
    assert [(t.name, t.route) for t in shop.tools] == [
        ("read_item", "GET /shop/items/{item_id}"),
        ("delete_item", "DELETE /shop/items/{item_id}"),
        ("place_order", "POST /shop/orders"),
        ("log_in", "POST /shop/login"),
        ("read_prefs", "GET /shop/prefs"),
    ]
    assert {(s.route, s.why.split(",")[0]) for s in shop.skipped} == {
        ("POST /shop/uploads", "its body is multipart/form-data"),
        ("GET /shop/old", "deprecated"),
    }
    assert named(shop, "read_item").description == "One item\n\nIts price."


def test_fastapi_schemas_stand_alone_with_their_enums_and_nested_models(shop: Toolset) -> None:
    for found in shop.tools:
        Draft202012Validator.check_schema(found.input_schema)
        assert "#/components/" not in json.dumps(found.input_schema)
    order = named(shop, "place_order").input_schema
    assert set(order["$defs"]) == {"Order", "Line", "Address", "Color"}
    validator = Draft202012Validator(order)
    line = {"sku": "A1", "quantity": 2, "color": "green"}
    assert validator.is_valid({"body": {"lines": [line], "ship_to": {"street": "1 Rue", "city": "Lyon"}}})
    assert not validator.is_valid({"body": {"lines": [{**line, "quantity": 0}], "ship_to": {}}})
    assert not validator.is_valid({"body": {"lines": [{**line, "color": "blue"}], "ship_to": {}}})
    read = named(shop, "read_item").input_schema
    assert read["required"] == ["item_id"] and set(read["$defs"]) == {"Color"}
    assert "$defs" not in named(shop, "delete_item").input_schema


def test_fastapi_routes_read_path_query_lists_booleans_and_enums(shop: Toolset, shop_client: TestClient) -> None:
    # A "/" reaches no str path parameter of a Starlette app (it decodes %2F before routing), hence none here.
    arguments = {"item_id": "a b?ç", "color": "green", "verbose": True, "tag": ["x", "y z"], "limit": None}
    assert sent(shop_client, named(shop, "read_item"), arguments) == {**arguments, "limit": None}
    assert sent(shop_client, named(shop, "read_item"), {"item_id": "1", "verbose": False})["verbose"] is False


def test_fastapi_routes_read_json_and_form_bodies(shop: Toolset, shop_client: TestClient) -> None:
    order = {"lines": [{"sku": "A1", "quantity": 2, "color": "green"}], "ship_to": {"street": "1 Rue", "city": "Ys"}}
    assert sent(shop_client, named(shop, "place_order"), {"body": order, "dry_run": True}) == {
        "order": {**order, "note": None},
        "dry_run": True,
    }
    login = {"body": {"username": "ana maría", "password": "p&w=1"}}
    assert sent(shop_client, named(shop, "log_in"), login) == {"username": "ana maría", "password_length": "5"}


def test_fastapi_routes_read_headers_and_cookies(shop: Toolset, shop_client: TestClient) -> None:
    read_prefs = named(shop, "read_prefs")
    token = "dG9rZW4+/w=="
    assert sent(shop_client, read_prefs, {"x-locale": "de-AT", "session": token}) == {
        "locale": "de-AT",
        "session": token,
    }
    with pytest.raises(ToolArgumentError, match="'x-locale'"):
        route_call(read_prefs, {"session": "s"})


# The sandbox's agent: arguments_of is route_call's inverse

PATH_VALUES = st.text(min_size=1).filter(lambda value: value not in (".", ".."))


@given(
    item_id=PATH_VALUES, word=st.text(), tags=st.lists(st.text(), max_size=3), color=st.sampled_from(["red", "green"])
)
def test_arguments_of_gives_back_the_arguments_route_call_sent(
    item_id: str, word: str, tags: list[str], color: str
) -> None:
    paths = {
        "/items/{item_id}/{part}": {
            "get": operation(
                "read",
                parameters=[
                    parameter("item_id", "path", True),
                    parameter("part", "path", True, anyOf=[{"type": "string"}, {"type": "null"}]),
                    parameter("word", "query", True),
                    parameter("tag", "query", type="array", items={"type": "string"}),
                    parameter("color", "query", enum=["red", "green"]),
                ],
            )
        }
    }
    found = only_tool(tools_of(document(paths)))
    arguments = {"item_id": item_id, "part": item_id[::-1], "word": word, "tag": tags, "color": color}
    if not tags:
        del arguments["tag"]  # an empty list sends nothing, which reads back as no argument
    call = route_call(found, arguments)
    target = urlsplit(call.target)
    sample = SampleCall(found.route, call.method, target.path, target.query, call.headers, call.body or b"")
    assert arguments_of(found, sample) == arguments
