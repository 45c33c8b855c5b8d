"""Signing in to the control plane: Cognito's real flows (moto), a 0600 token cache, one-line errors."""

import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest
from moto import mock_aws

from api_direct.client import sign_in
from api_direct.client.http import ControlPlaneClient
from api_direct.errors import AccessError, InputError, StateError

REGION = "us-east-1"
PASSWORD = "Correct-Horse-9-Battery"


class _Responder(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, Any]]] = {}

    def _answer(self) -> None:
        status, body = self.routes.get(self.path, (404, {"detail": f"no route {self.path}"}))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status < 400 else "application/problem+json")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def control_plane() -> Iterator[tuple[str, dict[str, tuple[int, dict[str, Any]]]]]:
    """A loopback HTTP server answering canned JSON per path."""
    routes: dict[str, tuple[int, dict[str, Any]]] = {}
    handler = type("Handler", (_Responder,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", routes
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def pool(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, control_plane: tuple[str, dict[str, Any]]
) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(PoolName="apid")["UserPool"]["Id"]
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="cli",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool_id, Username="ada@example.com", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username="ada@example.com", Password=PASSWORD, Permanent=True
        )
        _, routes = control_plane
        routes["/config"] = (
            200,
            {
                "region": REGION,
                "user_pool_id": pool_id,
                "app_client_id": client_id,
                "account_id": "111111111111",
                "event_bus_arn": "arn:aws:events:us-east-1:111111111111:event-bus/apid-control-plane",
            },
        )
        yield {"pool_id": pool_id, "client_id": client_id}


def test_login_caches_tokens_owner_only(pool: dict[str, str], control_plane: tuple[str, Any]) -> None:
    url, _ = control_plane
    session = sign_in.login(url, "ada@example.com", PASSWORD, mfa_code=lambda: pytest.fail("no MFA expected"))
    path = sign_in.session_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sign_in.load_session() == session
    assert session.event_bus_arn.endswith(":event-bus/apid-control-plane")
    assert sign_in.access_token(session) == session.access_token  # still fresh: no refresh


def test_expiring_token_is_refreshed_and_saved(pool: dict[str, str], control_plane: tuple[str, Any]) -> None:
    url, _ = control_plane
    session = sign_in.login(url, "ada@example.com", PASSWORD, mfa_code=lambda: "")
    stale = sign_in.SignedIn(**{**session.__dict__, "expires_at": 0.0})
    sign_in.save_session(stale)
    token = sign_in.access_token(stale)
    assert token and sign_in.load_session().expires_at > 0  # type: ignore[union-attr]


def test_wrong_password_is_one_line_and_caches_nothing(pool: dict[str, str], control_plane: tuple[str, Any]) -> None:
    url, _ = control_plane
    with pytest.raises(AccessError, match="^sign-in failed: wrong username or password$"):
        sign_in.login(url, "ada@example.com", "not-the-password-1A", mfa_code=lambda: "")
    assert not sign_in.session_path().exists()


def test_logout_revokes_and_forgets_the_session(
    pool: dict[str, str], control_plane: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = control_plane
    session = sign_in.login(url, "ada@example.com", PASSWORD, mfa_code=lambda: "")
    revoked: list[dict[str, Any]] = []
    real = botocore.client.BaseClient._make_api_call

    def record_revoke(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "RevokeToken":  # moto does not implement it
            revoked.append(params)
            return {}
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record_revoke)
    assert sign_in.logout() is True
    assert revoked == [{"Token": session.refresh_token, "ClientId": pool["client_id"]}]
    assert sign_in.load_session() is None and sign_in.logout() is False
    with pytest.raises(StateError, match="apid login --control-plane"):
        sign_in.require_session()


@pytest.mark.parametrize(
    ("status", "error", "fragment"),
    [
        (401, AccessError, "run `apid login`"),
        (403, AccessError, "only creators"),
        (404, StateError, "no listing"),
        (409, StateError, "already subscribed"),
        (422, InputError, "plans[0].burst"),
        (500, Exception, "→ 500"),
    ],
)
def test_problem_details_become_one_line_errors(
    control_plane: tuple[str, dict[str, Any]], status: int, error: type[Exception], fragment: str
) -> None:
    url, routes = control_plane
    details = {
        401: "invalid access token",
        403: "only creators may do this",
        404: "no listing 'x'",
        409: "already subscribed",
        422: "plans[0].burst: must be > 0",
        500: "unexpected",
    }
    routes["/thing"] = (status, {"type": "about:blank", "status": status, "detail": details[status]})
    with pytest.raises(error) as raised:
        ControlPlaneClient(url).get("/thing")
    assert fragment in str(raised.value) and "\n" not in str(raised.value)


def test_unreachable_control_plane() -> None:
    with pytest.raises(AccessError, match="cannot reach the control plane at http://127.0.0.1:9"):
        ControlPlaneClient("http://127.0.0.1:9").get("/config")


def test_corrupt_session_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    sign_in.session_path().parent.mkdir(parents=True)
    sign_in.session_path().write_text("{")
    with pytest.raises(InputError, match="apid logout"):
        sign_in.load_session()


def test_sign_up_confirms_with_the_emailed_code(pool: dict[str, str], control_plane: tuple[str, Any]) -> None:
    url, _ = control_plane
    cognito = boto3.client("cognito-idp", region_name=REGION)
    cognito.add_custom_attributes(
        UserPoolId=pool["pool_id"], CustomAttributes=[{"Name": "role", "AttributeDataType": "String"}]
    )
    codes: list[str] = []
    sign_in.sign_up(
        url, "grace@example.com", PASSWORD, "creators", confirmation_code=lambda: codes.append("1") or "123456"
    )
    user = cognito.admin_get_user(UserPoolId=pool["pool_id"], Username="grace@example.com")
    assert user["UserStatus"] == "CONFIRMED" and codes == ["1"]
    assert {"Name": "custom:role", "Value": "creators"} in user["UserAttributes"]
    with pytest.raises(StateError, match="already exists"):
        sign_in.sign_up(url, "grace@example.com", PASSWORD, "creators", confirmation_code=lambda: "123456")
