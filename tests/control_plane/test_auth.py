"""Who may call the control plane: real Cognito-shaped RS256 tokens, checked like production.

``GET /accounts`` (creators only) is the protected target; each forged or misused
token must be refused with a problem document, and nothing leaks from a crash.
"""

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from tests.control_plane.tokens import KEY_ID, Mint, bearer
from tests.control_plane.resources import TABLE

PROTECTED = "/accounts"
PROBLEM_FIELDS = {"type", "title", "status", "detail"}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["detail"] and "\n" not in body["detail"]
    return body


def test_a_creator_gets_through(api: TestClient, mint: Mint) -> None:
    response = api.get(PROTECTED, headers=bearer(mint("creator-1", "creators")))

    assert response.status_code == 200
    assert response.json() == []


def test_no_authorization_header_is_401_with_a_bearer_challenge(api: TestClient) -> None:
    response = api.get(PROTECTED)

    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "apid login" in body["detail"]


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc", "Bearer not-a-jwt", "Bearer a.b.c"]
)
def test_malformed_authorization_header_is_401(api: TestClient, header: str) -> None:
    response = api.get(PROTECTED, headers={"Authorization": header})

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_signed_by_another_key_is_401(api: TestClient, mint: Mint) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    body = assert_problem(api.get(PROTECTED, headers=bearer(mint("creator-1", "creators", key=forger))), 401)
    assert "signature" in body["detail"].lower()


def test_unsigned_token_is_401(api: TestClient, mint: Mint) -> None:
    claims = jwt.decode(mint("creator-1", "creators"), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": KEY_ID})

    assert_problem(api.get(PROTECTED, headers=bearer(unsigned)), 401)


def test_expired_token_is_401(api: TestClient, mint: Mint) -> None:
    an_hour_ago = int(time.time()) - 3600
    token = mint("creator-1", "creators", iat=an_hour_ago - 3600, exp=an_hour_ago)

    body = assert_problem(api.get(PROTECTED, headers=bearer(token)), 401)
    assert "expired" in body["detail"]


def test_wrong_issuer_is_401(api: TestClient, mint: Mint) -> None:
    token = mint("creator-1", "creators", iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool")

    body = assert_problem(api.get(PROTECTED, headers=bearer(token)), 401)
    assert "issuer" in body["detail"].lower()


def test_token_for_another_app_client_is_401(api: TestClient, mint: Mint) -> None:
    token = mint("creator-1", "creators", client_id="someone-elses-client")

    assert_problem(api.get(PROTECTED, headers=bearer(token)), 401)


def test_id_token_is_401(api: TestClient, mint: Mint) -> None:
    token = mint("creator-1", "creators", token_use="id", aud="apid-cli-client")

    body = assert_problem(api.get(PROTECTED, headers=bearer(token)), 401)
    assert "not an access token" in body["detail"]


@pytest.mark.parametrize("groups", [("consumers",), ()], ids=["consumer", "no-group"])
def test_non_creator_on_a_creator_route_is_403(api: TestClient, mint: Mint, groups: tuple[str, ...]) -> None:
    body = assert_problem(api.get(PROTECTED, headers=bearer(mint("user-1", *groups))), 403)

    assert "creators" in body["detail"]


@pytest.mark.parametrize("path", ["/config", "/docs", "/openapi.json"])
def test_public_pages_need_no_token(api: TestClient, path: str) -> None:
    assert api.get(path).status_code == 200


def test_config_tells_a_client_how_to_sign_in(api: TestClient) -> None:
    config = api.get("/config").json()

    assert config["app_client_id"] == "apid-cli-client"
    assert config["user_pool_id"] == "us-east-1_TestPool1"


def test_unexpected_error_is_a_500_problem_that_leaks_nothing(
    api: TestClient, mint: Mint, aws: Any, caplog: pytest.LogCaptureFixture
) -> None:
    aws("dynamodb").delete_table(TableName=TABLE)

    with caplog.at_level("ERROR", logger="api_direct.control_plane"):
        response = api.get(PROTECTED, headers=bearer(mint("creator-1", "creators")))
    assert [r.getMessage() for r in caplog.records] == [f"unhandled error on GET {PROTECTED}"]  # for the operator

    body = assert_problem(response, 500)
    assert set(body) == PROBLEM_FIELDS
    for secret in (TABLE, "ResourceNotFound", "Traceback", "botocore", "dynamodb"):
        assert secret.lower() not in response.text.lower()
