"""Where a person confirms what their AI agent asked for (:mod:`~api_direct.control_plane.api.agent_requests`).

The agent shows its person the ``confirm_url`` the marketplace's MCP ``subscribe``
returned; nothing on the site links here. Signed in as a consumer, the person sees
the API, the plan and its price, and confirms with a form like every other form of
the pages (the session cookie, and an ``Origin`` of this very site). Confirming a new
subscription shows its first key once, as subscribing on the API's page does; the
agent fetches a key of its own.
"""

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api_direct.control_plane.api import agent_requests, listings
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.web.marketplace import key_page
from api_direct.control_plane.web.rendering import WEB_PREFIX, page
from api_direct.control_plane.web.web_session import Form, WebConsumer

router = APIRouter(prefix=f"{WEB_PREFIX}/agent-requests", include_in_schema=False)


@router.get("/{request_id}", response_class=HTMLResponse)
def review(request_id: str, request: Request, user: WebConsumer, services: ServicesDep) -> Response:
    agent_request = agent_requests.open_request(services.store, request_id, user.sub)
    listing = listings.read_listing(services.store, agent_request.api_id)
    plan = next((plan for plan in listing.plans if plan.name == agent_request.plan), None)
    if plan is None:
        raise Problem(409, f"{listing.name} no longer offers the {agent_request.plan} plan; ask your agent again")
    return page(
        request,
        "agent_request.html",
        agent_request=agent_request,
        listing=listing,
        plan=plan,
        current_plan=agent_requests.current_plan(services.store, user.sub, agent_request),
        currency=services.settings.currency,
        confirmed=False,
    )


@router.post("/{request_id}/confirm", response_class=HTMLResponse)
def confirm(
    request_id: str, request: Request, _: Form, user: WebConsumer, services: ServicesDep, response: Response
) -> Response:
    agent_request, issued = agent_requests.confirm(services, request_id, user, response)
    if issued is not None:
        return key_page(request, services, issued, "agent")
    return page(
        request,
        "agent_request.html",
        agent_request=agent_request,
        listing=listings.read_listing(services.store, agent_request.api_id),
        confirmed=True,
    )
