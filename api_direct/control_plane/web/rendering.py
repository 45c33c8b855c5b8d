"""One Jinja2 environment for every page, with the filters the templates format money and time with."""

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette._utils import get_route_path  # what FastAPI's router matches against

from api_direct.control_plane.billing.charges import money_text

#: Where every page lives; the API keeps the rest of the URL space.
WEB_PREFIX = "/web"
_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"

templates = Jinja2Templates(directory=_HERE / "templates")


def money(cents: int | Decimal | None, currency: str) -> str:
    """``1520`` cents as ``15.20 USD``; em dash for an amount not known yet (a month still open)."""
    return "—" if cents is None else money_text(cents, currency)


def price(amount: Decimal | float | int) -> str:
    """A plan's price as written in apid.toml, without trailing zeros past the cents: ``0.40``, ``0.0125``."""
    value = Decimal(str(amount))
    text = f"{value:.4f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def when(value: datetime | date | str | None) -> str:
    """Dates as ``2026-12-01 22:15 UTC``: one unambiguous form on every page."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def count(value: int | Decimal | None) -> str:
    return "—" if value is None else f"{int(value):,}"


templates.env.filters.update(money=money, price=price, when=when, count=count)


def content_security_policy(*connect_to: str) -> str:
    """A page's policy: its own scripts, styles and images only (no CDN, nothing inline), never framed.

    Scripts may fetch from the site and from the origins in ``connect_to`` alone
    (an API page's console calls that API). No ``form-action``: Chrome applies it
    to the redirect after a form, and onboarding redirects to Stripe.
    """
    connect = " ".join(("'self'", *connect_to))
    return (
        f"default-src 'self'; connect-src {connect}; img-src 'self' data:; object-src 'none'; base-uri 'none';"
        " frame-ancestors 'none'"
    )


def web_base(request: Request) -> str:
    return request.scope.get("root_path", "") + WEB_PREFIX


def here(request: Request) -> str:
    """This page's path and query as the browser has them: behind API Gateway, with the stage in front.

    The stage is ``root_path``; the app's own path is read as FastAPI's router reads it
    (``get_route_path``), as ASGI servers differ on whether ``path`` includes ``root_path``
    (the Lambda adapter and uvicorn include it, a ``TestClient`` does not).
    """
    query = f"?{request.url.query}" if request.url.query else ""
    return request.scope.get("root_path", "") + get_route_path(request.scope) + query


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with what every page shows: who is signed in (set by the session's dependency)
    and where the pages are (behind API Gateway, under the stage: ``/v1/web``).
    """
    response = templates.TemplateResponse(
        request,
        template,
        {
            "base": web_base(request),
            "here": here(request),
            "user": getattr(request.state, "user", None),
            **context,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
