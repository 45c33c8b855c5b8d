"""The pages as one unit the control plane app installs: routes, static files, and how errors look."""

from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api_direct.contracts import problem_title as title
from api_direct.control_plane.web import agent_confirm, dashboard, downloads, marketplace, portal, web_session
from api_direct.control_plane.web.rendering import STATIC_DIR, WEB_PREFIX, content_security_policy, page, web_base
from api_direct.control_plane.web.web_session import SignInRequired, current_user, sign_in_redirect


#: Every page's headers (see :func:`content_security_policy`); a page that calls elsewhere sets its own policy.
SECURITY_HEADERS = {
    "Content-Security-Policy": content_security_policy(),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def install_pages(app: FastAPI) -> None:
    @app.middleware("http")
    async def _secure_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if request.url.path.startswith(WEB_PREFIX):
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    for module in (web_session, marketplace, dashboard, downloads, portal, agent_confirm):
        # Every page shows who is signed in; FastAPI runs the dependency once per request, however many ask for it.
        app.include_router(module.router, dependencies=[Depends(current_user)])
    app.mount(f"{WEB_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> Response:
        """People arrive at the bare URL; programs call the API's own paths."""
        return RedirectResponse(f"{web_base(request)}/", status_code=307)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        return sign_in_redirect(request)


def error_page(request: Request, status: int, detail: str) -> Response:
    """A page's error: the API's one sentence, in the site's frame, with the API's status."""
    return page(request, "error.html", status_code=status, title=title(status), detail=detail[:1].upper() + detail[1:])
