"""How an app is put together: mounts, routers, the generated docs, URLs it builds, and every HTTP method."""

from tests.compat.differential import (
    Case,
    Fleet,
    RecordProperty,
    assert_same_answer,
    case,
    each_case,
    get,
    json_call,
    sequence,
)

CASES: dict[str, list[Case]] = {
    "mounted_apps": [
        get("main-root", "/"),
        get("fastapi-sub-app", "/v2/hello"),
        get("sub-app-docs", "/v2/docs"),
        get("sub-app-openapi", "/v2/openapi.json"),
        get("starlette-sub-app", "/legacy/ping"),
        get("raw-asgi", "/raw/some/where"),
        get("sub-app-not-found", "/v2/nothing"),
        get("main-plain", "/plain"),
    ],
    "routers": [
        get("prefix-empty-path", "/stations"),
        get("prefix-param", "/stations/zrh"),
        get("nested-with-dependency", "/stations/zrh/readings/latest", headers=[("X-Region", "eu")]),
        get("router-dependency-fails", "/stations/zrh/readings/latest"),
        case("include-prefix", "POST", "/internal/admin/reset"),
        get("openapi", "/openapi.json"),
    ],
    "docs_openapi": [
        get("docs", "/docs"),
        get("redoc", "/redoc"),
        get("openapi", "/openapi.json"),
        get("oauth2-redirect", "/docs/oauth2-redirect"),
        get("endpoint", "/forecast/Bern", query="days=3"),
        json_call("post", "POST", "/forecast", {"city": "Oslo", "high": 12.5, "low": 3}),
        case("head-openapi", "HEAD", "/openapi.json"),
    ],
    "url_paths": [
        get("item", "/items/7"),
        get("item-with-query", "/items/7", query="x=1&y=two"),
        get("links", "/links"),
        get("query-encoded", "/query", query="q=a%20b&r=c+d&s=%C3%A9"),
        get("query-plain", "/query", query="city=Oslo&days=3"),
        get("encoded-space", "/encoded/New%20York"),
        get("encoded-slash", "/encoded/a%2Fb"),
        get("encoded-percent", "/encoded/100%25"),
        get("encoded-twice", "/encoded/a%2541"),
        get("encoded-unicode", "/encoded/%CE%BB-%E4%B8%96%E7%95%8C"),
    ],
    "methods": [
        sequence(
            "put-then-get",
            case("put", "PUT", "/thing", body=b"a value", headers=[("Content-Type", "text/plain")]),
            get("get", "/thing"),
        ),
        case("head-of-get", "HEAD", "/thing"),
        case("patch", "PATCH", "/thing"),
        sequence("delete-then-get", case("delete", "DELETE", "/thing"), get("get", "/thing")),
        case("method-not-allowed", "POST", "/thing"),
        case("options-not-routed", "OPTIONS", "/thing"),
        case("any-post", "POST", "/any"),
        case("any-options", "OPTIONS", "/any"),
        case("any-head", "HEAD", "/any"),
        case("any-delete", "DELETE", "/any"),
        case("explicit-options", "OPTIONS", "/options"),
        case("head-only", "HEAD", "/head-only"),
        get("get-on-head-only", "/head-only"),
    ],
}


@each_case(CASES)
def test_answers_as_uvicorn(running: Fleet, app: str, exchange: Case, record_property: RecordProperty) -> None:
    assert_same_answer(running[app], exchange, record_property)
