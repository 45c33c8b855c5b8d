"""Subscriptions and API keys: what a consumer buys, and the key that proves it.

A key's plaintext exists in one place only: the response that issues it. The table
keeps its SHA-256 (``pk=KEY#<hash>``) and events carry only that hash, which is what
the API's account stores too.

A subscription has one or more named keys (:mod:`~api_direct.control_plane.api.named_keys`);
the subscription item names its newest (``key_id``), and every key change conditions on
and moves that name, so concurrent changes to one subscription's keys serialize.
What happens to a subscription (a plan change, a suspension, a cancellation) happens
to each of its active keys, one key event per key.

Every change is one transaction that holds its key events too (:mod:`.outbox`): the
table's stream delivers them to the API's account after the change commits, so the
control plane and the API's account never disagree about whether a key works, and
a change whose transaction fails has told the API's account nothing.

With billing on, a paid plan's Stripe subscription is made before the key
(:mod:`~api_direct.control_plane.billing.subscription_billing`): a declined card is a
402 with no key issued, and a subscription whose key could not be issued is
cancelled again. A failed payment suspends the key (``KeySuspended``) until a later
invoice is paid (``KeyRestored``); Stripe ending the subscription cancels it here.
"""

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import stripe
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api_direct.contracts import KEY_CAP_REASON, KEY_ENDS_USAGE, KEY_EXPIRES_AT, KEY_USAGE_ID
from api_direct.control_plane.api.accounts import Matches, StrictModel, timestamp
from api_direct.control_plane.api.auth import Consumer
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.listings import listing_key, plan_key
from api_direct.control_plane.api.outbox import KeyEvent, outbox_writes
from api_direct.control_plane.api.plan_access import MAX_TOKEN_LENGTH
from api_direct.control_plane.api.plan_choice import choose_plan
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.api.store import (
    GSI2,
    PK,
    SK,
    Store,
    api_pk,
    consumer_of,
    consumer_pk,
    key_pk,
    update_op,
)
from api_direct.control_plane.api.trials import (
    CheckoutSessionId,
    card_for,
    needs_card,
    trial_end_text,
    trial_record,
)
from api_direct.control_plane.billing import credits
from api_direct.control_plane.billing.metering import key_id_index_pk
from api_direct.control_plane.billing.stripe_gateway import PaymentDeclined, StripeUnavailable
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.project import PLAN_NAME_PATTERN, PricingPlan
from api_direct.runtime.api_keys import generate_key, hash_key, usage_id_of

ACTIVE, CANCELLED, REVOKED = "active", "cancelled", "revoked"
#: ``billing_status`` of a subscription: paid up, or its key suspended for a failed payment.
PAID_UP, SUSPENDED = "ok", "suspended"
SUB_PREFIX = "SUB#"
KEY_PREFIX = "KEY#"
#: The name of the key a subscription starts with (and of keys issued before keys had names).
DEFAULT_KEY_NAME = "default"

logger = logging.getLogger(__name__)
T = TypeVar("T")

PlanName = Annotated[str, Matches(PLAN_NAME_PATTERN, "a plan name such as free or pro")]


class SubscribeIn(StrictModel):
    api_id: ApiId
    plan: PlanName
    #: The token of an invite link: what opens a private plan (each subscription counts one of its uses).
    invite: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)] | None = None
    #: A completed ``POST /subscriptions/checkout`` session: the card a plan with a free trial needs.
    checkout_session: CheckoutSessionId | None = None


class PlanChange(StrictModel):
    plan: PlanName


class IssuedKey(BaseModel):
    """The only response that carries a key's plaintext (``api_key``): it is not kept anywhere."""

    api_id: str
    plan: str
    key_id: str
    name: str = DEFAULT_KEY_NAME
    api_key: str
    created_at: datetime


class Subscription(BaseModel):
    api_id: str
    plan: str
    status: Literal["active", "cancelled"]
    #: ``suspended`` while an invoice is unpaid: the key is refused until a payment goes through.
    billing_status: Literal["ok", "suspended"] = "ok"
    #: The subscription's newest key (``GET /keys`` lists all of them, old ones too).
    key_id: str
    created_at: datetime
    cancelled_at: datetime | None = None
    #: When the free trial ends and charging starts; ``None`` without a trial.
    trial_end: datetime | None = None


router = APIRouter(tags=["subscriptions"])


@router.post("/subscriptions", status_code=201, summary="Subscribe to a plan and get an API key (shown once)")
def subscribe(body: SubscribeIn, principal: Consumer, services: ServicesDep, response: Response) -> IssuedKey:
    """404 for an unknown API, 422 for a plan it does not offer (or not to you: deprecated, or private
    without its ``invite``), 410 while the API retires, 409 if already subscribed, 402 if the card is declined
    or a plan with a free trial has no card yet (:mod:`.trials`)."""
    store = services.store
    choice = choose_plan(store, body.api_id, body.plan, invite=body.invite)
    plan_item = choice.plan_item
    key = subscription_key(principal.sub, body.api_id)
    previous = _subscription(store, principal.sub, body.api_id)
    if previous is not None and previous["status"] == ACTIVE:
        raise Problem(
            409,
            f"you already subscribe to {body.api_id} (plan {previous['plan']}); change the plan with "
            f"PUT /subscriptions/{body.api_id}/plan or add a key with POST /subscriptions/{body.api_id}/keys",
        )
    billing, trial_end = services.billing, None
    stripe_subscription: str | None = None
    if billing and (needs_card(services, plan_item) or body.checkout_session):
        card = billed(lambda: card_for(services, principal.sub, body.api_id, plan_item, body.checkout_session))
        stripe_subscription, trial_ends = billed(
            lambda: billing.start_with_card(principal.sub, body.api_id, plan_item, card.payment_method, card.trial_days)
        )
        trial_end = trial_end_text(trial_ends) if trial_ends else None
    elif billing:
        stripe_subscription = billed(lambda: billing.start(principal.sub, body.api_id, plan_item))
    now = timestamp()
    api_key, key_item = new_key(principal.sub, body.api_id, body.plan, now)
    subscription = {
        **key,
        "gsi1pk": api_pk(body.api_id),
        "gsi1sk": f"{SUB_PREFIX}{principal.sub}",
        "api_id": body.api_id,
        "plan": body.plan,
        "status": ACTIVE,
        "billing_status": PAID_UP,
        "key_id": key_item["key_id"],
        "key_hash": key_item["key_hash"],
        "created_at": now,
        **({"stripe_subscription": stripe_subscription} if stripe_subscription else {}),
        **({"trial_end": trial_end} if trial_end else {}),
    }
    counted = {"subscribers": 1}
    credit_writes, credit_cap = credits.on_plan(store, principal.sub, body.api_id, PricingPlan.of(plan_item))
    trial = trial_record(principal.sub, body.api_id, body.plan, trial_end) if trial_end else None
    try:
        commit(
            services,
            writes=[
                {
                    "Put": {
                        "Item": subscription,
                        "ConditionExpression": "attribute_not_exists(pk) OR #status <> :active",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":active": ACTIVE},
                    }
                },
                {"Put": {"Item": key_item, "ConditionExpression": "attribute_not_exists(pk)"}},
                update_op(listing_key(body.api_id), add=counted, exists=True),
                update_op(plan_key(body.api_id, body.plan), add=counted, exists=True),
                *choice.writes,
                *([trial] if trial else []),
                *credit_writes,
            ],
            events=[issued(key_item), *credit_cap_events([key_item], credit_cap)],
            conflict=f"you subscribed to {body.api_id} meanwhile, or its plans changed; retry",
        )
    except Exception:
        _undo_billing(services, lambda billing: billing.abandon(stripe_subscription))
        raise
    return shown_once(key_item, api_key, response)


@router.get("/subscriptions", summary="Your subscriptions, active and cancelled")
def list_subscriptions(principal: Consumer, services: ServicesDep) -> list[Subscription]:
    return [Subscription.model_validate(item) for item in services.store.query(consumer_pk(principal.sub), SUB_PREFIX)]


@router.delete("/subscriptions/{api_id}", status_code=204, summary="Cancel a subscription (its key stops working)")
def cancel(api_id: ApiId, principal: Consumer, services: ServicesDep) -> None:
    """Safe to repeat: cancelling a cancelled subscription changes nothing."""
    subscription = _subscription(services.store, principal.sub, api_id)
    if subscription is None:
        raise _not_subscribed(api_id)
    if subscription["status"] == ACTIVE:
        cancel_subscription(services, subscription)


@router.put("/subscriptions/{api_id}/plan", summary="Move your subscription (and its keys) to another plan")
def change_plan(api_id: ApiId, body: PlanChange, principal: Consumer, services: ServicesDep) -> Subscription:
    """The keys stay the same; the API's account applies the new plan's limits to them."""
    store = services.store
    subscription = paid_up_subscription(store, principal.sub, api_id)
    old = subscription["plan"]
    if body.plan == old:
        return Subscription.model_validate(subscription)
    plan_item = choose_plan(store, api_id, body.plan, new_subscriber=False).plan_item
    billing = services.billing
    stripe_side = billed(lambda: billing.change(subscription, plan_item)) if billing else {}
    try:
        _change_plan_in_table(services, subscription, body.plan, plan_item, stripe_side)
    except Exception:
        old_item = store.get(api_pk(api_id), f"PLAN#{old}") or {}
        _undo_billing(services, lambda billing: billing.revert(subscription, stripe_side, old_item))
        raise
    return Subscription.model_validate({**subscription, "plan": body.plan, **stripe_side})


def _change_plan_in_table(
    services: Services,
    subscription: Mapping[str, Any],
    plan: str,
    plan_item: Mapping[str, Any],
    stripe_side: Mapping[str, Any],
) -> None:
    api_id, old = subscription["api_id"], subscription["plan"]
    key, keys = {PK: subscription[PK], SK: subscription[SK]}, subscription_keys(services.store, subscription)
    consumer = consumer_of(subscription[PK])
    credit_writes, credit_cap = credits.on_plan(services.store, consumer, api_id, PricingPlan.of(plan_item))
    commit(
        services,
        writes=[
            update_op(
                key,
                set_={"plan": plan, **stripe_side},
                remove=["price_change"],  # the new plan's price applies at once (listing_changes.py)
                when={"status": ACTIVE, "key_id": subscription["key_id"]},
            ),
            *(update_op(key_item_key(item["key_hash"]), set_={"plan": plan}, when={"status": ACTIVE}) for item in keys),
            update_op(plan_key(api_id, old), add={"subscribers": -1}),
            update_op(plan_key(api_id, plan), add={"subscribers": 1}, exists=True),
            *credit_writes,
        ],
        events=[
            *(KeyEvent("PlanChanged", api_id, {**event_detail(item), "plan": plan}) for item in keys),
            *credit_cap_events(keys, credit_cap),
        ],
        conflict=f"your subscription to {api_id}, or its plans, changed meanwhile; retry",
    )


def subscription_key(consumer: str, api_id: str) -> dict[str, str]:
    return {PK: consumer_pk(consumer), SK: f"{SUB_PREFIX}{api_id}"}


def subscription_keys(store: Store, subscription: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The subscription's working keys (rotated-out ones in their grace period too), newest first.

    A key past its grace period is left out: the API's authorizer already refuses
    it, and its record there is on its way out (TTL), so nothing more is sent about it.

    Found through the consumer's key index and each read back from the table, so a
    key revoked a moment ago (which the index may still show active) is left out; the
    subscription's newest key is read directly, so one added a moment ago is in.
    """
    # The subscription's partition key is its consumer's, which is also what the key index is keyed by.
    listed = store.query(subscription[PK], KEY_PREFIX, index=GSI2, newest_first=True)
    hashes = [item["key_hash"] for item in listed if item["api_id"] == subscription["api_id"]]
    if subscription["key_hash"] not in hashes:
        hashes.insert(0, subscription["key_hash"])
    keys = (store.get(key_pk(key_hash), "KEY") for key_hash in hashes)
    now = timestamp()
    return [
        item
        for item in keys
        if item is not None and item["status"] == ACTIVE and (KEY_EXPIRES_AT not in item or item[KEY_EXPIRES_AT] > now)
    ]


def has_active_subscription(store: Store, consumer: str, api_id: str) -> bool:
    item = _subscription(store, consumer, api_id)
    return item is not None and item["status"] == ACTIVE


def _subscription(store: Store, consumer: str, api_id: str) -> dict[str, Any] | None:
    key = subscription_key(consumer, api_id)
    return store.get(key[PK], key[SK])


def active_subscription(store: Store, consumer: str, api_id: str) -> dict[str, Any]:
    item = _subscription(store, consumer, api_id)
    if item is None or item["status"] != ACTIVE:
        raise _not_subscribed(api_id)
    return item


def paid_up_subscription(store: Store, consumer: str, api_id: str) -> dict[str, Any]:
    """An active subscription whose key is not suspended: a suspended one cannot get a new key or plan."""
    item = active_subscription(store, consumer, api_id)
    if item.get("billing_status") == SUSPENDED:
        raise Problem(
            402,
            f"your key for {api_id} is suspended because a payment failed; update your payment"
            " method in Stripe and it is restored when the invoice is paid",
        )
    return item


def suspend_for_payment(services: Services, consumer: str, api_id: str, stripe_subscription: str) -> bool:
    """A payment failed: suspend the subscription's key in the API's account; whether anything changed."""
    return _set_billing_status(services, consumer, api_id, stripe_subscription, SUSPENDED, "KeySuspended")


def restore_after_payment(services: Services, consumer: str, api_id: str, stripe_subscription: str) -> bool:
    """An invoice was paid: restore a key suspended for an earlier failure; whether anything changed."""
    return _set_billing_status(services, consumer, api_id, stripe_subscription, PAID_UP, "KeyRestored")


def end_for_stripe(services: Services, consumer: str, api_id: str, stripe_subscription: str) -> bool:
    """Stripe ended the subscription (unpaid for good, or cancelled there): revoke the key too."""
    item = _subscription(services.store, consumer, api_id)
    if item is None or item["status"] != ACTIVE or item.get("stripe_subscription") != stripe_subscription:
        return False
    cancel_subscription(services, item, end_billing=False)
    return True


def _set_billing_status(
    services: Services,
    consumer: str,
    api_id: str,
    stripe_subscription: str,
    status: str,
    detail_type: Literal["KeySuspended", "KeyRestored"],
) -> bool:
    """Move the subscription to ``status`` and tell the API's account; no-op for another Stripe subscription."""
    item = _subscription(services.store, consumer, api_id)
    if (
        item is None
        or item["status"] != ACTIVE
        or item.get("stripe_subscription") != stripe_subscription
        or item.get("billing_status", PAID_UP) == status
    ):
        return False
    key = subscription_key(consumer, api_id)
    commit(
        services,
        writes=[
            update_op(key, set_={"billing_status": status}, when={"status": ACTIVE, "key_id": item["key_id"]}),
        ],
        events=[KeyEvent(detail_type, api_id, event_detail(key)) for key in subscription_keys(services.store, item)],
        conflict=f"the subscription to {api_id} changed meanwhile",
    )
    return True


def billed(operation: Callable[[], T]) -> T:
    """Run a Stripe step of a request: a declined card is a 402, Stripe being down a 503, a refusal a 502."""
    try:
        return operation()
    except PaymentDeclined as error:
        raise Problem(402, f"payment declined: {error}; use another card and subscribe again") from None
    except StripeUnavailable as error:
        raise Problem(
            503, f"billing is unavailable right now ({error}); nothing was changed, retry in a minute"
        ) from None
    except stripe.StripeError as error:
        raise Problem(502, f"Stripe refused the change: {error.user_message or type(error).__name__}") from None


def _undo_billing(services: Services, undo: Callable[[SubscriptionBilling], None]) -> None:
    """Take back a Stripe step whose table change failed; the original error is what the caller sees."""
    if services.billing is None:
        return
    try:
        undo(services.billing)
    except Exception:
        # Stripe now bills what the table does not show; an operator must look.
        logger.exception("could not take back a Stripe change after the table change failed")


def _not_subscribed(api_id: str) -> Problem:
    return Problem(404, f"you have no active subscription to {api_id}; list yours with GET /subscriptions")


def cancel_subscription(services: Services, subscription: Mapping[str, Any], *, end_billing: bool = True) -> None:
    """Revoke every key of the subscription and end it, uncounting its subscriber.

    Stripe is told first (the subscription ends with its period, so usage still being
    reported is invoiced): if Stripe cannot be reached nothing has changed. Not when
    Stripe itself ended the subscription (``end_billing=False``).
    """
    billing = services.billing
    if end_billing and billing:
        billed(lambda: billing.end(subscription))
    api_id, plan = subscription["api_id"], subscription["plan"]
    key, keys = {PK: subscription[PK], SK: subscription[SK]}, subscription_keys(services.store, subscription)
    now, counted = timestamp(), {"subscribers": -1}
    commit(
        services,
        writes=[
            update_op(
                key,
                set_={"status": CANCELLED, "cancelled_at": now},
                when={"status": ACTIVE, "key_id": subscription["key_id"]},
            ),
            *(revoke_op(item, now) for item in keys),
            update_op(listing_key(api_id), add=counted),
            update_op(plan_key(api_id, plan), add=counted),
        ],
        events=[revoked(item, ends_subscription=True) for item in keys],
        conflict=f"your subscription to {api_id} changed meanwhile; retry",
    )


def commit(
    services: Services,
    *,
    writes: Sequence[Mapping[str, Any]],
    events: Sequence[KeyEvent],
    conflict: str,
) -> None:
    """Write the change and its key events atomically (:mod:`.outbox` delivers them); 409 ``conflict`` if a
    condition failed."""
    services.store.transact([*writes, *outbox_writes(events)], conflict)


def revoke_op(key_item: Mapping[str, Any], now: str) -> dict[str, Any]:
    return update_op(
        key_item_key(key_item["key_hash"]), set_={"status": REVOKED, "revoked_at": now}, when={"status": ACTIVE}
    )


def new_key(
    consumer: str, api_id: str, plan: str, now: str, name: str = DEFAULT_KEY_NAME
) -> tuple[str, dict[str, Any]]:
    """A key's plaintext (for the one response) and the item that stores only its hash."""
    api_key = generate_key()
    key_hash, key_id = hash_key(api_key), f"key_{secrets.token_hex(8)}"
    return api_key, {
        **key_item_key(key_hash),
        "key_id": key_id,
        "name": name,
        "key_hash": key_hash,
        "consumer": consumer,
        "api_id": api_id,
        "plan": plan,
        "status": ACTIVE,
        "created_at": now,
        "gsi2pk": consumer_pk(consumer),
        "gsi2sk": f"{KEY_PREFIX}{now}#{key_id}",
        # Usage records name keys by id: the aggregator finds the consumer through this.
        "gsi1pk": key_id_index_pk(key_id),
        "gsi1sk": "KEY",
    }


def shown_once(key_item: Mapping[str, Any], api_key: str, response: Response) -> IssuedKey:
    response.headers["Cache-Control"] = "no-store"
    return IssuedKey.model_validate({**key_item, "api_key": api_key})


def own_keys(store: Store, consumer: str) -> list[dict[str, Any]]:
    return list(store.query(consumer_pk(consumer), KEY_PREFIX, index=GSI2, newest_first=True))


def key_item_key(key_hash: str) -> dict[str, str]:
    return {PK: key_pk(key_hash), SK: "KEY"}


def key_reference(item: Mapping[str, Any]) -> dict[str, str]:
    """What names a key: its id and hash, never its plaintext."""
    return {"key_id": item["key_id"], "key_hash": item["key_hash"]}


def event_detail(item: Mapping[str, Any]) -> dict[str, str]:
    """What every key event says of the key: its reference, and the usage identifier it is counted under.

    The usage identifier is the subscription's, so the API's account counts all of
    the subscription's keys against one rate and quota.
    """
    return {**key_reference(item), KEY_USAGE_ID: usage_id_of(item["consumer"], item["api_id"])}


def issued(key_item: Mapping[str, Any]) -> KeyEvent:
    return KeyEvent(
        "KeyIssued",
        key_item["api_id"],
        {**event_detail(key_item), "plan": key_item["plan"]},
    )


def held_like_its_subscription(store: Store, key_item: Mapping[str, Any]) -> list[KeyEvent]:
    """A new key (added or rotated in) held as its subscription's keys are for used-up prepaid credit, if they are:
    a new key must not be a way around the 402."""
    capped = credits.read_balance(store, key_item["consumer"], key_item["api_id"]).capped
    return credit_cap_events([key_item], "cap" if capped else None)


def credit_cap_events(key_items: Sequence[Mapping[str, Any]], action: credits.CapAction | None) -> list[KeyEvent]:
    """The keys held for used-up prepaid credit (``cap``) or let go (``uncap``), as :func:`credits.on_plan` says."""
    if action is None:
        return []
    kind: Literal["KeyCapped", "KeyUncapped"] = "KeyCapped" if action == "cap" else "KeyUncapped"
    return [KeyEvent(kind, item["api_id"], {**key_reference(item), KEY_CAP_REASON: "credit"}) for item in key_items]


def revoked(item: Mapping[str, Any], ends_subscription: bool = False) -> KeyEvent:
    """``ends_subscription`` when no key of the subscription works after this one: its shared usage key goes too."""
    ends = {KEY_ENDS_USAGE: True} if ends_subscription else {}
    return KeyEvent("KeyRevoked", item["api_id"], {**event_detail(item), **ends})
