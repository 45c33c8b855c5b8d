"""The pages as one unit the control plane app installs: routes, static files, and how errors look."""

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api_direct.control_plane.api.problems import title
from api_direct.control_plane.web import dashboard, marketplace, portal, web_session
from api_direct.control_plane.web.rendering import STATIC_DIR, WEB_PREFIX, page, web_base
from api_direct.control_plane.web.web_session import SignInRequired, sign_in_redirect


def install_pages(app: FastAPI) -> None:
    for module in (web_session, marketplace, dashboard, portal):
        app.include_router(module.router)
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
