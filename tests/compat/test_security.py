"""Dependencies with yield, OAuth2 bearer and HTTP Basic, API keys in headers, CORS preflights, trusted hosts."""

import base64

from tests.compat.differential import (
    Case,
    Fleet,
    RecordProperty,
    assert_same_answer,
    case,
    each_case,
    form_call,
    get,
    sequence,
)

SHOP = "https://shop.example.com"


def basic(user: str, password: str) -> tuple[str, str]:
    return "Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def preflight(name: str, path: str, origin: str, method: str, headers: str) -> Case:
    return case(
        name,
        "OPTIONS",
        path,
        headers=[
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", headers),
        ],
    )


CASES: dict[str, list[Case]] = {
    "dependencies_yield": [
        sequence("cleanup-after-response", get("me", "/me", headers=[("X-User", "alice")]), get("journal", "/journal")),
        sequence("raised-in-dependency", get("anonymous", "/me"), get("journal", "/journal")),
        sequence("raised-in-endpoint", get("guarded", "/guarded"), get("journal", "/journal")),
        get("class-dependency", "/page", query="offset=20&limit=5"),
        get("class-dependency-invalid", "/page", query="limit=lots"),
    ],
    "oauth2_bearer": [
        form_call(
            "token",
            "/token",
            [("grant_type", "password"), ("username", "alice"), ("password", "wonderland"), ("scope", "read write")],
        ),
        form_call("token-wrong-password", "/token", [("username", "alice"), ("password", "nope")]),
        form_call("token-missing-fields", "/token", [("username", "alice")]),
        get("no-token", "/users/me"),
        get("bearer", "/users/me", headers=[("Authorization", "Bearer token-alice")]),
        get("bearer-invalid", "/users/me", headers=[("Authorization", "Bearer token-mallory")]),
        get("wrong-scheme", "/users/me", headers=[("Authorization", "Token token-alice")]),
        get("basic", "/basic", headers=[basic("bob", "builder")]),
        get("basic-wrong", "/basic", headers=[basic("bob", "wrong")]),
        get("basic-missing", "/basic"),
    ],
    "api_key_header": [
        get("missing", "/report"),
        get("unknown", "/report", headers=[("X-Creator-Token", "t-bronze")]),
        get("valid", "/report", headers=[("X-Creator-Token", "t-gold")]),
        get("lowercase-name", "/report", headers=[("x-creator-token", "t-silver")]),
        get("optional-absent", "/greeting"),
        get("optional-query", "/greeting", query="token=t-silver"),
        get("optional-header", "/greeting", headers=[("X-Creator-Token", "t-gold")]),
        get("metered-key", "/metered-key"),
    ],
    "cors": [
        preflight("preflight-api-key", "/items", SHOP, "GET", "x-api-key"),
        preflight("preflight-api-key-and-type", "/items", SHOP, "POST", "x-api-key, content-type"),
        preflight("preflight-disallowed-origin", "/items", "https://evil.example.net", "GET", "x-api-key"),
        preflight("preflight-disallowed-header", "/items", SHOP, "GET", "x-api-key, x-secret"),
        preflight("preflight-disallowed-method", "/items", SHOP, "PUT", "x-api-key"),
        get("simple-with-origin", "/items", headers=[("Origin", SHOP)]),
        get("simple-other-origin", "/items", headers=[("Origin", "https://evil.example.net")]),
        get("no-origin", "/items"),
        case(
            "post-with-origin",
            "POST",
            "/items",
            headers=[("Origin", "https://admin.example.com"), ("Cookie", "session=1")],
        ),
        case("options-without-preflight", "OPTIONS", "/items"),
    ],
    "trusted_host": [
        get("execute-api-host", "/"),
        get("scheme-and-port", "/only-https"),
    ],
}


@each_case(CASES)
def test_answers_as_uvicorn(running: Fleet, app: str, exchange: Case, record_property: RecordProperty) -> None:
    assert_same_answer(running[app], exchange, record_property)
