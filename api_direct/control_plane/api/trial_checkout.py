"""``POST /subscriptions/checkout``: the Stripe Checkout page where a consumer saves the card a trial needs.

The rules of trials are in :mod:`.trials`; this is the one route (and the function
the marketplace's MCP tools and agent requests share) that starts a checkout.
"""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api_direct.control_plane.api.accounts import StrictModel
from api_direct.control_plane.api.auth import Consumer
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listings import require_plan
from api_direct.control_plane.api.plan_access import MAX_TOKEN_LENGTH
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.api.subscriptions import PlanName, billed, has_active_subscription
from api_direct.control_plane.api.trials import CHECKOUT_PATH
from api_direct.control_plane.web.rendering import WEB_PREFIX
from api_direct.project import PricingPlan


class CheckoutIn(StrictModel):
    api_id: ApiId
    plan: PlanName
    #: A private plan's invite token: the ``/subscribed`` page Stripe sends the consumer back to subscribes with it.
    invite: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)] | None = None


class CheckoutOut(BaseModel):
    """Where the consumer saves their card; subscribe with ``session_id`` once they have."""

    session_id: str
    url: str


router = APIRouter(tags=["subscriptions"])


@router.post(CHECKOUT_PATH, summary="Save a card for a plan with a free trial (a Stripe Checkout page to open)")
def start_checkout(body: CheckoutIn, principal: Consumer, services: ServicesDep, request: Request) -> CheckoutOut:
    """404 for an unknown API, 422 for a plan it does not offer or one without a trial, 409 if already
    subscribed or billing is off."""
    return checkout(services, principal.sub, body, str(request.base_url).rstrip("/"))


def checkout(services: Services, consumer: str, body: CheckoutIn, site: str, back: str | None = None) -> CheckoutOut:
    """A Checkout Session for ``consumer`` to save a card for ``body``'s trial plan.

    ``site`` is the control plane's own URL: Stripe sends the consumer back to the
    API's ``/subscribed`` page there, which subscribes with the session and any
    ``invite`` (or to the page ``back`` names, with ``?session_id=``), or to the API's
    page if they cancel.
    """
    billing = services.billing
    if billing is None:
        raise Problem(409, "billing is off on this control plane: subscribe with POST /subscriptions, no card needed")
    plan = PricingPlan.of(require_plan(services.store, body.api_id, body.plan))
    if plan.trial_days is None:
        raise Problem(422, f"plan {body.plan} of {body.api_id} has no free trial; subscribe with POST /subscriptions")
    if has_active_subscription(services.store, consumer, body.api_id):
        raise Problem(409, f"you already subscribe to {body.api_id}; cancel it first or change its plan")
    page = f"{site}{WEB_PREFIX}/apis/{body.api_id}"
    back_to = {"plan": body.plan, **({"invite": body.invite} if body.invite else {})}
    success = f"{site}{back}?" if back else f"{page}/subscribed?{urlencode(back_to)}&"
    success, cancel = f"{success}session_id={{CHECKOUT_SESSION_ID}}", page
    session_id, url = billed(lambda: billing.card_checkout(consumer, body.api_id, body.plan, success, cancel))
    return CheckoutOut(session_id=session_id, url=url)
