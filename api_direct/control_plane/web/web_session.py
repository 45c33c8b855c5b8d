"""Signing in on the web: Cognito's password flow, done by the app, with the token kept in a cookie.

The pages need no JavaScript to sign in: the form posts to the app, which asks
Cognito (``USER_PASSWORD_AUTH``, as ``apid login`` does; a TOTP challenge gets a
second form) and keeps only the access token, in a cookie the page's scripts cannot
read (``HttpOnly``), sent only to this site's pages (``Path``, ``SameSite=Lax``) and
only over HTTPS (``Secure``) except on loopback, where the sandbox serves plain
HTTP. The token is verified on every request exactly as the API verifies a bearer
token. Forms that change something also need an ``Origin`` (or ``Referer``) of
this very host, so another site cannot post them with the visitor's cookie.
"""

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api_direct.control_plane.api.auth import Principal, TokenVerifier
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.cognito import unsigned_cognito
from api_direct.control_plane.web.rendering import WEB_PREFIX, here, page, web_base

COOKIE = "apid_session"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: The most a form of these pages can hold; anything longer is not ours.
_MAX_FORM_BYTES = 16_384


class SignInRequired(Exception):
    """Raised by a page that needs a signed-in user; answered with a redirect to the sign-in form."""


def current_user(request: Request) -> Principal | None:
    """Who the cookie says is signed in, or ``None`` (no cookie, or a token that no longer verifies).

    Also kept in ``request.state.user``, where :func:`~.rendering.page` finds it for the page's header.
    """
    token = request.cookies.get(COOKIE)
    user = None
    if token:
        verifier: TokenVerifier = request.app.state.verifier
        try:
            user = verifier.verify(token)
        except Problem as problem:
            if problem.status != 401:
                raise
    request.state.user = user
    return user


OptionalUser = Annotated[Principal | None, Depends(current_user)]


def signed_in(user: OptionalUser) -> Principal:
    if user is None:
        raise SignInRequired()
    return user


def consumer(user: Annotated[Principal, Depends(signed_in)]) -> Principal:
    if not user.is_consumer:
        raise Problem(403, "this page is for consumers; you are signed in as a creator")
    return user


def creator(user: Annotated[Principal, Depends(signed_in)]) -> Principal:
    if not user.is_creator:
        raise Problem(403, "the creator portal is for creators; you are signed in as a consumer")
    return user


WebConsumer = Annotated[Principal, Depends(consumer)]
WebCreator = Annotated[Principal, Depends(creator)]


async def form(request: Request) -> dict[str, str]:
    """A posted form's fields (first value of each), after checking it comes from this site."""
    _require_same_origin(request)
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise Problem(413, "the form is larger than any form of these pages")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "the form could not be read; reload the page and try again") from None
    return {name: values[0] for name, values in fields.items()}


Form = Annotated[dict[str, str], Depends(form)]
router = APIRouter(prefix=WEB_PREFIX, include_in_schema=False)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str = "") -> Response:
    return page(request, "sign_in.html", next=safe_next(request, next), error=None, challenge=None)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, fields: Form, services: ServicesDep) -> Response:
    settings = services.settings
    username, password = fields.get("username", "").strip(), fields.get("password", "")
    next_url = safe_next(request, fields.get("next", ""))
    if not username or not password:
        return _retry(request, next_url, "enter your email address and password")
    answer = _ask_cognito(
        request,
        lambda cognito: cognito.initiate_auth(
            ClientId=settings.app_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        ),
    )
    return _signed_in_or_challenged(request, answer, next_url, username)


@router.post("/sign-in/mfa", response_class=HTMLResponse)
def sign_in_mfa(request: Request, fields: Form, services: ServicesDep) -> Response:
    next_url = safe_next(request, fields.get("next", ""))
    username = fields.get("username", "")
    answer = _ask_cognito(
        request,
        lambda cognito: cognito.respond_to_auth_challenge(
            ClientId=services.settings.app_client_id,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=fields.get("session", ""),
            ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": fields.get("code", "").strip()},
        ),
    )
    return _signed_in_or_challenged(request, answer, next_url, username)


@router.post("/sign-out")
def sign_out(request: Request, _: Form) -> Response:
    response = RedirectResponse(f"{web_base(request)}/", status_code=303)
    response.delete_cookie(COOKIE, path=web_base(request), secure=_secure(request), httponly=True, samesite="lax")
    return response


def sign_in_redirect(request: Request) -> RedirectResponse:
    """Back to this very page once signed in; for a form (a session that expired meanwhile), to the form's page."""
    if request.method == "GET":
        back = here(request)
    else:
        referer = urlsplit(request.headers.get("referer", ""))
        back = referer.path + (f"?{referer.query}" if referer.query else "")
    return RedirectResponse(
        f"{web_base(request)}/sign-in?{urlencode({'next': safe_next(request, back)})}", status_code=303
    )


def safe_next(request: Request, next_url: str) -> str:
    """Only a page of this site: a sign-in link must never send anyone elsewhere (an open redirect)."""
    base = web_base(request)
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{base}/") or "\\" in next_url:
        return f"{base}/"
    return next_url


def _signed_in_or_challenged(request: Request, answer: dict[str, Any] | str, next_url: str, username: str) -> Response:
    if isinstance(answer, str):
        return _retry(request, next_url, answer)
    if answer.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
        return page(
            request,
            "sign_in.html",
            next=next_url,
            error=None,
            challenge={"session": answer["Session"], "username": username},
        )
    if "AuthenticationResult" not in answer:
        return _retry(
            request,
            next_url,
            f"this account needs the {answer.get('ChallengeName')} step first; finish it in the hosted sign-in page",
        )
    tokens = answer["AuthenticationResult"]
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        COOKIE,
        tokens["AccessToken"],
        max_age=int(tokens["ExpiresIn"]),
        path=web_base(request),
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )
    return response


def _retry(request: Request, next_url: str, error: str) -> Response:
    return page(request, "sign_in.html", status_code=401, next=next_url, error=error, challenge=None)


def _ask_cognito(request: Request, call: Callable[[Any], dict[str, Any]]) -> dict[str, Any] | str:
    """Cognito's answer, or why signing in failed, in words for the form."""
    try:
        return call(_cognito(request))
    except ClientError as error:
        code = error.response["Error"]["Code"]
        return {
            "NotAuthorizedException": "wrong email address or password",
            "UserNotFoundException": "wrong email address or password",
            "UserNotConfirmedException": "confirm your email address first",
            "CodeMismatchException": "the code is wrong; enter the current one from your authenticator app",
            "PasswordResetRequiredException": "a password reset is required",
        }.get(code, "signing in failed; try again")
    except BotoCoreError:
        raise Problem(503, "the identity provider cannot be reached; retry shortly") from None


def _cognito(request: Request) -> Any:
    """The app's unsigned Cognito client, made on the first sign-in and kept for the process."""
    state = request.app.state
    if getattr(state, "cognito", None) is None:
        settings = state.services.settings
        state.cognito = unsigned_cognito(settings.region, settings.aws_endpoint_url)
    return state.cognito


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.url.hostname not in _LOOPBACK


def _require_same_origin(request: Request) -> None:
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    if urlsplit(source).netloc != request.headers.get("host", ""):
        raise Problem(403, "this form must be sent from this site's own page; reload the page and try again")
