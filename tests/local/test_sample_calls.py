"""The calls apid sandbox and apid dev make to any app, read from its OpenAPI document.

Apps here are FastAPI apps, documents their ``openapi()``; each call is then sent
to the app itself (TestClient), so "the call works" means the app answers 2xx.
The properties: any value made from a schema validates against it (a pydantic type
round trip, and a small JSON Schema check of the generated subset), and the same
document always gives the same calls.
"""

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import pytest
from fastapi import Cookie, Depends, FastAPI, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter, create_model

from api_direct.local.sample_calls import (
    SampleCall,
    Unsupported,
    path_matches,
    pattern_sample,
    sample_calls,
    sample_value,
    unknown_path,
)
from api_direct.scaffold import render_templates

#: Integers a JSON API can carry: pydantic parses JSON integers as 64-bit, as most servers do.
JSON_INTEGERS = st.integers(-(2**63), 2**63 - 1)


def answers(app: FastAPI) -> dict[str, int]:
    """Each sample call of ``app``, sent to it: the status by operation."""
    client = TestClient(app)
    return {
        call.operation: client.request(
            call.method, call.target, headers=dict(call.headers), content=call.body
        ).status_code
        for call in sample_calls(app.openapi()).calls
    }


def test_the_scaffolds_operations_are_called_with_its_examples() -> None:
    namespace: dict[str, Any] = {}
    exec(render_templates("text-api")["main.py"], namespace)  # the scaffold's own template, as apid init writes it
    app = namespace["app"]
    found = sample_calls(app.openapi())
    assert [(call.operation, call.target, call.body) for call in found.calls] == [
        ("GET /hello/{who}", "/hello/world", b""),
        ("POST /stats", "/stats", b'{"text":"the quick brown fox jumps over the lazy dog"}'),
    ]
    assert found.calls[1].headers == (("content-type", "application/json"),)
    assert found.skipped == () and answers(app) == {"GET /hello/{who}": 200, "POST /stats": 200}


def test_values_come_from_parameter_then_schema_examples_else_from_the_schema() -> None:
    app = FastAPI()

    class Address(BaseModel):
        city: str = Field(min_length=2, examples=["Oslo"])
        postcode: str = Field(pattern=r"^[0-9]{4}$")

    class Order(BaseModel):
        quantity: int = Field(ge=5, le=9, multiple_of=3)
        weight: float = Field(gt=0, lt=1)
        kind: Literal["parcel", "letter"]
        when: date
        at: datetime
        ref: UUID
        address: Address
        lines: list[Annotated[str, Field(min_length=3)]] = Field(min_length=2)
        note: str | None
        price: Decimal
        express: bool = False

    @app.post("/orders/{shop}")
    def order(
        shop: Annotated[str, Path(openapi_examples={"main": {"value": "north"}})],
        body: Order,
        limit: Annotated[int, Query(ge=10)],
        trace: Annotated[str, Header(pattern=r"^t-\d{3}$")],
        session: Annotated[str, Cookie()],
        optional: int = 3,
    ) -> dict[str, Any]:
        return {"shop": shop, "limit": limit, "trace": trace, "session": session, "order": body.model_dump(mode="json")}

    [call] = sample_calls(app.openapi()).calls
    assert (call.path, call.query) == ("/orders/north", "limit=10")
    assert dict(call.headers) == {"trace": "t-000", "cookie": "session=sample", "content-type": "application/json"}
    response = TestClient(app).post(call.target, headers=dict(call.headers), content=call.body)
    assert response.status_code == 200, response.text
    sent = response.json()["order"]
    assert sent["address"] == {"city": "Oslo", "postcode": "0000"} and sent["kind"] == "parcel"
    assert (sent["quantity"], sent["weight"], len(sent["lines"])) == (6, 0.5, 2)


def test_what_cannot_be_filled_is_skipped_with_the_reason() -> None:
    document = {
        "openapi": "3.1.0",
        "paths": {
            "/upload": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"multipart/form-data": {"schema": {"type": "object"}}},
                    }
                }
            },
            "/private": {"get": {"security": [{"HTTPBearer": []}]}},
            "/public": {"get": {"security": [{"HTTPBearer": []}, {}]}},
            "/items/{item_id}": {
                "put": {},
                "get": {
                    "parameters": [
                        {
                            "name": "item_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "(?=x)y"},
                        }
                    ]
                },
            },
            "/search": {
                "get": {
                    "parameters": [
                        {"name": "filter", "in": "query", "required": True, "content": {"application/json": {}}}
                    ]
                }
            },
        },
    }
    found = sample_calls(document)
    assert [call.operation for call in found.calls] == ["GET /public"]
    assert {skipped.operation: skipped.reason for skipped in found.skipped} == {
        "POST /upload": "request body only as multipart/form-data",
        "GET /private": "needs the app's own credentials: HTTPBearer",
        "PUT /items/{item_id}": "only GET and POST operations are called",
        "GET /items/{item_id}": "pattern '(?=x)y' is not simple enough to fill",
        "GET /search": "parameter 'filter' is described by content, not a schema",
    }


def test_an_app_security_dependency_skips_its_routes() -> None:
    app = FastAPI()

    @app.get("/me")
    def me(credentials: Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer())]) -> dict[str, str]:
        return {}

    [skipped] = sample_calls(app.openapi()).skipped
    assert skipped.reason == "needs the app's own credentials: HTTPBearer"


def test_the_unknown_route_is_one_no_path_of_the_app_matches() -> None:
    assert unknown_path(["/cities", "/current/{city_id}"]) == "/apid-sandbox-no-such-route"
    assert unknown_path(["/api/{name}", "/apid-sandbox-{thing}"]) == "/apid-sandbox/no/such/route"
    # A parameter may be a {name:path} one, which the document writes as {name}: it may match anything under it.
    assert unknown_path(["/{name}"]) is None
    assert path_matches("/files/{path}", "/files/a/b.txt") and not path_matches("/files/{path}", "/file/a")


def test_a_form_body_and_a_recursive_schema() -> None:
    document = {
        "openapi": "3.1.0",
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "required": ["next"],
                    "properties": {"next": {"anyOf": [{"$ref": "#/components/schemas/Node"}, {"type": "null"}]}},
                }
            }
        },
        "paths": {
            "/form": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "required": ["a", "b"],
                                    "properties": {
                                        "a": {"type": "integer"},
                                        "b": {"type": "array", "items": {"type": "string"}},
                                    },
                                }
                            }
                        },
                    }
                }
            },
            "/tree": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}},
                    }
                }
            },
        },
    }
    form, tree = sample_calls(document).calls
    assert (form.body, form.headers) == (b"a=1&b=sample", (("content-type", "application/x-www-form-urlencoded"),))
    depth, node = 0, json.loads(tree.body)
    while node is not None:
        depth, node = depth + 1, node["next"]
    assert 1 < depth < 20


def test_the_curl_line_makes_the_call() -> None:
    call = SampleCall(
        "POST /stats", "POST", "/stats", "q=a+b", (("content-type", "application/json"),), b'{"t":"it\'s"}'
    )
    assert call.curl("http://h/v1/", ("x-api-key", "K")) == (
        "curl -H 'x-api-key: K' -H 'content-type: application/json' --data-binary '{\"t\":\"it'\"'\"'s\"}' "
        "'http://h/v1/stats?q=a+b'"
    )
    assert SampleCall("GET /x", "GET", "/x").curl("http://h") == "curl http://h/x"
    assert SampleCall("POST /x", "POST", "/x").curl("http://h") == "curl -X POST http://h/x"


# Properties.

_patterns = st.sampled_from(
    [
        r"^[a-z]{2,5}$",
        r"^\d{4}-\d{2}$",
        r"^[A-Z][a-z_-]*$",
        r"ab+c?",
        r"^(foo|bar)-[0-9]+$",
        r"^[^/\s]{3}$",
        r"^x\.y$",
        r"^(?:ab){2,3}$",
        r"[a-f0-9]{8}",
    ]
)


@st.composite
def pydantic_types(draw: st.DrawFn, depth: int = 0) -> Any:
    """Annotated pydantic types with the constraints FastAPI apps use; models nest a little."""
    kinds = ["str", "int", "float", "bool", "literal", "date", "datetime", "uuid", "decimal"]
    if depth < 2:
        kinds += ["list", "optional", "model", "dict", "tuple"]
    kind = draw(st.sampled_from(kinds))
    if kind == "str":
        low = draw(st.integers(0, 20))
        high = draw(st.none() | st.integers(low, 40))
        pattern = draw(st.none() | _patterns)
        return Annotated[str, Field(min_length=low, max_length=high, pattern=pattern)]
    if kind == "int":
        low = draw(st.none() | st.integers(-1000, 1000))
        high = draw(st.none() | st.integers(low if low is not None else -1000, 1000))
        step = draw(st.none() | st.integers(1, 7))
        if step and low is not None and high is not None and high - low < step:
            step = None
        return Annotated[int, Field(ge=low, le=high, multiple_of=step)]
    if kind == "float":
        low = draw(st.none() | st.floats(-1e6, 1e6))
        high = draw(st.none() | st.floats(low + 1e-3 if low is not None else -1e6, 2e6))
        exclusive = draw(st.booleans())
        bounds = {"gt": low, "lt": high} if exclusive else {"ge": low, "le": high}
        return Annotated[float, Field(**bounds)]
    if kind == "bool":
        return bool
    if kind == "literal":
        return Literal[
            tuple(draw(st.lists(st.text(min_size=1, max_size=5) | JSON_INTEGERS, min_size=1, max_size=3, unique=True)))
        ]
    if kind in ("date", "datetime", "uuid", "decimal"):
        return {"date": date, "datetime": datetime, "uuid": UUID, "decimal": Decimal}[kind]
    inner = draw(pydantic_types(depth + 1))
    if kind == "list":
        low = draw(st.integers(0, 3))
        return Annotated[list[inner], Field(min_length=low, max_length=draw(st.none() | st.integers(low, 5)))]  # type: ignore[valid-type]
    if kind == "optional":
        return inner | None
    if kind == "dict":
        return dict[str, inner]  # type: ignore[valid-type]
    if kind == "tuple":
        return tuple[inner, int]  # type: ignore[valid-type]
    fields = {f"f{i}": (draw(pydantic_types(depth + 1)), ...) for i in range(draw(st.integers(1, 3)))}
    return create_model(f"Model{depth}", **fields)  # type: ignore[call-overload]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pydantic_types())
def test_a_value_made_from_a_pydantic_schema_validates_against_the_type(kind: Any) -> None:
    adapter = TypeAdapter(kind)
    schema = adapter.json_schema(ref_template="#/$defs/{model}")
    try:
        value = sample_value(schema, schema)
    except Unsupported:
        return  # skipped with its reason, never a wrong value
    adapter.validate_json(json.dumps(value))


_leaf_schemas = st.one_of(
    st.builds(
        lambda low, extra: {"type": "integer", "minimum": low, "maximum": low + extra},
        st.integers(-100, 100),
        st.integers(0, 50),
    ),
    st.builds(lambda low: {"type": "number", "exclusiveMinimum": low}, st.floats(-1e3, 1e3)),
    st.builds(
        lambda low, extra: {"type": "string", "minLength": low, "maxLength": low + extra},
        st.integers(0, 10),
        st.integers(0, 10),
    ),
    st.builds(lambda values: {"enum": values}, st.lists(st.integers() | st.text(max_size=3), min_size=1, max_size=3)),
    st.just({"type": "boolean"}),
    st.just({"type": ["string", "null"]}),
    st.builds(lambda fmt: {"type": "string", "format": fmt}, st.sampled_from(["date", "date-time", "uuid", "email"])),
)
_schemas = st.recursive(
    _leaf_schemas,
    lambda inner: st.one_of(
        st.builds(lambda items, low: {"type": "array", "items": items, "minItems": low}, inner, st.integers(0, 3)),
        st.builds(
            lambda props, data: {
                "type": "object",
                "properties": props,
                "required": data.draw(st.lists(st.sampled_from(sorted(props)), unique=True)),
            },
            st.dictionaries(st.text("abc", min_size=1, max_size=3), inner, min_size=1, max_size=3),
            st.data(),
        ),
        st.builds(lambda options: {"anyOf": options}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=8,
)


def valid(value: Any, schema: dict[str, Any]) -> bool:
    """A JSON Schema check of the subset ``_schemas`` generates."""
    if "anyOf" in schema:
        return any(valid(value, option) for option in schema["anyOf"])
    if "enum" in schema:
        return value in schema["enum"] and type(value) in {type(one) for one in schema["enum"]}
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    checks = {
        "null": lambda: value is None,
        "boolean": lambda: isinstance(value, bool),
        "integer": lambda: isinstance(value, int)
        and not isinstance(value, bool)
        and schema["minimum"] <= value <= schema["maximum"],
        "number": lambda: isinstance(value, int | float) and value > schema["exclusiveMinimum"],
        "string": lambda: isinstance(value, str)
        and schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value))
        and _format_ok(value, schema.get("format")),
        "array": lambda: isinstance(value, list)
        and len(value) >= schema["minItems"]
        and all(valid(item, schema["items"]) for item in value),
        "object": lambda: isinstance(value, dict)
        and set(schema["required"]) <= set(value)
        and all(
            valid(item, schema["properties"][name]) for name, item in value.items() if name in schema["properties"]
        ),
    }
    return any(checks[kind]() for kind in kinds)


def _format_ok(value: str, form: str | None) -> bool:
    if form == "date":
        return date.fromisoformat(value) is not None
    if form == "date-time":
        return datetime.fromisoformat(value) is not None
    if form == "uuid":
        return UUID(value) is not None
    if form == "email":
        return re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", value) is not None
    return True


@settings(max_examples=300, deadline=None)
@given(_schemas)
def test_a_value_made_from_a_json_schema_validates_against_it(schema: dict[str, Any]) -> None:
    try:
        value = sample_value(schema)
    except Unsupported:
        return
    assert valid(value, schema), (value, schema)
    assert sample_value(schema) == value  # deterministic


@settings(max_examples=100, deadline=None)
@given(_patterns, st.integers(0, 12), st.integers(0, 20))
def test_a_pattern_sample_matches_its_pattern_and_lengths(pattern: str, low: int, extra: int) -> None:
    try:
        value = pattern_sample(pattern, low, low + extra)
    except Unsupported:
        return
    assert re.search(pattern, value) and low <= len(value) <= low + extra


def test_the_same_document_gives_the_same_calls() -> None:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int, request: Request, q: Annotated[str, Query(min_length=4)]) -> dict[str, Any]:
        return {}

    document = app.openapi()
    assert sample_calls(document) == sample_calls(json.loads(json.dumps(document)))


@pytest.mark.parametrize("pattern", [r"\bword", r"(a)\1", r"[[:alpha:]]", "a{2,1}"])
def test_patterns_beyond_the_simple_are_unsupported(pattern: str) -> None:
    with pytest.raises(Unsupported):
        pattern_sample(pattern)
