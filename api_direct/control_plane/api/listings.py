"""The marketplace: creators publish their APIs; anyone searches and reads them.

Items (see ``store.py``), all in the API's partition ``API#<api_id>``:

- ``LISTING``: what search shows, plus the counters reviews and subscriptions keep
  in the same transactions as their own writes (``rating_sum``, ``review_count``,
  ``subscribers``) and the cheapest plan's price, so a search filters on price
  without reading plans. It is on the ``LISTINGS`` index that search queries.
- ``PLAN#<name>``: one per pricing plan, with its own ``subscribers`` counter, so a
  plan that consumers are on cannot be dropped by a re-publish (the delete is
  conditional on that counter being zero).
- ``OPENAPI``: the document, kept apart so that searching never reads documents of
  up to :attr:`ControlPlaneSettings.max_openapi_bytes` each.

The first creator to publish an ``api_id`` owns it. Publishing writes first and then
routes the API's key events to its account: written first, a name two creators
race for is routed only for the winner.
"""

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from botocore.exceptions import ClientError
from fastapi import APIRouter, Query
from pydantic import AfterValidator, AnyUrl, BaseModel, Field, UrlConstraints, model_validator

from api_direct.control_plane.api.accounts import AccountId, Matches, Region, StrictModel, require_linked, timestamp
from api_direct.control_plane.api.auth import Creator, Principal
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listing_changes import record_publish, refuse_unbillable
from api_direct.control_plane.api.plan_access import MAX_TOKEN_LENGTH, pickable, public_plans, usable_invite
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.api.store import GSI1, GSI2, LISTINGS, PK, SK, Store, api_pk, creator_pk, update_op
from api_direct.aws_costs.traffic import RuntimeProfile
from api_direct.project import CATEGORIES, STAGE_NAME_PATTERN, PricingPlan, RouteWeight, require_distinct

Category = Literal[CATEGORIES]  # type: ignore[valid-type]
SortOrder = Literal["rating", "popularity", "newest"]

LISTING_SK = "LISTING"
OPENAPI_SK = "OPENAPI"
PLAN_PREFIX = "PLAN#"
#: A listing's sort key under its creator in ``gsi2``.
CREATOR_LISTING_PREFIX = "LISTING#"
#: Counters owned by reviews and subscriptions: a re-publish never writes them.
_COUNTERS = ("rating_sum", "review_count", "subscribers")

Tag = Annotated[str, Matches(r"^[a-z0-9][a-z0-9-]{0,23}$", "a lowercase tag of up to 24 letters, digits and hyphens")]
HttpsUrl = Annotated[AnyUrl, UrlConstraints(allowed_schemes=["https"], host_required=True, max_length=2048)]


def _distinct_tags(tags: list[str]) -> list[str]:
    require_distinct(tags, "tags")
    return tags


def _distinct_plans(plans: list[PricingPlan]) -> list[PricingPlan]:
    require_distinct([plan.name for plan in plans], "plan names")
    return plans


def _openapi_3(document: dict[str, Any]) -> dict[str, Any]:
    version = document.get("openapi")
    if not (isinstance(version, str) and version.startswith("3.")):
        raise ValueError("must be an OpenAPI 3 document (its `openapi` field is 3.x), e.g. your app's /openapi.json")
    return document


class McpOffer(StrictModel):
    """The API's MCP endpoint (``<base_url>/mcp``), as ``[mcp]`` in apid.toml configures it."""

    #: Operations that are not tools (:func:`~api_direct.runtime.mcp_tools.excluded`'s patterns).
    exclude: Annotated[list[Annotated[str, Field(min_length=1, max_length=300)]], Field(max_length=200)] = []


#: A CloudFormation resource type, as a stack's resources list it (``AWS::CloudWatch::Alarm``).
ResourceType = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,64}::[A-Za-z0-9]{1,64}::[A-Za-z0-9]{1,64}$")]


class ListingRuntime(RuntimeProfile):
    """The published stage's sizes AWS bills it at, and its stack's resources by type: what its costs are priced
    from (:mod:`~api_direct.control_plane.billing.unit_costs`). Sent by ``apid publish``; a listing published
    before it was has none, and is priced at :class:`RuntimeProfile`'s defaults in its region."""

    #: Resources of the deployed stack per CloudFormation type; those billed whatever the traffic (alarms, keys)
    #: make the API's fixed monthly cost.
    fixed_resources: Annotated[dict[ResourceType, Annotated[int, Field(ge=0, le=10_000)]], Field(max_length=200)] = {}


def listing_runtime(listing: Mapping[str, Any]) -> ListingRuntime:
    """The listing's runtime as published, or the defaults in its region for one published before it was sent."""
    return ListingRuntime.model_validate(listing.get("runtime") or {"region": listing["region"]})


class ListingIn(StrictModel):
    """What ``apid publish`` sends; plans follow the same rules as in ``apid.toml``."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    category: Category
    tags: Annotated[list[Tag], Field(max_length=10), AfterValidator(_distinct_tags)] = []
    base_url: HttpsUrl
    openapi: Annotated[dict[str, Any], AfterValidator(_openapi_3)]
    account_id: AccountId
    region: Region
    #: The stage published (its stack ``apid-<api>-<stage>`` holds the keys); None: the unnamed stage.
    stage: Annotated[str, Field(pattern=STAGE_NAME_PATTERN)] | None = None
    plans: Annotated[list[PricingPlan], Field(min_length=1, max_length=20), AfterValidator(_distinct_plans)]
    #: ``[[routes]]``: the units one call of each counts (quota, rate, price); none: every call is one unit.
    route_weights: Annotated[list[RouteWeight], Field(max_length=50)] = []
    #: The API's MCP endpoint; ``None``: it serves none (``[mcp] enabled = false``, or published before it could).
    mcp: McpOffer | None = None
    #: The creator's words on this version, shown in the listing's changelog (``apid publish --note``).
    note: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    #: The published stage's function sizes and stack resources; ``None`` from a CLI that predates it.
    runtime: ListingRuntime | None = None

    @model_validator(mode="after")
    def _runtime_in_the_listed_region(self) -> "ListingIn":
        if self.runtime is not None and self.runtime.region != self.region:
            raise ValueError(f"runtime.region {self.runtime.region} is not the listing's region {self.region}")
        return self


class ListingSummary(BaseModel):
    """One search result: no plans, no OpenAPI document."""

    api_id: str
    name: str
    description: str
    category: Category
    tags: list[str]
    base_url: str
    #: The cheapest plan's price per 1000 calls (what ``max_price`` filters on).
    min_price_per_1000: Decimal
    #: Average stars to one decimal; ``None`` until the first review.
    rating: float | None
    review_count: int
    subscribers: int
    published_at: datetime
    updated_at: datetime
    #: Set by ``apid unpublish``: off search, no new subscribers, and its subscriptions end then.
    retiring_at: datetime | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> "ListingSummary":
        return cls.model_validate({**item, "rating": average_rating(item["rating_sum"], item["review_count"])})


class Listing(ListingSummary):
    plans: list[PricingPlan]
    openapi: dict[str, Any]
    route_weights: list[RouteWeight] = []
    mcp: McpOffer | None = None


class ListingPage(BaseModel):
    items: list[ListingSummary]
    #: Pass as ``cursor`` for the next page; ``None`` on the last page.
    next_cursor: str | None


router = APIRouter(tags=["listings"])


@router.put("/listings/{api_id}", summary="Publish or update your API's listing")
def publish(api_id: ApiId, body: ListingIn, principal: Creator, services: ServicesDep) -> Listing:
    """The first publisher of an ``api_id`` owns it (403 for anyone else); a re-publish replaces
    the plans and keeps the reviews and subscribers. 409 unless the account is linked, when
    dropping a plan consumers are on, or when moving an API with subscribers to another account.
    """
    store = services.store
    _check_size(body.openapi, services.settings.max_openapi_bytes)
    existing = store.get(api_pk(api_id), LISTING_SK)
    if existing is not None and existing["creator"] != principal.sub:
        raise Problem(403, f"API {api_id!r} is owned by another creator; publish under another name")
    require_linked(store, principal.sub, body.account_id, body.region)
    plans_before = _plan_items(store, api_id) if existing is not None else []
    refuse_unbillable(plans_before, body.plans)
    if existing is None:
        _create(services, api_id, body, principal)
    else:
        _update(services, existing, body)
    published = body.model_dump(include={"name", "description"})
    notice_days = services.settings.price_notice_days
    record_publish(store, api_id, existing, plans_before, published, body.plans, body.note, notice_days)
    return read_listing(store, api_id)


@router.get("/listings/{api_id}", summary="One listing with its plans and OpenAPI document")
def get_listing(
    api_id: ApiId,
    services: ServicesDep,
    invite: Annotated[str | None, Query(max_length=MAX_TOKEN_LENGTH, description="an invite link's token")] = None,
) -> Listing:
    """Private plans only with a usable invite to them (none is hinted at otherwise); deprecated ones are marked."""
    listing = read_listing(services.store, api_id)
    invited = usable_invite(services.store, api_id, invite, timestamp())
    listing.plans = public_plans(listing.plans, invited=invited["plan"] if invited else None)
    return listing


@router.get("/listings", summary="Search the marketplace")
def search(
    services: ServicesDep,
    q: Annotated[str, Query(max_length=200, description="every word must occur in the name, description or tags")] = "",
    category: Category | None = None,
    max_price: Annotated[
        Decimal | None, Query(ge=0, description="highest price per 1000 calls of the cheapest plan")
    ] = None,
    sort: SortOrder = "popularity",
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ListingPage:
    """Ranks one query of the ``LISTINGS`` index in memory (see ``store.py`` for why that is enough)."""
    listings = (
        ListingSummary.of(item)
        for item in services.store.query(LISTINGS, index=GSI1)
        if not item.get("retiring_at")  # unpublished (``apid unpublish``): off search until published again
    )
    words = q.lower().split()
    matching = [
        listing
        for listing in listings
        if _has_words(listing, words)
        and category in (None, listing.category)
        and (max_price is None or listing.min_price_per_1000 <= max_price)
    ]
    return page_of(matching, sort, limit, cursor)


def read_listing(store: Store, api_id: str) -> Listing:
    item = require_listing(store, api_id)
    document = store.get(api_pk(api_id), OPENAPI_SK)
    return Listing.model_validate(
        {
            **ListingSummary.of(item).model_dump(),
            "mcp": item.get("mcp"),
            "route_weights": item.get("route_weights", []),
            "plans": listed_plans(store, api_id),
            "openapi": json.loads(document["document"]) if document else {},
        }
    )


def creator_listings(store: Store, creator: str) -> Iterator[dict[str, Any]]:
    """The listing items of every API the creator publishes, by ``api_id``."""
    return store.query(creator_pk(creator), CREATOR_LISTING_PREFIX, index=GSI2)


def listed_plans(store: Store, api_id: str) -> list[PricingPlan]:
    """The API's plans in the creator's order, without reading its OpenAPI document (search results show them)."""
    return [PricingPlan.of(plan) for plan in _plan_items(store, api_id)]


def require_listing(store: Store, api_id: str) -> dict[str, Any]:
    item = store.get(api_pk(api_id), LISTING_SK)
    if item is None:
        raise Problem(404, f"no API {api_id!r} is listed; search with GET /listings")
    return item


def require_plan(store: Store, api_id: str, plan: str) -> dict[str, Any]:
    """The plan's item; 404 for an unknown API, 422 for a plan it does not offer (naming the ones it does)."""
    require_listing(store, api_id)
    item = store.get(api_pk(api_id), plan_sk(plan))
    if item is None:
        offered = ", ".join(item["name"] for item in _plan_items(store, api_id))
        raise Problem(422, f"plan: {api_id} has no plan {plan!r}; choose one of: {offered}")
    return item


def listing_key(api_id: str) -> dict[str, str]:
    return {PK: api_pk(api_id), SK: LISTING_SK}


def plan_key(api_id: str, plan: str) -> dict[str, str]:
    return {PK: api_pk(api_id), SK: plan_sk(plan)}


def plan_sk(plan: str) -> str:
    return f"{PLAN_PREFIX}{plan}"


def average_rating(rating_sum: Decimal | int, review_count: Decimal | int) -> float | None:
    """Half up to one decimal, as people round (4.25 shows as 4.3)."""
    if not review_count:
        return None
    return float((Decimal(rating_sum) / Decimal(review_count)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def page_of(listings: Sequence[ListingSummary], sort: SortOrder, limit: int, cursor: str | None) -> ListingPage:
    """One page in a total order (sort value descending, then ``api_id`` ascending).

    The cursor is the last item's position in that order, not an offset, so listings
    added or re-ranked meanwhile never make the rest of the pages repeat or skip one.
    """
    by_id = sorted(listings, key=lambda listing: listing.api_id)
    ranked = sorted(by_id, key=lambda listing: _sort_value(listing, sort), reverse=True)
    if cursor is not None:
        value, api_id = _decode_position(cursor, sort)
        ranked = [listing for listing in ranked if _comes_after(listing, sort, value, api_id)]
    page = ranked[:limit]
    more = len(ranked) > limit
    return ListingPage(
        items=page, next_cursor=encode_cursor([sort, _sort_value(page[-1], sort), page[-1].api_id]) if more else None
    )


def encode_cursor(position: Sequence[Any]) -> str:
    """Opaque to clients: URL-safe base64 of the JSON position, without padding."""
    return base64.urlsafe_b64encode(json.dumps(list(position), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, shape: Sequence[type | tuple[type, ...]]) -> list[Any]:
    """The position :func:`encode_cursor` made; 400 for anything else (never a 500 on a hand-edited cursor)."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        position = None
    if not (
        isinstance(position, list)
        and len(position) == len(shape)
        and all(
            isinstance(part, kind) and not isinstance(part, bool) for part, kind in zip(position, shape, strict=True)
        )
    ):
        raise bad_cursor()
    return position


def bad_cursor() -> Problem:
    return Problem(400, "cursor: not a cursor this query returned; start again without it")


def _check_size(document: Mapping[str, Any], limit: int) -> None:
    size = len(_compact(document).encode())
    if size > limit:
        raise Problem(413, f"openapi: the document is {size} bytes as compact JSON; the limit is {limit}")


def _compact(document: Mapping[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _create(services: Services, api_id: str, body: ListingIn, principal: Principal) -> None:
    """Claim the name with everything written at once, then route; unroutable, the claim is withdrawn."""
    now = timestamp()
    listing = {
        **listing_key(api_id),
        **_listing_attributes(api_id, body, now),
        "creator": principal.sub,
        "published_at": now,
        **dict.fromkeys(_COUNTERS, 0),
        "gsi1pk": LISTINGS,
        "gsi1sk": f"{now}#{api_id}",
        "gsi2pk": creator_pk(principal.sub),
        "gsi2sk": f"{CREATOR_LISTING_PREFIX}{api_id}",
    }
    services.store.transact(
        [
            {"Put": {"Item": listing, "ConditionExpression": "attribute_not_exists(pk)"}},
            *_content_ops(api_id, body, ()),
        ],
        conflict=f"API {api_id!r} was just published by another creator; publish under another name",
    )
    try:
        services.bus.route_keys(api_id, body.account_id, body.region, body.stage)
    except ClientError as error:
        outcome = "nothing was published" if _withdraw(services.store, api_id, body) else "publish again to finish"
        raise _unroutable(api_id, body, error, outcome) from None


def _update(services: Services, existing: Mapping[str, Any], body: ListingIn) -> None:
    api_id = existing["api_id"]
    current_plans = list(_plan_items(services.store, api_id))
    moving = (existing["account_id"], existing["region"], existing.get("stage")) != (
        body.account_id,
        body.region,
        body.stage,
    )
    _refuse_stranding_subscribers(existing, current_plans, body, moving)
    services.store.transact(
        [
            update_op(
                listing_key(api_id),
                set_=_listing_attributes(api_id, body, timestamp()),
                when={"creator": existing["creator"], **({"subscribers": 0} if moving else {})},
            ),
            *_content_ops(api_id, body, [item["name"] for item in current_plans]),
        ],
        conflict=f"the listing of {api_id} changed while publishing (a consumer subscribed?); publish again",
    )
    try:
        services.bus.route_keys(api_id, body.account_id, body.region, body.stage)
    except ClientError as error:
        raise _unroutable(api_id, body, error, "the listing was updated; publish again to finish") from None


def _refuse_stranding_subscribers(
    existing: Mapping[str, Any], plans: Sequence[Mapping[str, Any]], body: ListingIn, moving: bool
) -> None:
    """Consumers' keys live in the API's account, on one of its plans: neither may vanish under them."""
    kept = {plan.name for plan in body.plans}
    in_use = sorted(item["name"] for item in plans if item["name"] not in kept and item.get("subscribers", 0) > 0)
    if in_use:
        raise Problem(409, f"plans {', '.join(in_use)} have subscribers; keep them in the listing")
    if moving and existing["subscribers"] > 0:
        raise Problem(
            409,
            f"{existing['api_id']} has subscribers whose keys are in account {existing['account_id']} "
            f"({existing['region']}{_stage_words(existing.get('stage'))}); it cannot move to another account,"
            " region or stage",
        )


def _stage_words(stage: str | None) -> str:
    return f", stage {stage}" if stage else ""


def _listing_attributes(api_id: str, body: ListingIn, now: str) -> dict[str, Any]:
    """What a publish sets, on creation and on every update alike."""
    return {
        "api_id": api_id,
        "name": body.name,
        "description": body.description,
        "category": body.category,
        "tags": body.tags,
        "base_url": str(body.base_url),
        "account_id": body.account_id,
        "region": body.region,
        "stage": body.stage,
        "mcp": body.mcp.model_dump() if body.mcp else None,
        "route_weights": [route.model_dump(mode="json") for route in body.route_weights],
        "runtime": body.runtime.model_dump() if body.runtime else None,
        # Of the plans anyone may pick: a private plan's price must not show through search.
        "min_price_per_1000": min(plan.price_per_1000 for plan in [*filter(pickable, body.plans)] or body.plans),
        "updated_at": now,
        # Publishing lists the API again, even one being unpublished.
        "retiring_at": None,
    }


def _content_ops(api_id: str, body: ListingIn, current_plans: Iterable[str]) -> list[dict[str, Any]]:
    """Upsert the plans (keeping their counters), drop the others if unused, replace the document."""
    kept = [plan.name for plan in body.plans]
    return [
        {"Put": {"Item": {PK: api_pk(api_id), SK: OPENAPI_SK, "document": _compact(body.openapi)}}},
        *(
            update_op(plan_key(api_id, plan.name), set_={**_plan_attributes(plan), "position": position})
            for position, plan in enumerate(body.plans)
        ),
        *(
            {
                "Delete": {
                    "Key": plan_key(api_id, name),
                    "ConditionExpression": "attribute_not_exists(subscribers) OR subscribers = :zero",
                    "ExpressionAttributeValues": {":zero": 0},
                }
            }
            for name in current_plans
            if name not in kept
        ),
    ]


def _plan_attributes(plan: PricingPlan) -> dict[str, Any]:
    """DynamoDB takes no floats: ``rate_limit`` goes in as the Decimal of its shortest repr."""
    return {
        name: Decimal(str(value)) if isinstance(value, float) else value for name, value in plan.model_dump().items()
    }


def _plan_items(store: Store, api_id: str) -> list[dict[str, Any]]:
    """The plans in the order the creator listed them."""
    return sorted(store.query(api_pk(api_id), PLAN_PREFIX), key=lambda item: item["position"])


def _withdraw(store: Store, api_id: str, body: ListingIn) -> bool:
    """Undo a first publish; whether it was undone (not if a consumer subscribed in between)."""
    keys = [listing_key(api_id), {PK: api_pk(api_id), SK: OPENAPI_SK}, *(plan_key(api_id, p.name) for p in body.plans)]
    try:
        store.transact(
            [
                {
                    "Delete": {
                        "Key": keys[0],
                        "ConditionExpression": "subscribers = :zero",
                        "ExpressionAttributeValues": {":zero": 0},
                    }
                },
                *({"Delete": {"Key": key}} for key in keys[1:]),
            ],
            conflict="a consumer subscribed meanwhile",
        )
    except Problem:
        return False
    return True


def _unroutable(api_id: str, body: ListingIn, error: ClientError, outcome: str) -> Problem:
    reason = error.response.get("Error", {}).get("Code", "error")
    return Problem(
        502, f"could not route {api_id}'s key events to account {body.account_id} ({body.region}): {reason}; {outcome}"
    )


def _has_words(listing: ListingSummary, words: Sequence[str]) -> bool:
    text = "\n".join([listing.name, listing.description, *listing.tags]).lower()
    return all(word in text for word in words)


def _sort_value(listing: ListingSummary, sort: SortOrder) -> float | int | str:
    if sort == "rating":
        return listing.rating or 0.0
    if sort == "popularity":
        return listing.subscribers
    return f"{listing.published_at:%Y-%m-%dT%H:%M:%S.%f}"


def _comes_after(listing: ListingSummary, sort: SortOrder, value: Any, api_id: str) -> bool:
    """Whether ``listing`` ranks after the position ``(value, api_id)``."""
    own = _sort_value(listing, sort)
    return own < value or (own == value and listing.api_id > api_id)


_CURSOR_VALUE: Mapping[str, type | tuple[type, ...]] = {"rating": (int, float), "popularity": int, "newest": str}


def _decode_position(cursor: str, sort: SortOrder) -> tuple[Any, str]:
    kind, value, api_id = decode_cursor(cursor, (str, (int, float, str), str))
    if kind != sort:
        raise Problem(400, f"cursor: it belongs to sort={kind}, not sort={sort}; start again without it")
    if not isinstance(value, _CURSOR_VALUE[sort]):
        raise bad_cursor()
    return value, api_id
