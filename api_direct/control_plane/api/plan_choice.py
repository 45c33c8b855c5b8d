"""Picking a plan anew (subscribing, changing plan, an agent's request): which plans may be picked.

The one check every way of picking goes through, so none of them lets a consumer
onto a deprecated plan, a private plan without its invite, or a retiring API
(:mod:`.plan_access` says why each is refused as it is).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from api_direct.control_plane.api.accounts import timestamp
from api_direct.control_plane.api.listings import listed_plans, require_listing, require_plan
from api_direct.control_plane.api.plan_access import choices_text, count_use, require_invite
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.store import Store


@dataclass(frozen=True)
class Choice:
    """The plan picked, and what the subscribe transaction writes for its invite."""

    plan_item: dict[str, Any]
    writes: list[Mapping[str, Any]] = field(default_factory=list)


def choose_plan(
    store: Store, api_id: str, plan: str, *, invite: str | None = None, new_subscriber: bool = True
) -> Choice:
    """The plan if it may be picked: 404 for an unknown API, 410 while it retires (for a new subscriber),
    422 for a plan it has not (or a private one without its invite) or a deprecated one, 404/410 for an
    invite that names nothing or is spent."""
    listing = require_listing(store, api_id)
    if new_subscriber and listing.get("retiring_at"):
        raise Problem(410, f"{api_id} is retiring on {listing['retiring_at'][:10]} and takes no new subscribers")
    now = timestamp()
    invite_item = require_invite(store, api_id, invite, now) if invite else None
    plans = listed_plans(store, api_id)
    found = next((each for each in plans if each.name == plan), None)
    invited = found is not None and found.private and invite_item is not None and invite_item["plan"] == plan
    if found is None or (found.private and not invited):
        raise Problem(422, f"plan: {api_id} has no plan {plan!r}; choose one of: {choices_text(plans)}")
    if found.deprecated:
        raise Problem(
            422,
            f"plan: {plan} of {api_id} is deprecated and takes no new subscribers; choose one of: {choices_text(plans)}",
        )
    if invited and invite_item is not None:
        return Choice(require_plan(store, api_id, plan), [count_use(invite_item, now)])
    return Choice(require_plan(store, api_id, plan))
