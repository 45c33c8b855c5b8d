"""RestProxy against what AWS documents and live REST API events show: paths as sent, headers dropped or remapped."""

import base64

import pytest

from api_direct.local.rest_proxy import HttpRequest, RestProxy, match_resource, path_parameters

PROXY = RestProxy(stage="v1", rest_api_id="abc123")


def test_paths_keep_the_percent_encoding_the_client_sent() -> None:
    """Live REST API events carry ``/capture/space%20value`` as sent; only HTTP APIs decode it."""
    event = PROXY.event(HttpRequest("GET", "/cities/New%20York/a%2541"))
    assert event["path"] == "/cities/New%20York/a%2541"
    assert event["pathParameters"] == {"proxy": "cities/New%20York/a%2541"}
    assert event["requestContext"]["path"] == "/v1/cities/New%20York/a%2541"


def test_query_values_arrive_decoded_and_grouped_by_name() -> None:
    event = PROXY.event(HttpRequest("GET", "/", query="a=x%2By&b=light+rain&a=2&empty="))
    assert event["multiValueQueryStringParameters"] == {"a": ["x+y", "2"], "b": ["light rain"], "empty": [""]}
    assert event["queryStringParameters"] == {"a": "2", "b": "light rain", "empty": ""}


def test_request_headers_api_gateway_drops_do_not_reach_the_function() -> None:
    headers = (
        ("Connection", "keep-alive"),
        ("Content-Length", "2"),
        ("Expect", "100-continue"),
        ("TE", "trailers"),
        ("X-Kept", "1"),
        ("X-Kept", "2"),
    )
    event = PROXY.event(HttpRequest("POST", "/", headers, body=b"{}"))
    sent = {name.lower() for name in event["multiValueHeaders"]}
    assert not sent & {"connection", "content-length", "expect", "te"}
    assert event["multiValueHeaders"]["X-Kept"] == ["1", "2"]
    assert event["headers"]["X-Kept"] == "2"
    assert {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"} <= sent


def test_remapped_response_headers_reach_the_client_renamed_with_their_values() -> None:
    request = HttpRequest("GET", "/")
    response = PROXY.response(
        request,
        {
            "statusCode": 401,
            "headers": {"content-type": "application/json", "www-authenticate": 'Bearer realm="api"', "x-app": "kept"},
            "body": "{}",
        },
    )
    assert response.header_values("x-amzn-Remapped-www-authenticate") == ['Bearer realm="api"']
    assert response.header("www-authenticate") is None
    assert response.header("x-app") == "kept"


def test_dropped_response_headers_do_not_reach_the_client() -> None:
    response = PROXY.response(
        HttpRequest("GET", "/"),
        {
            "statusCode": 200,
            "headers": {
                "content-type": "text/plain",
                "transfer-encoding": "chunked",
                "via": "1.1 app",
                "upgrade": "h2c",
            },
            "body": "x",
        },
    )
    assert [name for name, _ in response.headers] == ["content-type"]


def test_a_response_without_content_type_is_sent_as_json() -> None:
    response = PROXY.response(HttpRequest("GET", "/"), {"statusCode": 307, "headers": {"location": "/v1/new"}})
    assert response.header("content-type") == "application/json"
    assert response.body == b""


def test_binary_result_is_decoded_whatever_the_accept_header_with_star_star() -> None:
    result = {
        "statusCode": 200,
        "headers": {"content-type": "image/png"},
        "isBase64Encoded": True,
        "body": base64.b64encode(b"\x89PNG\xff").decode(),
    }
    for accept in ("image/png", "text/html", None):
        headers = (("Accept", accept),) if accept else ()
        assert PROXY.response(HttpRequest("GET", "/", headers), result).body == b"\x89PNG\xff"


RESOURCES = {"/", "/{proxy+}", "/forecast", "/forecast/today", "/forecast/{city}", "/forecast/{city}/{proxy+}", "/mcp"}


@pytest.mark.parametrize(
    ("path", "resource", "parameters"),
    [
        ("/", "/", None),
        ("/cities", "/{proxy+}", {"proxy": "cities"}),
        ("/cities/paris/now", "/{proxy+}", {"proxy": "cities/paris/now"}),
        ("/forecast", "/forecast", None),
        ("/forecast/today", "/forecast/today", None),  # a literal before a parameter
        ("/forecast/paris", "/forecast/{city}", {"city": "paris"}),
        ("/forecast/paris/a/b", "/forecast/{city}/{proxy+}", {"city": "paris", "proxy": "a/b"}),
        ("/forecast/today/x", None, None),  # matched /forecast/today; API Gateway does not back out to {city}
        ("/mcp/x", None, None),
    ],
)
def test_a_path_matches_a_resource_as_api_gateway_matches_it(
    path: str, resource: str | None, parameters: dict[str, str] | None
) -> None:
    assert match_resource(RESOURCES, path) == resource
    if resource is not None:
        assert path_parameters(resource, path) == parameters
