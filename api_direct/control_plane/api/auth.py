"""Who is calling: Cognito access tokens, verified against the user pool's JWKS.

API Gateway's Cognito authorizer already rejects bad tokens in the cloud; the app
verifies them again itself (signature, issuer, client, expiry, token use), so it is
safe wherever it runs (tests, the local sandbox) and has no "skip auth" switch.
Roles are the Cognito groups ``creators`` and ``consumers``.
"""

from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request

from api_direct.contracts import CONSUMERS, CREATORS
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.settings import ControlPlaneSettings


@dataclass(frozen=True)
class Principal:
    sub: str
    username: str
    groups: frozenset[str]

    @property
    def is_creator(self) -> bool:
        return CREATORS in self.groups

    @property
    def is_consumer(self) -> bool:
        return CONSUMERS in self.groups


class TokenVerifier:
    """Verifies Cognito access tokens; the JWKS is fetched once and cached by key id."""

    def __init__(self, settings: ControlPlaneSettings) -> None:
        self._settings = settings
        self._keys = jwt.PyJWKClient(settings.resolved_jwks_url, cache_keys=True, lifespan=3600, timeout=5)

    def verify(self, token: str) -> Principal:
        try:
            signing_key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256"],
                issuer=self._settings.issuer,
                options={"require": ["exp", "iss", "sub", "token_use"], "verify_aud": False},
                leeway=30,
            )
        except jwt.PyJWKClientConnectionError:
            raise Problem(503, "cannot fetch the identity provider's signing keys; retry shortly") from None
        except jwt.InvalidTokenError as error:
            raise Problem(401, f"invalid access token: {error}") from None
        # Cognito access tokens carry the app client in client_id (no aud claim).
        if claims.get("token_use") != "access" or claims.get("client_id") != self._settings.app_client_id:
            raise Problem(401, "invalid access token: not an access token issued to the API-Direct client")
        return Principal(
            sub=str(claims["sub"]),
            username=str(claims.get("username", claims["sub"])),
            groups=frozenset(claims.get("cognito:groups", [])),
        )


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "sign in first: send `Authorization: Bearer <access token>` (`apid login`)")
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.verify(token.strip())


def creator(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_creator:
        raise Problem(403, "only creators may do this; your account is not in the creators group")
    return principal


def consumer(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_consumer:
        raise Problem(403, "only consumers may do this; your account is not in the consumers group")
    return principal


AnyUser = Annotated[Principal, Depends(current_principal)]
Creator = Annotated[Principal, Depends(creator)]
Consumer = Annotated[Principal, Depends(consumer)]
