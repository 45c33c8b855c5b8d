"""Sign in to the control plane with Cognito, and keep the tokens for later commands.

Tokens live in ``$XDG_CONFIG_HOME/api-direct/session.json`` (default
``~/.config/...``), written atomically with owner-only permissions. The access
token is refreshed with the refresh token when it is about to expire; nothing
here ever prints a token.
"""

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from api_direct.client.control_plane import ControlPlane
from api_direct.control_plane.cognito import unsigned_cognito
from api_direct.errors import AccessError, InputError, StateError

#: Refresh this long before the access token expires.
REFRESH_MARGIN_SECONDS = 120


@dataclass(frozen=True)
class SignedIn:
    control_plane_url: str
    region: str
    user_pool_id: str
    app_client_id: str
    username: str
    access_token: str
    refresh_token: str
    expires_at: float
    #: The control plane's account and bus, for linking and metering.
    control_plane_account_id: str
    event_bus_arn: str


def session_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "api-direct" / "session.json"


def load_session() -> SignedIn | None:
    path = session_path()
    if not path.is_file():
        return None
    try:
        return SignedIn(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:
        raise InputError(f"{path} is corrupt ({error}); run `apid logout` then `apid login`") from None


def require_session() -> SignedIn:
    session = load_session()
    if session is None:
        raise StateError("not signed in to a control plane: run `apid login --control-plane URL`")
    return session


def login(
    control_plane_url: str,
    username: str,
    password: str,
    *,
    endpoint_url: str | None = None,
    mfa_code: Callable[[], str],
) -> SignedIn:
    """Password sign-in (``USER_PASSWORD_AUTH``), answering a TOTP challenge if MFA is on."""
    config = ControlPlane(control_plane_url).config()
    cognito = unsigned_cognito(config["region"], endpoint_url)
    try:
        result = cognito.initiate_auth(
            ClientId=config["app_client_id"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        if result.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
            result = cognito.respond_to_auth_challenge(
                ClientId=config["app_client_id"],
                ChallengeName="SOFTWARE_TOKEN_MFA",
                Session=result["Session"],
                ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": mfa_code()},
            )
    except ClientError as error:
        raise _sign_in_error(error) from None
    if "AuthenticationResult" not in result:
        raise AccessError(
            f"sign-in needs the {result.get('ChallengeName')} step, which `apid login` does not handle;"
            " complete it in the hosted sign-in page first"
        )
    tokens = result["AuthenticationResult"]
    signed_in = SignedIn(
        control_plane_url=control_plane_url.rstrip("/"),
        region=config["region"],
        user_pool_id=config["user_pool_id"],
        app_client_id=config["app_client_id"],
        username=username,
        access_token=tokens["AccessToken"],
        refresh_token=tokens["RefreshToken"],
        expires_at=time.time() + tokens["ExpiresIn"],
        control_plane_account_id=config["account_id"],
        event_bus_arn=config["event_bus_arn"],
    )
    save_session(signed_in)
    return signed_in


def sign_up(
    control_plane_url: str,
    email: str,
    password: str,
    role: str,
    *,
    endpoint_url: str | None = None,
    confirmation_code: Callable[[], str],
) -> None:
    """Create an account in the control plane's user pool and confirm it with the emailed code.

    ``role`` (``creators`` or ``consumers``) is stored as ``custom:role``; the pool's
    post-confirmation trigger puts the user in that group.
    """
    config = ControlPlane(control_plane_url).config()
    cognito = unsigned_cognito(config["region"], endpoint_url)
    try:
        cognito.sign_up(
            ClientId=config["app_client_id"],
            Username=email,
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "custom:role", "Value": role}],
        )
        cognito.confirm_sign_up(ClientId=config["app_client_id"], Username=email, ConfirmationCode=confirmation_code())
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "UsernameExistsException":
            raise StateError(f"an account for {email} already exists: `apid login`") from None
        if code == "InvalidPasswordException":
            raise InputError(f"password rejected: {error.response['Error'].get('Message', 'too weak')}") from None
        raise _sign_in_error(error) from None


def access_token(session: SignedIn, *, endpoint_url: str | None = None) -> str:
    """A valid access token, refreshed (and re-saved) when it is about to expire."""
    if session.expires_at - time.time() > REFRESH_MARGIN_SECONDS:
        return session.access_token
    try:
        tokens = unsigned_cognito(session.region, endpoint_url).initiate_auth(
            ClientId=session.app_client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": session.refresh_token},
        )["AuthenticationResult"]
    except ClientError:
        raise AccessError("your control plane session has expired: run `apid login` again") from None
    refreshed = SignedIn(
        **{**asdict(session), "access_token": tokens["AccessToken"], "expires_at": time.time() + tokens["ExpiresIn"]}
    )
    save_session(refreshed)
    return refreshed.access_token


def logout(*, endpoint_url: str | None = None) -> bool:
    """Revoke the refresh token (best effort) and forget the session; False if none."""
    session = load_session()
    if session is None:
        return False
    try:
        unsigned_cognito(session.region, endpoint_url).revoke_token(
            Token=session.refresh_token, ClientId=session.app_client_id
        )
    except (ClientError, BotoCoreError):
        pass  # already revoked, expired or unreachable: forgetting it locally is what matters
    session_path().unlink(missing_ok=True)
    return True


def client_for(session: SignedIn, *, endpoint_url: str | None = None) -> ControlPlane:
    return ControlPlane(session.control_plane_url, lambda: access_token(session, endpoint_url=endpoint_url))


def save_session(session: SignedIn) -> None:
    path = session_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".session-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(session), handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _sign_in_error(error: ClientError) -> AccessError:
    code = error.response["Error"]["Code"]
    if code in ("NotAuthorizedException", "UserNotFoundException"):
        return AccessError("sign-in failed: wrong username or password")
    if code == "UserNotConfirmedException":
        return AccessError("sign-in failed: confirm your email address first")
    if code == "CodeMismatchException":
        return AccessError("sign-in failed: the MFA code is wrong")
    if code == "PasswordResetRequiredException":
        return AccessError("sign-in failed: a password reset is required")
    return AccessError(f"sign-in failed: {error.response['Error'].get('Message', code)}")
