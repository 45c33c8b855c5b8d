"""Where a person confirms what their AI agent asked for (:mod:`~api_direct.control_plane.api.agent_requests`).

The agent shows its person the ``confirm_url`` the marketplace's MCP ``subscribe``
returned; nothing on the site links here. Signed in as a consumer, the person sees
the API, the plan and its price, and confirms with a form like every other form of
the pages (the session cookie, and an ``Origin`` of this very site). Confirming a new
subscription shows its first key once, as subscribing on the API's page does; the
agent fetches a key of its own. A plan with a free trial sends the person to Stripe
Checkout to save a card first; Stripe sends them back to ``/card``, which confirms.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api_direct.control_plane.api import agent_requests, listings, trial_checkout
from api_direct.control_plane.api.subscriptions import IssuedKey
from api_direct.control_plane.api.trials import CHECKOUT_SESSION_PATTERN
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
    try:
        agent_request, issued = agent_requests.confirm(services, request_id, user, response)
    except Problem as problem:
        if "checkout" not in problem.extra:
            raise
        return _to_checkout(request_id, request, user.sub, services)
    return _confirmed(request, services, agent_request, issued)


@router.get("/{request_id}/card", response_class=HTMLResponse)
def card_saved(
    request_id: str,
    request: Request,
    user: WebConsumer,
    services: ServicesDep,
    response: Response,
    session_id: Annotated[str, Query(pattern=CHECKOUT_SESSION_PATTERN)],
) -> Response:
    """Back from Stripe Checkout with the trial's card saved: confirm with it."""
    agent_request, issued = agent_requests.confirm(services, request_id, user, response, session_id)
    return _confirmed(request, services, agent_request, issued)


def _to_checkout(request_id: str, request: Request, consumer: str, services: ServicesDep) -> Response:
    agent_request = agent_requests.open_request(services.store, request_id, consumer)
    body = trial_checkout.CheckoutIn(api_id=agent_request.api_id, plan=agent_request.plan)
    site, back = str(request.base_url).rstrip("/"), f"{router.prefix}/{request_id}/card"
    return RedirectResponse(trial_checkout.checkout(services, consumer, body, site, back).url, status_code=303)


def _confirmed(
    request: Request, services: ServicesDep, agent_request: agent_requests.AgentRequest, issued: IssuedKey | None
) -> Response:
    if issued is not None:
        return key_page(request, services, issued, "agent")
    return page(
        request,
        "agent_request.html",
        agent_request=agent_request,
        listing=listings.read_listing(services.store, agent_request.api_id),
        confirmed=True,
    )
