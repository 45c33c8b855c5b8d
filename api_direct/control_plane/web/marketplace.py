"""The public marketplace: search, an API's page, and subscribing to one of its plans.

Each page calls the same functions the JSON API's routes are (``listings.search``,
``subscriptions.subscribe``...), so a page can never show or allow what the API
would not.
"""

from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, BeforeValidator, ValidationError

from api_direct.control_plane.api import listings, reviews, subscriptions, trial_checkout, trials
from api_direct.control_plane.api.accounts import timestamp
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listing_lifecycle import read_changelog
from api_direct.control_plane.api.listings import Category, SortOrder
from api_direct.control_plane.api.plan_access import MAX_TOKEN_LENGTH, shown_plans, usable_invite
from api_direct.control_plane.api.problems import Problem, describe_validation
from api_direct.control_plane.api.reviews import ReviewIn
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.api.subscriptions import IssuedKey, SubscribeIn
from api_direct.control_plane.web.openapi_view import example_path, operations
from api_direct.control_plane.web.rendering import WEB_PREFIX, content_security_policy, page, web_base
from api_direct.control_plane.web.web_session import Form, OptionalUser, WebConsumer
from api_direct.project import CATEGORIES
from api_direct.runtime.cors import origin_of

router = APIRouter(prefix=WEB_PREFIX, include_in_schema=False)
SORTS: dict[str, str] = {"popularity": "Most subscribers", "rating": "Best rated", "newest": "Newest"}
PAGE_SIZE = 12
#: A search form sends every field, left empty when not chosen: empty means "any".
_EMPTY_IS_ANY = BeforeValidator(lambda value: None if value == "" else value)
Body = TypeVar("Body", bound=BaseModel)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[Category | None, Query(), _EMPTY_IS_ANY] = None,
    max_price: Annotated[Decimal | None, Query(ge=0), _EMPTY_IS_ANY] = None,
    sort: SortOrder = "popularity",
    cursor: str | None = None,
) -> Response:
    """Home and search results are one page: an empty search lists everything, best first."""
    found = listings.search(
        services, q=q, category=category, max_price=max_price, sort=sort, limit=PAGE_SIZE, cursor=cursor
    )
    return page(
        request,
        "home.html",
        found=found,
        q=q,
        category=category,
        max_price=max_price,
        sort=sort,
        sorts=SORTS,
        categories=CATEGORIES,
        searching=bool(q or category or max_price is not None or cursor),
    )


@router.get("/apis/{api_id}", response_class=HTMLResponse)
def api_page(
    api_id: ApiId,
    request: Request,
    services: ServicesDep,
    user: OptionalUser,
    invite: Annotated[str | None, Query(max_length=MAX_TOKEN_LENGTH)] = None,
) -> Response:
    """Only the plans one may pick, the consumer's own, and the private plan ``invite`` opens (its form carries it)."""
    listing = listings.read_listing(services.store, api_id)
    subscription, reviewed, had_trial = None, False, False
    if user is not None and user.is_consumer:
        had_trial = trials.had_trial(services, user.sub, api_id)
        subscription = next(
            (
                s
                for s in subscriptions.list_subscriptions(user, services)
                if s.api_id == api_id and s.status == subscriptions.ACTIVE
            ),
            None,
        )
        reviewed = reviews.has_reviewed(services.store, user.sub, api_id)
    invited = usable_invite(services.store, api_id, invite, timestamp())
    hidden = {plan.name for plan in listing.plans if plan.private and not (invited and invited["plan"] == plan.name)}
    listing.plans = shown_plans(
        listing.plans, own=subscription.plan if subscription else None, invited=invited["plan"] if invited else None
    )
    console_origin = origin_of(listing.base_url)
    response = page(
        request,
        "api.html",
        listing=listing,
        subscription=subscription,
        reviewed=reviewed,
        reviews=reviews.list_reviews(api_id, services, limit=10, cursor=None).items,
        operations=operations(listing.openapi),
        currency=services.settings.currency,
        console_origin=console_origin,
        invite=invite if invited else None,
        changelog=read_changelog(services.store, api_id, hidden_plans=hidden),
        # A trial plan's card is saved through Stripe Checkout first; without billing nothing is charged.
        card_up_front=services.billing is not None,
        had_trial=had_trial,
    )
    # The console's calls go from the browser to the API itself: that origin, and no other, besides the site.
    response.headers["Content-Security-Policy"] = content_security_policy(console_origin)
    return response


@router.post("/apis/{api_id}/subscribe", response_class=HTMLResponse)
def subscribe(
    api_id: ApiId, request: Request, fields: Form, user: WebConsumer, services: ServicesDep, response: Response
) -> Response:
    body = _valid(SubscribeIn, api_id=api_id, plan=fields.get("plan", ""), invite=fields.get("invite") or None)
    try:
        issued = subscriptions.subscribe(body, user, services, response)
    except Problem as problem:
        # The API's sentence names its own routes; a page names the page that does it.
        if problem.status == 409 and subscriptions.has_active_subscription(services.store, user.sub, api_id):
            raise Problem(
                409, f"you already subscribe to {api_id}: rotate its key or cancel it on your dashboard"
            ) from None
        raise
    return key_page(request, services, issued, "subscribed")


@router.post("/apis/{api_id}/checkout")
def checkout(api_id: ApiId, request: Request, fields: Form, user: WebConsumer, services: ServicesDep) -> Response:
    """A plan with a free trial: off to Stripe Checkout to save a card; Stripe sends the consumer back to
    :func:`trial_subscribed`."""
    body = _valid(
        trial_checkout.CheckoutIn, api_id=api_id, plan=fields.get("plan", ""), invite=fields.get("invite") or None
    )
    site = str(request.base_url).rstrip("/")
    return RedirectResponse(trial_checkout.checkout(services, user.sub, body, site).url, status_code=303)


@router.get("/apis/{api_id}/subscribed", response_class=HTMLResponse)
def trial_subscribed(
    api_id: ApiId,
    request: Request,
    user: WebConsumer,
    services: ServicesDep,
    response: Response,
    session_id: Annotated[str, Query(max_length=300)] = "",
    plan: Annotated[str, Query(max_length=100)] = "",
    invite: Annotated[str, Query(max_length=MAX_TOKEN_LENGTH)] = "",
) -> Response:
    """Back from Checkout with a saved card: subscribe with it (and a private plan's invite) and show the key, once."""
    body = _valid(SubscribeIn, api_id=api_id, plan=plan, checkout_session=session_id or None, invite=invite or None)
    try:
        issued = subscriptions.subscribe(body, user, services, response)
    except Problem as problem:
        if problem.status == 409 and subscriptions.has_active_subscription(services.store, user.sub, api_id):
            raise Problem(409, f"you subscribe to {api_id} already: its key was shown when you subscribed") from None
        raise
    return key_page(request, services, issued, "subscribed")


@router.post("/apis/{api_id}/reviews")
def review(api_id: ApiId, request: Request, fields: Form, user: WebConsumer, services: ServicesDep) -> Response:
    """A subscriber's one review (``POST /listings/{api_id}/reviews``), then back to the reviews."""
    reviews.post_review(
        api_id, _valid(ReviewIn, stars=fields.get("stars", ""), text=fields.get("text", "")), user, services
    )
    return RedirectResponse(f"{web_base(request)}/apis/{api_id}#reviews-heading", status_code=303)


def _valid(model: type[Body], **fields: Any) -> Body:
    """A form's fields as the API's body model, or the API's own 422 sentence."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise Problem(422, describe_validation(error.errors())) from None


def key_page(request: Request, services: ServicesDep, issued: IssuedKey, why: str) -> Response:
    """The one page that shows a key: never cached, never shown again."""
    listing = listings.read_listing(services.store, issued.api_id)
    curl = f'curl -H "x-api-key: {issued.api_key}" {listing.base_url.rstrip("/")}{example_path(listing.openapi)}'
    return page(request, "key.html", status_code=201, issued=issued, listing=listing, curl=curl, why=why)
