"""The sign-in form against moto's Cognito: the cookie it sets, wrong passwords, and the TOTP step.

moto accepts any TOTP code, so what is shown here is the flow (challenge, second
form, cookie), not the code's check, which is Cognito's.
"""

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.web.web_session import COOKIE
from tests.control_plane.resources import REGION

PASSWORD = "Real-pass-1A"
ADA = "ada@example.com"


@pytest.fixture
def pool(aws: Callable[[str], Any]) -> dict[str, str]:
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool_id = cognito.create_user_pool(PoolName="apid", MfaConfiguration="OPTIONAL")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="apid",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool_id, Username=ADA, TemporaryPassword="Temp-pass-1A")
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=ADA, Password=PASSWORD, Permanent=True)
    return {"user_pool_id": pool_id, "app_client_id": client_id}


def site(settings: ControlPlaneSettings, pool: dict[str, str], base_url: str) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=pool)), base_url=base_url, raise_server_exceptions=False)


def post_sign_in(api: TestClient, path: str = "/web/sign-in", **fields: str) -> Any:
    return api.post(path, data=fields, headers={"Origin": str(api.base_url).rstrip("/")}, follow_redirects=False)


def test_signing_in_sets_an_httponly_secure_cookie_for_the_pages_only(
    settings: ControlPlaneSettings, pool: dict[str, str]
) -> None:
    api = site(settings, pool, "https://cp.example.com")
    response = post_sign_in(api, username=ADA, password=PASSWORD, next="/web/dashboard")
    assert (response.status_code, response.headers["location"]) == (303, "/web/dashboard")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=ey")
    for attribute in ("HttpOnly", "Path=/web", "SameSite=lax", "Secure", "Max-Age=3600"):
        assert attribute in cookie, attribute


def test_on_loopback_the_cookie_is_sent_over_plain_http(settings: ControlPlaneSettings, pool: dict[str, str]) -> None:
    """The sandbox serves http://127.0.0.1: a Secure cookie would never come back."""
    response = post_sign_in(site(settings, pool, "http://127.0.0.1:8000"), username=ADA, password=PASSWORD)
    assert response.status_code == 303 and "Secure" not in response.headers["set-cookie"]


def test_a_wrong_password_is_said_on_the_form_and_sets_nothing(
    settings: ControlPlaneSettings, pool: dict[str, str]
) -> None:
    for username, password in ((ADA, "Wrong-pass-1A"), ("nobody@example.com", PASSWORD)):
        response = post_sign_in(site(settings, pool, "https://cp.example.com"), username=username, password=password)
        assert response.status_code == 401 and "wrong email address or password" in response.text
        assert "set-cookie" not in response.headers


def test_with_mfa_on_a_second_form_asks_for_the_code(settings: ControlPlaneSettings, pool: dict[str, str]) -> None:
    cognito = boto3.client("cognito-idp", region_name=REGION)
    token = cognito.initiate_auth(
        ClientId=pool["app_client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": ADA, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    cognito.associate_software_token(AccessToken=token)
    cognito.verify_software_token(AccessToken=token, UserCode="123456")
    cognito.admin_set_user_mfa_preference(
        UserPoolId=pool["user_pool_id"], Username=ADA, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    api = site(settings, pool, "https://cp.example.com")
    challenge = post_sign_in(api, username=ADA, password=PASSWORD, next="/web/portal")
    assert challenge.status_code == 200 and "set-cookie" not in challenge.headers
    assert 'action="/web/sign-in/mfa"' in challenge.text and 'autocomplete="one-time-code"' in challenge.text
    session = challenge.text.split('name="session" value="', 1)[1].split('"', 1)[0]
    done = post_sign_in(api, "/web/sign-in/mfa", username=ADA, session=session, code="123456", next="/web/portal")
    assert (done.status_code, done.headers["location"]) == (303, "/web/portal") and COOKIE in done.headers["set-cookie"]


def test_signing_out_forgets_the_cookie(settings: ControlPlaneSettings, pool: dict[str, str]) -> None:
    api = site(settings, pool, "https://cp.example.com")
    response = post_sign_in(api, "/web/sign-out")
    assert response.status_code == 303 and f'{COOKIE}=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
