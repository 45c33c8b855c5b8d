"""Access tokens as Cognito issues them, minted with a key the tests own, and the JWKS that verifies them.

The control plane checks them exactly as in production, so the tests can sign in as any user
and group, and forge bad tokens.
"""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.control_plane.resources import APP_CLIENT_ID, REGION, USER_POOL_ID, serving_json

KEY_ID = "test-signing-key"

Mint = Callable[..., str]


def new_signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@contextmanager
def serving_jwks(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """The public half of ``signing_key`` as a JWKS document on 127.0.0.1; yields its URL."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]}).encode()

    with serving_json(body) as url:
        yield f"{url}/{USER_POOL_ID}/.well-known/jwks.json"


def minter(signing_key: rsa.RSAPrivateKey) -> Mint:
    """Makes an access token for ``sub`` in ``groups``; keyword arguments override claims, ``key`` the signer."""

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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
