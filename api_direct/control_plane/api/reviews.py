"""Reviews: consumers who use an API rate it, once each.

A review is ``pk=API#<api_id>, sk=REVIEW#<consumer>`` (so a second one cannot be
written), and is written in one transaction with the listing's ``rating_sum`` and
``review_count`` and a check that the reviewer's subscription is active: the
average a search ranks by always matches the reviews that exist.

Reviews are anonymous. They are read newest first from the ``gsi1`` index
(``gsi1pk=API#<api_id>``, ``gsi1sk=REVIEW#<time>#<review id>``); the cursor is that
sort key, which names no consumer.
"""

import secrets
from datetime import datetime
from typing import Annotated, Any

from boto3.dynamodb.conditions import ConditionBase, Key
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api_direct.control_plane.api.accounts import StrictModel, timestamp
from api_direct.control_plane.api.auth import Consumer
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listings import bad_cursor, decode_cursor, encode_cursor, listing_key, require_listing
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.api.store import GSI1, PK, SK, Store, api_pk, check_op, update_op
from api_direct.control_plane.api.subscriptions import ACTIVE, has_active_subscription, subscription_key

REVIEW_PREFIX = "REVIEW#"


class ReviewIn(StrictModel):
    stars: Annotated[int, Field(ge=1, le=5)]
    text: Annotated[str, Field(max_length=2000)] = ""


class Review(BaseModel):
    stars: int
    text: str
    created_at: datetime


class ReviewPage(BaseModel):
    items: list[Review]
    #: Pass as ``cursor`` for the next page; ``None`` on the last page.
    next_cursor: str | None


router = APIRouter(tags=["reviews"])


@router.post("/listings/{api_id}/reviews", status_code=201, summary="Review an API you subscribe to")
def post_review(api_id: ApiId, body: ReviewIn, principal: Consumer, services: ServicesDep) -> Review:
    """403 without an active subscription to the API; 409 for a second review."""
    store = services.store
    require_listing(store, api_id)
    if not has_active_subscription(store, principal.sub, api_id):
        raise Problem(403, f"subscribe first: only consumers with an active subscription to {api_id} may review it")
    if has_reviewed(store, principal.sub, api_id):
        raise _already_reviewed(api_id)
    now = timestamp()
    review = {
        PK: api_pk(api_id),
        SK: f"{REVIEW_PREFIX}{principal.sub}",
        "consumer": principal.sub,
        "gsi1pk": api_pk(api_id),
        "gsi1sk": f"{REVIEW_PREFIX}{now}#{secrets.token_hex(8)}",
        "stars": body.stars,
        "text": body.text,
        "created_at": now,
    }
    try:
        store.transact(
            [
                check_op(subscription_key(principal.sub, api_id), when={"status": ACTIVE}),
                {"Put": {"Item": review, "ConditionExpression": "attribute_not_exists(pk)"}},
                update_op(listing_key(api_id), add={"rating_sum": body.stars, "review_count": 1}, exists=True),
            ],
            conflict=_already_reviewed(api_id).detail,
        )
    except Problem:
        # A race lost to a cancellation reads as a 403, as it would have a moment later.
        if not has_active_subscription(store, principal.sub, api_id):
            raise Problem(403, f"subscribe first: your subscription to {api_id} ended") from None
        raise
    return Review.model_validate(review)


@router.get("/listings/{api_id}/reviews", summary="An API's reviews, newest first")
def list_reviews(
    api_id: ApiId,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ReviewPage:
    require_listing(services.store, api_id)
    after = None if cursor is None else decode_cursor(cursor, (str,))[0]
    if after is not None and not after.startswith(REVIEW_PREFIX):
        raise bad_cursor()
    items = _reviews_after(services.store, api_id, after, limit + 1)
    page = items[:limit]
    return ReviewPage(
        items=[Review.model_validate(item) for item in page],
        next_cursor=encode_cursor([page[-1]["gsi1sk"]]) if len(items) > limit else None,
    )


def has_reviewed(store: Store, consumer: str, api_id: str) -> bool:
    """Each consumer reviews an API once: whether this one has."""
    return store.get(api_pk(api_id), f"{REVIEW_PREFIX}{consumer}") is not None


def _reviews_after(store: Store, api_id: str, after: str | None, count: int) -> list[dict[str, Any]]:
    """Up to ``count`` reviews older than the one at ``after``, in one ``Query`` of the index.

    A key condition has one range on the sort key, so the range ends at ``after``
    inclusive and that review, if still there, is dropped; one extra item is asked for
    it. (``Store.query`` reads whole partitions; a page must not.)
    """
    condition: ConditionBase = Key("gsi1pk").eq(api_pk(api_id))
    condition &= (
        Key("gsi1sk").begins_with(REVIEW_PREFIX) if after is None else Key("gsi1sk").between(REVIEW_PREFIX, after)
    )
    page = store.table.query(
        IndexName=GSI1, KeyConditionExpression=condition, ScanIndexForward=False, Limit=count + (after is not None)
    )
    return [item for item in page.get("Items", []) if item["gsi1sk"] != after][:count]


def _already_reviewed(api_id: str) -> Problem:
    return Problem(409, f"you already reviewed {api_id}; each consumer reviews an API once")
