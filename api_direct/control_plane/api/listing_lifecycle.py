"""Unpublishing a listing, and its changelog (the versions :mod:`.listing_changes` stores).

``POST /listings/{api_id}/unpublish`` takes the API off search, the home page and
the marketplace's MCP search, and refuses new subscriptions (410, naming the date),
while its subscribers keep working until the date the creator chose: at least
:data:`MIN_NOTICE_DAYS` ahead (:data:`DEFAULT_NOTICE_DAYS` when none is given),
or at once with ``now``. Subscribers are told by email and webhook; at the start
(00:00 UTC) of the date the scheduled sweep
(:mod:`~api_direct.control_plane.billing.listing_schedule`) cancels their
subscriptions (keys revoked, Stripe subscriptions ended) and removes the rule that
forwards the API's key events to its account. Publishing again before then lists
it again and nothing ends; publishing after it lists it anew.
"""

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, model_validator

from api_direct.control_plane.api.accounts import StrictModel
from api_direct.control_plane.api.auth import Creator
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listing_changes import (
    RETIRE,
    RETIRE_NOTICE,
    add_version,
    schedule,
    terms_text,
    time_text,
    versions,
)
from api_direct.control_plane.api.listings import listed_plans, listing_key, plan_key, require_listing
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.api.store import Store, update_op
from api_direct.control_plane.api.subscriptions import subscription_key

MIN_NOTICE_DAYS = 7
DEFAULT_NOTICE_DAYS = 30
MAX_NOTICE_DAYS = 365


class UnpublishIn(StrictModel):
    #: The day subscriptions end (at 00:00 UTC); default :data:`DEFAULT_NOTICE_DAYS` from today.
    until: date | None = None
    #: End them at the sweep's next run (within 15 minutes) instead: no notice.
    now: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> "UnpublishIn":
        if self.now and self.until is not None:
            raise ValueError("give until or now, not both")
        return self


class Unpublished(BaseModel):
    api_id: str
    retiring_at: datetime
    #: Subscriptions that end then (each told by email and webhook meanwhile).
    subscribers: int


class Change(BaseModel):
    type: str
    text: str
    plan: str | None = None
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    #: For a price change with subscribers: their first billing period starting on or after this pays the new price.
    effective_from: datetime | None = None


class Version(BaseModel):
    number: int
    at: datetime
    changes: list[Change]
    note: str | None = None


class Changelog(BaseModel):
    api_id: str
    #: Newest first.
    items: list[Version]


router = APIRouter(tags=["listings"])


@router.post(
    "/listings/{api_id}/unpublish", summary="Take your API off the marketplace; its subscriptions end on a date"
)
def unpublish(api_id: ApiId, body: UnpublishIn, principal: Creator, services: ServicesDep) -> Unpublished:
    """403 unless you own it; 422 for a date under 7 days ahead (use ``now``) or over a year. Again: a new date."""
    store = services.store
    listing = require_listing(store, api_id)
    if listing["creator"] != principal.sub:
        raise Problem(403, f"API {api_id!r} is owned by another creator; only its owner unpublishes it")
    now = datetime.now(UTC)
    retiring_at = _retiring_at(body, now)
    at = time_text(retiring_at)
    store.transact(
        [update_op(listing_key(api_id), set_={"retiring_at": at}, when={"creator": principal.sub})],
        conflict=f"the listing of {api_id} changed meanwhile; unpublish again",
    )
    schedule(store, time_text(now), RETIRE_NOTICE, api_id, at, retiring_at=at)
    schedule(store, at, RETIRE, api_id, at, retiring_at=at)
    add_version(
        store, api_id, [{"type": "unpublished", "text": f"unpublished: subscriptions end on {at[:10]}"}], None, now
    )
    return Unpublished(api_id=api_id, retiring_at=retiring_at, subscribers=int(listing["subscribers"]))


@router.get("/listings/{api_id}/changelog", summary="The listing's versions, newest first")
def changelog(api_id: ApiId, services: ServicesDep) -> Changelog:
    """What changed about private plans is left out, as the plans themselves are (``plan_access.py``)."""
    store = services.store
    require_listing(store, api_id)
    private = {plan.name for plan in listed_plans(store, api_id) if plan.private}
    return Changelog(api_id=api_id, items=read_changelog(store, api_id, hidden_plans=private))


def read_changelog(store: Store, api_id: str, *, hidden_plans: Collection[str] = ()) -> list[Version]:
    """The versions, without the changes to ``hidden_plans`` (nor a version left with no change and no note)."""
    found = []
    for item in versions(store, api_id):
        changes = [change for change in item["changes"] if change.get("plan") not in hidden_plans]
        if changes or item.get("note"):
            found.append(Version.model_validate({**item, "changes": changes}))
    return found


def _retiring_at(body: UnpublishIn, now: datetime) -> datetime:
    if body.now:
        return now
    today = now.date()
    until = body.until or today + timedelta(days=DEFAULT_NOTICE_DAYS)
    if until < today + timedelta(days=MIN_NOTICE_DAYS):
        raise Problem(
            422,
            f"until: {until} is less than {MIN_NOTICE_DAYS} days ahead; give subscribers notice, or end it now (--now)",
        )
    if until > today + timedelta(days=MAX_NOTICE_DAYS):
        raise Problem(422, f"until: {until} is more than {MAX_NOTICE_DAYS} days ahead")
    return datetime.combine(until, time(0), UTC)


def annotations(store: Store, consumer: str, api_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """What a consumer's dashboard says of their subscription to each API: its plan deprecated, the API
    retiring, a price change coming (with its terms as words)."""
    found: dict[str, dict[str, Any]] = {}
    for api_id in api_ids:
        item = store.get(**subscription_key(consumer, api_id)) or {}
        listing = store.get(**listing_key(api_id)) or {}
        plan = store.get(**plan_key(api_id, item.get("plan", ""))) or {}
        change = item.get("price_change")
        found[api_id] = {
            "deprecated": bool(plan.get("deprecated")),
            "retiring_at": listing.get("retiring_at"),
            "price_change": change
            and {**change, "old_text": terms_text(change["old"]), "new_text": terms_text(change["new"])},
        }
    return found
