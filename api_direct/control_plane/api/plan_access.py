"""Who may see and pick which plan: deprecated plans, private plans and the invite links that open them.

A plan marked ``deprecated`` in apid.toml keeps its subscribers, but nobody new may
pick it (subscribe, change plan, or ask through an agent). A ``private`` plan is
shown and subscribable only with an invite link its creator made (``apid invite
create``). Without a valid invite a private plan is answered exactly as a plan the
API does not have (the same 422, naming the plans one can pick), so its existence
is never revealed.

An invite is one item, ``pk=INVITE#<SHA-256 of the token>``, ``sk=INVITE``, listed
under its API (``gsi1pk=API#<api_id>``, ``gsi1sk=INVITE#<created_at>#<id>``). Only the
token's hash is kept: the token is in the link the creator is shown once. A
subscription that uses an invite counts the use in its own transaction
(:func:`count_use`): the count is conditional on being below ``max_uses``, so two
consumers racing for the last use cannot both have it.

This module reads the table directly and imports no other route module, so the
listings module can use it.
"""

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.store import PK, SK, Store
from api_direct.project import PricingPlan

INVITE_SK = "INVITE"
INVITE_PREFIX = "INVITE#"
#: Longest invite token accepted from a URL or a body (:func:`new token <secrets.token_urlsafe>` makes 32).
MAX_TOKEN_LENGTH = 128


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_key(token_digest: str) -> dict[str, str]:
    return {PK: f"{INVITE_PREFIX}{token_digest}", SK: INVITE_SK}


def usable_invite(store: Store, api_id: str, token: str | None, now: str) -> dict[str, Any] | None:
    """The invite ``token`` names for ``api_id`` if it can still be used at ``now``; else ``None``."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    item = store.get(**invite_key(token_hash(token)))
    if item is None or item["api_id"] != api_id or not invite_open(item, now):
        return None
    return item


def invite_open(item: Mapping[str, Any], now: str) -> bool:
    """Not expired and not used up (a revoked invite is deleted)."""
    expired = item.get("expires_at") is not None and item["expires_at"] <= now
    used_up = item.get("max_uses") is not None and item["uses"] >= item["max_uses"]
    return not (expired or used_up)


def require_invite(store: Store, api_id: str, token: str, now: str) -> dict[str, Any]:
    """The usable invite, or the one-line reason it is not (the token named no invite, or it is spent)."""
    item = store.get(**invite_key(token_hash(token))) if len(token) <= MAX_TOKEN_LENGTH else None
    if item is None or item["api_id"] != api_id:
        raise Problem(404, f"invite: no invite link of {api_id} has that token; ask the API's creator for one")
    if not invite_open(item, now):
        raise Problem(410, "invite: this invite link has expired or is used up; ask the API's creator for a new one")
    return item


def count_use(item: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The transaction write counting one use of the invite.

    The write's condition is the invite's: still there (not revoked), not expired, below ``max_uses``.
    """
    return {
        "Update": {
            "Key": invite_key(item["token_hash"]),
            "UpdateExpression": "ADD #uses :one",
            "ConditionExpression": "attribute_exists(pk)"
            " AND (attribute_not_exists(#max) OR #uses < #max)"
            " AND (attribute_not_exists(#expires) OR #expires > :now)",
            "ExpressionAttributeNames": {"#uses": "uses", "#max": "max_uses", "#expires": "expires_at"},
            "ExpressionAttributeValues": {":one": 1, ":now": now},
        }
    }


def pickable(plan: PricingPlan) -> bool:
    """Whether anyone may newly pick the plan without an invite."""
    return not (plan.deprecated or plan.private)


def shown_plans(
    plans: Iterable[PricingPlan], *, own: str | None = None, invited: str | None = None
) -> list[PricingPlan]:
    """The plans a consumer is shown: those anyone may pick, their own plan, and the plan their invite opens."""
    return [plan for plan in plans if pickable(plan) or plan.name in (own, invited)]


def public_plans(plans: Iterable[PricingPlan], *, invited: str | None = None) -> list[PricingPlan]:
    """What ``GET /listings/{api_id}`` answers: private plans only with their invite; deprecated ones marked."""
    return [plan for plan in plans if not plan.private or plan.name == invited]


def choices_text(plans: Iterable[PricingPlan]) -> str:
    names = [plan.name for plan in plans if pickable(plan)]
    return ", ".join(names) if names else "none (it takes no new subscribers)"
