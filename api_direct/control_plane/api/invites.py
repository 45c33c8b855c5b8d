"""Invite links to a private plan: the creator makes, lists and revokes them (see :mod:`.plan_access`).

``POST /listings/{api_id}/invites`` answers the link with its token, once; ``GET``
lists the API's invites without tokens (only their hashes are kept, and never
shown); ``DELETE .../invites/{id}`` revokes one (its item is deleted, so a link
already shared stops working at once). Only the API's owner may do any of this.
"""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api_direct.control_plane.api.accounts import StrictModel, timestamp
from api_direct.control_plane.api.auth import Creator
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listing_changes import time_text
from api_direct.control_plane.api.listings import listed_plans, require_listing
from api_direct.control_plane.api.plan_access import INVITE_PREFIX, invite_key, invite_open, token_hash
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.api.store import GSI1, Store, api_pk
from api_direct.control_plane.api.subscriptions import PlanName
from api_direct.control_plane.web.rendering import WEB_PREFIX

#: An invite's id: ``inv_`` and 48 random bits (it names the invite to its creator; the token is what opens it).
INVITE_ID_PATTERN = r"^inv_[0-9a-f]{12}$"
MAX_INVITE_DAYS = 365
MAX_INVITE_USES = 100_000


class InviteIn(StrictModel):
    plan: PlanName
    #: How many subscriptions it may open; unlimited when absent.
    max_uses: Annotated[int, Field(ge=1, le=MAX_INVITE_USES)] | None = None
    #: Days it stays valid; for good when absent.
    expires_days: Annotated[int, Field(ge=1, le=MAX_INVITE_DAYS)] | None = None


class Invite(BaseModel):
    id: str
    api_id: str
    plan: str
    max_uses: int | None
    uses: int
    created_at: datetime
    expires_at: datetime | None
    #: Neither expired nor used up.
    usable: bool


class CreatedInvite(Invite):
    """The only answer that carries the token, in the link to share (it is not kept anywhere)."""

    token: str
    url: str


router = APIRouter(tags=["invites"])


@router.post(
    "/listings/{api_id}/invites", status_code=201, summary="Make an invite link to a private plan (shown once)"
)
def create_invite(
    api_id: ApiId, body: InviteIn, principal: Creator, services: ServicesDep, request: Request
) -> CreatedInvite:
    """403 unless you own the API; 422 unless the plan is one of its private plans."""
    store = services.store
    _require_owner(store, api_id, principal.sub)
    plans = {plan.name: plan for plan in listed_plans(store, api_id)}
    private = sorted(name for name, plan in plans.items() if plan.private)
    if body.plan not in private:
        offered = ", ".join(private) if private else "none: mark a plan private = true in apid.toml and publish"
        raise Problem(422, f"plan: {body.plan!r} is not a private plan of {api_id}; private plans: {offered}")
    token = secrets.token_urlsafe(32)
    now = timestamp()
    invite_id = f"inv_{secrets.token_hex(6)}"
    expires = time_text(datetime.now(UTC) + timedelta(days=body.expires_days)) if body.expires_days else None
    item = {
        **invite_key(token_hash(token)),
        "id": invite_id,
        "api_id": api_id,
        "plan": body.plan,
        "token_hash": token_hash(token),
        "uses": 0,
        "created_at": now,
        "gsi1pk": api_pk(api_id),
        "gsi1sk": f"{INVITE_PREFIX}{now}#{invite_id}",
        **({"max_uses": body.max_uses} if body.max_uses else {}),
        **({"expires_at": expires} if expires else {}),
    }
    store.put_new(item, conflict="an invite with that token exists already; make another")
    url = f"{str(request.base_url).rstrip('/')}{WEB_PREFIX}/apis/{api_id}?invite={token}"
    return CreatedInvite.model_validate({**_invite(item, now).model_dump(), "token": token, "url": url})


@router.get("/listings/{api_id}/invites", summary="Your API's invite links, newest first (never their tokens)")
def list_invites(api_id: ApiId, principal: Creator, services: ServicesDep) -> list[Invite]:
    _require_owner(services.store, api_id, principal.sub)
    now = timestamp()
    return [_invite(item, now) for item in _invite_items(services.store, api_id)]


@router.delete("/listings/{api_id}/invites/{invite_id}", status_code=204, summary="Revoke an invite link")
def revoke_invite(api_id: ApiId, invite_id: str, principal: Creator, services: ServicesDep) -> None:
    """Subscriptions it opened stay; the link opens no more. 404 for an invite the API has not."""
    store = services.store
    _require_owner(store, api_id, principal.sub)
    item = next((item for item in _invite_items(store, api_id) if item["id"] == invite_id), None)
    if item is None:
        raise Problem(404, f"{api_id} has no invite {invite_id!r}; list them with GET /listings/{api_id}/invites")
    store.delete(**invite_key(item["token_hash"]))


def _require_owner(store: Store, api_id: str, creator: str) -> None:
    if require_listing(store, api_id)["creator"] != creator:
        raise Problem(403, f"API {api_id!r} is owned by another creator; only its owner manages its invites")


def _invite_items(store: Store, api_id: str) -> list[dict[str, Any]]:
    return list(store.query(api_pk(api_id), INVITE_PREFIX, index=GSI1, newest_first=True))


def _invite(item: dict[str, Any], now: str) -> Invite:
    return Invite.model_validate(
        {
            **item,
            "max_uses": item.get("max_uses"),
            "expires_at": item.get("expires_at"),
            "usable": invite_open(item, now),
        }
    )
