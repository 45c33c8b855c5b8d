"""Control plane API under test: moto for AWS, and real RS256 tokens checked against a JWKS we serve.

The app verifies tokens exactly as in production (signature by key id from the
JWKS URL, issuer, client id, token use, expiry); the tests own the signing key, so
they can mint tokens for any user and group, and forge bad ones.
"""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from moto import mock_aws

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from tests.control_plane.marketplace import ALICE, BOB, Headers, link_account
from tests.control_plane.resources import BUS, REGION, TABLE, create_table, serving_json

USER_POOL_ID = "us-east-1_TestPool1"
APP_CLIENT_ID = "apid-cli-client"
KEY_ID = "test-signing-key"
CONTROL_PLANE_ACCOUNT = "111111111111"

Mint = Callable[..., str]


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """The public half of ``signing_key`` as a JWKS document on 127.0.0.1."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]}).encode()

    with serving_json(body) as url:
        yield f"{url}/{USER_POOL_ID}/.well-known/jwks.json"


@pytest.fixture(scope="session")
def mint(signing_key: rsa.RSAPrivateKey) -> Mint:
    """An access token as Cognito issues it; keyword arguments override claims."""

    def make(sub: str, *groups: str, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}",
            "sub": sub,
            "client_id": APP_CLIENT_ID,
            "token_use": "access",
            "username": sub,
            "iat": now,
            "exp": now + 3600,
            "jti": str(uuid.uuid4()),
            "cognito:groups": list(groups),
            **claims,
        }
        return jwt.encode(payload, key or signing_key, algorithm="RS256", headers={"kid": KEY_ID})

    return make


@pytest.fixture
def aws() -> Iterator[Callable[[str], Any]]:
    """A fresh emulated account per test: the table (with the store's indexes) and the bus."""
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name=REGION), TABLE)
        boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
        yield lambda service: boto3.client(service, region_name=REGION)


@pytest.fixture
def settings(jwks_url: str) -> ControlPlaneSettings:
    return ControlPlaneSettings(
        region=REGION,
        account_id=CONTROL_PLANE_ACCOUNT,
        table_name=TABLE,
        event_bus_name=BUS,
        user_pool_id=USER_POOL_ID,
        app_client_id=APP_CLIENT_ID,
        key_forwarding_role_arn="arn:aws:iam::111111111111:role/apid-key-forwarding",
        jwks_url=jwks_url,
    )


@pytest.fixture
def api(aws: Callable[[str], Any], settings: ControlPlaneSettings) -> TestClient:
    return TestClient(create_app(settings), raise_server_exceptions=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice(aws: Callable[[str], Any], mint: Mint) -> Headers:
    """Alice, a creator whose AWS account is linked (so she may publish)."""
    link_account(ALICE)
    return bearer(mint(ALICE, "creators"))


@pytest.fixture
def bob(aws: Callable[[str], Any], mint: Mint) -> Headers:
    """Bob, another creator whose AWS account is linked."""
    link_account(BOB)
    return bearer(mint(BOB, "creators"))


@pytest.fixture
def unlinked_alice(mint: Mint) -> Headers:
    """Alice, a creator who has linked no account yet (for the linking tests)."""
    return bearer(mint(ALICE, "creators"))


@pytest.fixture
def unlinked_bob(mint: Mint) -> Headers:
    """Bob, another creator who has linked no account yet."""
    return bearer(mint(BOB, "creators"))
