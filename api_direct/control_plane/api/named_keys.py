"""A subscription's keys: several, each named (one per app or environment), each rotated or revoked alone.

Rotation issues a new key under the same name and lets the old one work for a grace
period (:data:`DEFAULT_GRACE_SECONDS`, up to :data:`~api_direct.contracts.MAX_GRACE_SECONDS`; 0 ends it at
once): the old key's ``KeyRevoked`` carries ``expires_at``, and the API's authorizer
refuses it from then on. Its decisions are cached by API Gateway for the stage's
``key_cache_seconds``, so an old key may still be let through for up to that long
after its expiry, exactly as after a revocation.

Revoking a key revokes that key only while another key of the subscription remains
that is not itself on its way out (rotated, in its grace period). Revoking the last
one cancels the subscription (its billing ends with it): a subscription nobody can
call is never billed on.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api_direct.contracts import KEY_EXPIRES_AT, MAX_GRACE_SECONDS
from api_direct.control_plane.api.accounts import Matches, StrictModel, timestamp
from api_direct.control_plane.api.auth import Consumer
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.outbox import KeyEvent
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.api.store import PK, SK, Store, check_op, update_op
from api_direct.control_plane.api.subscriptions import (
    ACTIVE,
    DEFAULT_KEY_NAME,
    IssuedKey,
    active_subscription,
    cancel_subscription,
    commit,
    event_detail,
    held_like_its_subscription,
    issued,
    key_item_key,
    key_reference,
    new_key,
    own_keys,
    paid_up_subscription,
    revoke_op,
    revoked,
    shown_once,
    subscription_keys,
)
from api_direct.control_plane.billing.key_use import last_used

#: The first character a letter or digit: a name starting with "-" would read as a formula in a spreadsheet
#: opening the usage export.
KEY_NAME_PATTERN = r"[a-z0-9][a-z0-9_ -]{0,39}"
#: A subscription's keys, rotated-out ones still in their grace period included: one transaction cancels them all.
MAX_KEYS = 10
DEFAULT_GRACE_SECONDS = 24 * 3600

KeyName = Annotated[
    str, Matches(KEY_NAME_PATTERN, "1 to 40 characters: a-z, 0-9, '-', '_' or space, the first a letter or digit")
]

router = APIRouter(tags=["keys"])


class NewKey(StrictModel):
    name: KeyName


class Rotation(StrictModel):
    #: How long the old key keeps working; 0 revokes it at once.
    grace_seconds: Annotated[int, Field(ge=0, le=MAX_GRACE_SECONDS)] = DEFAULT_GRACE_SECONDS


class ApiKey(BaseModel):
    """A key as its owner may see it again: never the plaintext, never the hash."""

    key_id: str
    name: str
    api_id: str
    plan: str
    #: ``expiring``: rotated, works until ``expires_at``; ``expired``: that time has passed.
    status: Literal["active", "expiring", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime | None = None
    #: Start of the UTC hour of the latest usage record naming the key (records are hourly).
    last_used: datetime | None = None


@router.post(
    "/subscriptions/{api_id}/keys", status_code=201, summary="Add a named key to your subscription (shown once)"
)
def add_key(api_id: ApiId, body: NewKey, principal: Consumer, services: ServicesDep, response: Response) -> IssuedKey:
    """409 if the subscription already has a working key of that name, or :data:`MAX_KEYS` keys."""
    api_key, item = issue_named_key(services, principal.sub, api_id, body.name)
    return shown_once(item, api_key, response)


def issue_named_key(
    services: Services,
    consumer: str,
    api_id: str,
    name: str,
    *,
    with_writes: Sequence[Mapping[str, Any]] = (),
) -> tuple[str, dict[str, Any]]:
    """A new key on the consumer's subscription: its plaintext (for the caller to show once) and its item.

    ``with_writes`` join the key's transaction, so a caller's own conditional write
    (an agent's one claim, :mod:`.agent_requests`) and the key happen together or not at all.
    """
    subscription = paid_up_subscription(services.store, consumer, api_id)
    keys = subscription_keys(services.store, subscription)
    if any(_name(item) == name for item in keys if KEY_EXPIRES_AT not in item):
        raise Problem(
            409, f"your subscription to {api_id} already has a key named {name!r}; rotate it or pick another name"
        )
    if len(keys) >= MAX_KEYS:
        raise Problem(409, f"your subscription to {api_id} has {MAX_KEYS} keys, the most it may have; revoke one first")
    api_key, item = new_key(consumer, api_id, subscription["plan"], timestamp(), name)
    commit(
        services,
        writes=[
            {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            _move_newest(subscription, item),
            *with_writes,
        ],
        events=[issued(item), *held_like_its_subscription(services.store, item)],
        conflict=f"your subscription to {api_id} changed meanwhile; retry",
    )
    return api_key, item


@router.get("/keys", summary="Your API keys, current and revoked, with their last use (never their values)")
def list_keys(principal: Consumer, services: ServicesDep) -> list[ApiKey]:
    now = timestamp()
    return [
        ApiKey.model_validate(
            {
                **item,
                "name": _name(item),
                "status": _status(item, now),
                "last_used": last_used(services.store, item["key_id"]),
            }
        )
        for item in own_keys(services.store, principal.sub)
    ]


@router.post("/keys/{key_id}/rotate", status_code=201, summary="Replace a key; the old one works for a grace period")
def rotate_key(
    key_id: str, principal: Consumer, services: ServicesDep, response: Response, body: Rotation | None = None
) -> IssuedKey:
    """The new key has the old one's name. 409 for a key already rotated or revoked."""
    old = _own_key(services.store, principal.sub, key_id)
    if old["status"] != ACTIVE or KEY_EXPIRES_AT in old:
        raise Problem(409, f"key {key_id} was already rotated or revoked; rotate its successor instead")
    subscription = paid_up_subscription(services.store, principal.sub, old["api_id"])
    return rotate(services, principal.sub, subscription, old, (body or Rotation()).grace_seconds, response)


@router.post("/subscriptions/{api_id}/rotate", status_code=201, summary="Replace the subscription's newest key at once")
def rotate_newest(api_id: ApiId, principal: Consumer, services: ServicesDep, response: Response) -> IssuedKey:
    """Kept from before keys had names: ``POST /keys/{key_id}/rotate`` with a grace period of 0."""
    subscription = paid_up_subscription(services.store, principal.sub, api_id)
    old = _stored(services.store, subscription["key_hash"])
    if old is None:
        raise Problem(409, f"your subscription to {api_id} changed meanwhile; retry")
    return rotate(services, principal.sub, subscription, old, 0, response)


def rotate(
    services: Services,
    consumer: str,
    subscription: dict[str, Any],
    old: dict[str, Any],
    grace_seconds: int,
    response: Response,
) -> IssuedKey:
    """Issue the new key and end the old one now or at the end of its grace period, in one transaction.

    The issue's event comes first, so the API's account knows the new key before the old one stops.
    """
    api_id, now = subscription["api_id"], timestamp()
    if grace_seconds > 0 and len(subscription_keys(services.store, subscription)) >= MAX_KEYS:
        raise Problem(
            409,
            f"your subscription to {api_id} has {MAX_KEYS} keys counting those in a grace period;"
            " rotate with a grace of 0 or revoke one first",
        )
    api_key, new = new_key(consumer, api_id, subscription["plan"], now, _name(old))
    if grace_seconds == 0:
        end, event = revoke_op(old, now), revoked(old)
    else:
        expires = (datetime.fromisoformat(now) + timedelta(seconds=grace_seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        end = update_op(key_item_key(old["key_hash"]), set_={KEY_EXPIRES_AT: expires}, when={"status": ACTIVE})
        event = KeyEvent("KeyRevoked", api_id, {**event_detail(old), KEY_EXPIRES_AT: expires})
    commit(
        services,
        writes=[
            {"Put": {"Item": new, "ConditionExpression": "attribute_not_exists(pk)"}},
            end,
            _move_newest(subscription, new),
        ],
        events=[issued(new), *held_like_its_subscription(services.store, new), event],
        conflict=f"your subscription to {api_id} changed meanwhile; retry",
    )
    return shown_once(new, api_key, response)


@router.delete(
    "/keys/{key_id}", status_code=204, summary="Revoke a key; revoking the last one cancels the subscription"
)
def revoke_key(key_id: str, principal: Consumer, services: ServicesDep) -> None:
    """Another consumer's key is a 404, exactly like a key that does not exist. Safe to repeat."""
    key = _own_key(services.store, principal.sub, key_id)
    if key["status"] != ACTIVE:
        return
    subscription = active_subscription(services.store, principal.sub, key["api_id"])
    others = [
        item
        for item in subscription_keys(services.store, subscription)
        if item["key_id"] != key_id and KEY_EXPIRES_AT not in item
    ]
    if not others:
        cancel_subscription(services, subscription)
        return
    # The subscription keeps naming its newest key; the check makes a concurrent revocation of that key fail.
    newest = next((item for item in others if item["key_id"] == subscription["key_id"]), others[0])
    now = timestamp()
    commit(
        services,
        writes=[
            revoke_op(key, now),
            _move_newest(subscription, newest),
            check_op(key_item_key(newest["key_hash"]), when={"status": ACTIVE}),
        ],
        events=[revoked(key)],
        conflict=f"the keys of your subscription to {key['api_id']} changed meanwhile; retry",
    )


def _own_key(store: Store, consumer: str, key_id: str) -> dict[str, Any]:
    """The consumer's key, read back from the table (the index may lag); 404 for anyone else's."""
    listed = next((item for item in own_keys(store, consumer) if item["key_id"] == key_id), None)
    key = _stored(store, listed["key_hash"]) if listed is not None else None
    if key is None:
        raise Problem(404, f"you have no key {key_id!r}; list yours with GET /keys")
    return key


def _move_newest(subscription: dict[str, Any], key: dict[str, Any]) -> dict[str, Any]:
    """Point the subscription at ``key``, on condition that nobody changed its keys since it was read."""
    return update_op(
        _subscription_item_key(subscription),
        set_=key_reference(key),
        when={"status": ACTIVE, "key_id": subscription["key_id"]},
    )


def _subscription_item_key(subscription: dict[str, Any]) -> dict[str, str]:
    return {PK: subscription[PK], SK: subscription[SK]}


def _stored(store: Store, key_hash: str) -> dict[str, Any] | None:
    key = key_item_key(key_hash)
    return store.get(key[PK], key[SK])


def _name(item: dict[str, Any]) -> str:
    return str(item.get("name", DEFAULT_KEY_NAME))


def _status(item: dict[str, Any], now: str) -> str:
    if item["status"] != ACTIVE:
        return "revoked"
    if KEY_EXPIRES_AT in item:
        return "expired" if item[KEY_EXPIRES_AT] <= now else "expiring"
    return "active"
