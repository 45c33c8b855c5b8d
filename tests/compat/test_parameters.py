"""Path, query, header and cookie parameters: what an app reads from a request, read alike on both sides."""

from tests.compat.differential import Case, Fleet, RecordProperty, assert_same_answer, case, each_case, get, sequence

CASES: dict[str, list[Case]] = {
    "path_params": [
        get("root", "/"),
        get("int", "/items/42"),
        get("int-invalid", "/items/forty-two"),
        get("encoded-space", "/cities/New%20York"),
        get("encoded-unicode", "/cities/Z%C3%BCrich"),
        get("encoded-slash", "/cities/a%2Fb"),
        get("encoded-twice", "/cities/a%2541"),
        get("enum", "/units/celsius"),
        get("enum-invalid", "/units/kelvin"),
        get("sub-path", "/files/reports/2026/summary.csv"),
        get("bounded-too-big", "/bounded/11"),
        get("fixed-before-param", "/users/me"),
        get("not-found", "/nowhere"),
    ],
    "query_params": [
        get("defaults", "/search"),
        get("typed", "/search", query="q=rain&page=2&size=20&exact=true"),
        get("plus-and-percent", "/search", query="q=light+rain%2C%20cold&exact=1"),
        get("bool-words", "/search", query="exact=yes"),
        get("out-of-bounds", "/search", query="size=500"),
        get("repeated-key", "/tags", query="tag=a&tag=b&tag=c"),
        get("repeated-none", "/tags"),
        get("repeated-ints", "/ids", query="id=1&id=2&id=39"),
        get("repeated-invalid", "/ids", query="id=1&id=two"),
        get("required-missing", "/ids"),
        get("alias", "/alias", query="item-query=abc"),
        get("alias-too-short", "/alias", query="item-query=a"),
        get("raw-pairs", "/raw", query="a=1&b=2&c=3"),
        get("blank-value", "/raw", query="a=&b=x"),
        get("unicode", "/search", query="q=%E6%9D%B1%E4%BA%AC"),
        get("interleaved-keys", "/raw", query="a=1&b=2&a=3"),
        get("no-equals", "/raw", query="flag&a=1"),
    ],
    "header_params": [
        get("standard", "/agent"),
        get("standard-set", "/agent", headers=[("User-Agent", "Mozilla/5.0 (compat)"), ("Accept", "application/json")]),
        get("underscores", "/custom", headers=[("X-Request-Id", "req-1"), ("X-Retries", "3")]),
        get("missing-required", "/custom"),
        get("invalid-int", "/custom", headers=[("X-Request-Id", "r"), ("X-Retries", "many")]),
        get("repeated", "/repeated", headers=[("X-Tag", "one"), ("X-Tag", "two"), ("X-Tag", "three")]),
        get("repeated-raw", "/raw/x-tag", headers=[("X-Tag", "a"), ("X-Tag", "b, c")]),
        get("comma-in-one", "/raw/x-list", headers=[("X-List", "a, b")]),
        get("forwarded", "/client"),
        get("case-insensitive", "/echo-header", headers=[("x-ECHO", "MiXeD")]),
        get("metered-key-seen", "/raw/x-api-key"),
        get("punctuation", "/echo-header", headers=[("X-Echo", 'a "quoted", value; with=equals')]),
    ],
    "cookie_params": [
        get("none", "/read"),
        get("one", "/read", headers=[("Cookie", "session=abc")]),
        get("several", "/read", headers=[("Cookie", "session=abc; theme=dark; other=1")]),
        get("all", "/all", headers=[("Cookie", 'b=2; a=1; quoted="x y"')]),
        get("two-cookie-headers", "/all", headers=[("Cookie", "a=1"), ("Cookie", "b=2")]),
        case("set-several", "POST", "/login"),
        case("delete", "POST", "/logout"),
        sequence(
            "login-then-read",
            case("login", "POST", "/login"),
            get("read", "/read", headers=[("Cookie", "session=s-123; theme=dark")]),
        ),
    ],
}


@each_case(CASES)
def test_answers_as_uvicorn(running: Fleet, app: str, exchange: Case, record_property: RecordProperty) -> None:
    assert_same_answer(running[app], exchange, record_property)
