"""Control plane API under test: moto for AWS, and real RS256 tokens checked against a JWKS we serve.

The app verifies tokens exactly as in production (signature by key id from the
JWKS URL, issuer, client id, token use, expiry); the tests own the signing key, so
they can mint tokens for any user and group, and forge bad ones.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from tests.control_plane.marketplace import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    EventLog,
    Headers,
    creator_key_bus,
    link_account,
    published,
)
from tests.control_plane.resources import control_plane_settings, emulated_control_plane
from tests.control_plane.tokens import Mint, bearer, minter, new_signing_key, serving_jwks


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return new_signing_key()


@pytest.fixture(scope="session")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """The public half of ``signing_key`` as a JWKS document on 127.0.0.1."""
    with serving_jwks(signing_key) as url:
        yield url


@pytest.fixture(scope="session")
def mint(signing_key: rsa.RSAPrivateKey) -> Mint:
    """An access token as Cognito issues it; keyword arguments override claims."""
    return minter(signing_key)


@pytest.fixture
def aws() -> Iterator[Callable[[str], Any]]:
    """A fresh emulated account per test: the table (with the store's indexes) and the bus."""
    with emulated_control_plane() as client:
        yield client


@pytest.fixture
def settings(jwks_url: str) -> ControlPlaneSettings:
    return control_plane_settings(jwks_url)


@pytest.fixture
def api(aws: Callable[[str], Any], settings: ControlPlaneSettings) -> TestClient:
    return TestClient(create_app(settings), raise_server_exceptions=False)


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


@pytest.fixture
def carol(mint: Mint) -> Headers:
    """Carol, a consumer."""
    return bearer(mint(CAROL, "consumers"))


@pytest.fixture
def dave(mint: Mint) -> Headers:
    """Dave, another consumer."""
    return bearer(mint(DAVE, "consumers"))


@pytest.fixture
def listed(api: TestClient, mint: Mint) -> EventLog:
    """weather-api is published by Alice (plans free and pro); what reaches its account's key bus."""
    link_account(ALICE)
    published(api, bearer(mint(ALICE, "creators")))
    return creator_key_bus()
