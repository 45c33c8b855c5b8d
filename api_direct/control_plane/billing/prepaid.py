"""Prepaid credit in motion: packs bought, keys held at zero and let go when credit comes, auto-reload, expiry.

The ledger is :mod:`.credits`; this moves the rest of the world with it:

* **The credit cap.** A subscription whose ``remaining`` is at or below zero has its
  keys capped (``KeyCapped`` with reason ``credit``: the API answers 402 naming
  where to buy more); a grant that brings it above zero lets them go
  (``KeyUncapped``). The balance's ``capped`` flag is flipped by a conditional write
  on ``remaining`` (so a grant and a debit racing cannot both win), and only the
  flipper sends the event. Key events are ordered by when they are sent, so a flipper
  that finds, after sending, that the flag has flipped back meanwhile sends the
  current state again: the last event sent is always the flag's.
* **Auto-reload.** When a debit leaves ``remaining`` below the consumer's mark, the
  balance is marked due (``gsi1pk=CREDITS#reload-due``); the scheduled run (every 15
  minutes: the aggregator never holds the Stripe key) charges the saved card
  off-session for one pack at a time, with the idempotency key (consumer, API, grant
  number, settings epoch): concurrent or repeated triggers for the same grant are one
  charge. The grant is keyed by the payment, as any other. Meanwhile the keys are not
  capped at zero (auto-reload on means "do not stop me"; the overdraft is paid from
  the pack). A decline turns auto-reload off, says why on the balance and alerts the
  consumer (``credit.reload_failed``); the keys are capped once the credit is used up.
* **Expiry.** The scheduled run expires each due grant (:func:`expire_due`).
* **Refunds.** A refund of a pack takes its share of the units back
  (:func:`take_back_refund`), which may leave the balance at or below zero: the keys
  are capped then, as after a debit.
"""

import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from api_direct.control_plane.api.listing_changes import billed_plan
from api_direct.control_plane.api.store import GSI1, PK, SK, Store, api_pk, consumer_of
from api_direct.control_plane.api.subscriptions import ACTIVE, subscription_key
from api_direct.control_plane.billing import credits, earnings
from api_direct.control_plane.billing.alerting import Alert, Alerter, cap_keys, uncap_keys
from api_direct.control_plane.billing.credits import Balance, Purchase, balance_key, read_balance
from api_direct.control_plane.billing.earnings import Refund
from api_direct.control_plane.billing.periods import month_text
from api_direct.control_plane.billing.stripe_gateway import PaymentDeclined, StripeGateway, cents
from api_direct.control_plane.billing.subscription_billing import PURPOSE
from api_direct.project import PricingPlan

logger = logging.getLogger(__name__)

#: The low mark when the consumer set none: a tenth of a pack.
LOW_SHARE = 10
#: The most packs one scheduled run buys for one subscription (a large overdraft takes several runs).
MAX_RELOADS = 10


def plan_of(store: Store, api_id: str, plan: str) -> PricingPlan | None:
    item = store.get(api_pk(api_id), f"PLAN#{plan}")
    return PricingPlan.of(item) if item else None


def billed_plan_of(store: Store, subscription: Mapping[str, Any]) -> PricingPlan | None:
    """The subscription's plan at the terms it still pays: during a price change's notice, the old pack's."""
    plan = plan_of(store, subscription["api_id"], subscription["plan"])
    return billed_plan(plan, subscription) if plan else None


def purchase_metadata(
    consumer: str, api_id: str, plan: PricingPlan, packs: int, source: credits.Source
) -> dict[str, str]:
    """What a credit payment carries on Stripe (Checkout Session and PaymentIntent): enough to grant it from there,
    the units it buys included (a pack the creator resizes meanwhile does not change what was paid for)."""
    assert plan.prepaid is not None
    return {
        PURPOSE: credits.CREDITS_PURPOSE,
        "apid_consumer": consumer,
        "apid_api": api_id,
        "apid_plan": plan.name,
        "apid_packs": str(packs),
        "apid_units": str(plan.prepaid.calls * packs),
        "apid_source": source,
    }


def purchase_of(
    payment_intent: str,
    metadata: Mapping[str, Any],
    amount: int,
    currency: str,
    *,
    payment_method: str | None = None,
    customer: str | None = None,
    stripe_fee: int = 0,
) -> Purchase | None:
    """The purchase a Stripe payment's metadata names; ``None`` for a payment that is not one."""
    if metadata.get(PURPOSE) != credits.CREDITS_PURPOSE:
        return None
    try:
        packs = int(metadata["apid_packs"])
        units = int(metadata["apid_units"]) if "apid_units" in metadata else None
        consumer, api_id, plan = str(metadata["apid_consumer"]), str(metadata["apid_api"]), str(metadata["apid_plan"])
    except (KeyError, ValueError):
        return None
    source: credits.Source = "reload" if metadata.get("apid_source") == "reload" else "checkout"
    return Purchase(
        payment_intent,
        consumer,
        api_id,
        plan,
        packs,
        amount,
        currency.lower(),
        source,
        payment_method=payment_method,
        customer=customer,
        stripe_fee=stripe_fee,
        units=units,
    )


def fee_of(gateway: StripeGateway, payment_intent: str) -> int:
    """Stripe's fee on a payment (its charge's balance transaction), in cents; 0 while it has no settled charge."""
    charged = gateway.charge_fee(payment_intent)
    return charged.fee if charged else 0


def receive(store: Store, purchase: Purchase, now: datetime) -> bool:
    """Grant a paid purchase (once) and let the keys go if the credit covers them again; whether it granted now."""
    plan = plan_of(store, purchase.api_id, purchase.plan)
    if plan is None or plan.prepaid is None:
        logger.error("paid credit for a plan that sells none: %s %s", purchase.api_id, purchase.plan)
        return False
    outcome = credits.grant(store, purchase, plan.prepaid, now)
    settle_cap(store, purchase.consumer, purchase.api_id)
    return outcome == "granted"


def take_back_refund(store: Store, refund: Refund) -> bool:
    """After the ledger has a refund of a pack: take its share of the pack's units back from the credit (once by
    the refund's id) and cap the keys if that used the credit up; whether the refund was of credit at all.

    Both ways a refund arrives (the creator's request and Stripe's ``charge.refunded``) call this whether or not
    they recorded the refund themselves, so a crash between the ledger and the credit is mended by the other.
    """
    paid = earnings.paid_entry(store, refund.invoice_id)
    if paid is None or not paid.get("payment_intent"):
        return False
    consumer, api_id = str(paid["consumer"]), str(paid["api_id"])
    outcome = credits.take_back(store, refund.refund_id, consumer, str(paid["payment_intent"]), refund.amount)
    if outcome == "not credit":
        return False
    settle_cap(store, consumer, api_id)
    return True


def settle_cap(store: Store, consumer: str, api_id: str) -> None:
    """Make the subscription's keys' credit cap what its balance says: capped at or below zero, else not."""
    key = subscription_key(consumer, api_id)
    subscription = store.get(key[PK], key[SK])
    if subscription is None or subscription["status"] != ACTIVE:
        return
    plan = plan_of(store, api_id, subscription["plan"])
    prepaid = plan is not None and plan.is_prepaid
    sent: bool | None = None
    for _ in range(3):
        balance = read_balance(store, consumer, api_id)
        want = prepaid and balance.remaining <= 0 and not balance.reloading
        if balance.capped == want:
            break
        if _flip(store, consumer, api_id, want, prepaid):
            _send(store, subscription, want, balance)
            sent = want
    if sent is not None:
        now_capped = read_balance(store, consumer, api_id).capped
        if now_capped != sent:  # flipped back while we sent: ours may have arrived last
            _send(store, subscription, now_capped, read_balance(store, consumer, api_id))


def _flip(store: Store, consumer: str, api_id: str, capped: bool, prepaid: bool) -> bool:
    """Set ``capped`` iff it is not yet and the balance still calls for it; whether this call set it."""
    condition = "(attribute_not_exists(capped) OR capped <> :capped)"
    values: dict[str, Any] = {":capped": capped}
    if capped or prepaid:
        condition += " AND remaining <= :zero" if capped else " AND remaining > :zero"
        values[":zero"] = 0
    try:
        store.table.update_item(
            Key=balance_key(consumer, api_id),
            UpdateExpression="SET capped = :capped",
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _send(store: Store, subscription: Mapping[str, Any], capped: bool, balance: Balance) -> None:
    if capped:
        cap_keys(store, subscription, None, "credit", balance.buy_url)
    else:
        uncap_keys(store, subscription, "credit")


def after_debit(store: Store, alerter: Alerter | None, subscription: tuple[str, str], now: datetime) -> None:
    """What a batch's debits call for: a reload marked due below the mark, a low-credit alert, the cap at zero.

    ``subscription`` is (API, consumer). The aggregator never holds the Stripe key
    (it reads what creators' accounts send), so it only marks the reload due; the
    scheduled run charges (:func:`reload_due`). Meanwhile the keys keep working past
    zero: auto-reload on means the consumer asked not to be stopped.
    """
    api_id, consumer = subscription
    balance = read_balance(store, consumer, api_id)
    key = subscription_key(consumer, api_id)
    item = store.get(key[PK], key[SK])
    plan = plan_of(store, api_id, item["plan"]) if item else None
    if item is not None and plan is not None and plan.prepaid is not None and item["status"] == ACTIVE:
        mark = low_mark(balance, plan)
        if balance.remaining < mark and balance.reloading:
            store.table.update_item(
                Key=balance_key(consumer, api_id),
                UpdateExpression="SET gsi1pk = :due, gsi1sk = :sort",
                ExpressionAttributeValues={":due": credits.RELOAD_DUE, ":sort": f"{consumer}#{api_id}"},
            )
        elif balance.remaining < mark and alerter is not None:
            alerter.fire(_credit_alert("credit_low", item, plan, balance, mark, now), item, now)
    settle_cap(store, consumer, api_id)


def reload_due(store: Store, gateway: StripeGateway | None, alerter: Alerter | None, now: datetime) -> int:
    """The scheduled run's reloads: each subscription marked due buys packs until it is above its mark again
    (at most :data:`MAX_RELOADS` a run); the packs bought. Without billing, none (the marks stay)."""
    if gateway is None:
        return 0
    bought = 0
    for due in store.query(credits.RELOAD_DUE, index=GSI1):
        consumer, api_id = consumer_of(due[PK]), due["api_id"]
        store.table.update_item(Key=balance_key(consumer, api_id), UpdateExpression="REMOVE gsi1pk, gsi1sk")
        key = subscription_key(consumer, api_id)
        subscription = store.get(key[PK], key[SK])
        try:
            for _ in range(MAX_RELOADS):
                if subscription is None or not reload(store, gateway, alerter, subscription, now):
                    break
                bought += 1
        except Exception:
            logger.exception("prepaid credit not reloaded: %s %s", api_id, consumer)
        settle_cap(store, consumer, api_id)
    return bought


def low_mark(balance: Balance, plan: PricingPlan) -> int:
    """Below how many remaining units auto-reload buys, or the consumer is told credit is low."""
    if balance.below_units is not None:
        return balance.below_units
    return (plan.prepaid.calls if plan.prepaid else 0) // LOW_SHARE


def reload(
    store: Store,
    gateway: StripeGateway,
    alerter: Alerter | None,
    subscription: Mapping[str, Any],
    now: datetime,
) -> bool:
    """Charge the saved card for one pack and grant it, if the balance is below its mark; whether this granted it.

    A decline turns auto-reload off (so the keys are capped at zero) and alerts the consumer.
    """
    consumer, api_id, plan_name = consumer_of(subscription[PK]), subscription["api_id"], subscription["plan"]
    balance = read_balance(store, consumer, api_id)
    plan = billed_plan_of(store, subscription)
    if (
        subscription["status"] != ACTIVE
        or plan is None
        or plan.prepaid is None
        or not balance.reloading
        or balance.payment_method is None
        or balance.customer is None
        or balance.remaining >= low_mark(balance, plan)
    ):
        return False
    number = balance.grants + 1
    idempotency_key = f"apid-reload-{consumer}-{api_id}-{number}-{balance.reload_epoch}"
    amount = cents(plan.prepaid.price)
    try:
        payment_intent = gateway.charge_saved_card(
            balance.customer,
            balance.payment_method,
            amount,
            purchase_metadata(consumer, api_id, plan, 1, "reload"),
            idempotency_key,
        )
    except PaymentDeclined as declined:
        _turn_off_reload(store, consumer, api_id, balance.reload_epoch, str(declined))
        if alerter is not None:
            mark = low_mark(balance, plan)
            alerter.fire(_credit_alert("reload_failed", subscription, plan, balance, mark, now), subscription, now)
        return False
    purchase = Purchase(
        payment_intent,
        consumer,
        api_id,
        plan_name,
        1,
        amount,
        gateway.currency,
        "reload",
        payment_method=balance.payment_method,
        customer=balance.customer,
        stripe_fee=fee_of(gateway, payment_intent),
        units=plan.prepaid.calls,
    )
    return receive(store, purchase, now)  # False when another trigger's grant of this payment came first


def _turn_off_reload(store: Store, consumer: str, api_id: str, epoch: int, reason: str) -> None:
    """Auto-reload off, with why; unless the consumer saved new settings meanwhile (a new epoch)."""
    try:
        store.table.update_item(
            Key=balance_key(consumer, api_id),
            UpdateExpression="SET auto_reload = :off, reload_error = :reason",
            ConditionExpression="reload_epoch = :epoch OR (attribute_not_exists(reload_epoch) AND :epoch = :zero)",
            ExpressionAttributeValues={":off": False, ":reason": reason, ":epoch": epoch, ":zero": 0},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _credit_alert(
    kind: Literal["credit_low", "reload_failed"],
    subscription: Mapping[str, Any],
    plan: PricingPlan,
    balance: Balance,
    mark: int,
    now: datetime,
) -> Alert:
    return Alert(
        id=f"evt_{secrets.token_hex(12)}",
        kind=kind,
        api_id=subscription["api_id"],
        consumer=consumer_of(subscription[PK]),
        plan=plan.name,
        period=month_text(now),
        threshold=0,
        used=balance.remaining,
        limit=mark,
        currency="",
        created=now.isoformat(timespec="seconds"),
        grant=balance.grants,
    )


def expire_due(store: Store, now: datetime) -> int:
    """Expire every grant past its ``expires_at``; the units lost. The keys are capped where that empties the credit.

    A grant that fails (a debit kept moving under it) is logged and left to the next run.
    """
    lost = 0
    for due in credits.due_expiries(store, now):
        consumer, api_id = consumer_of(due[PK]), due["api_id"]
        try:
            lost += credits.expire_grant(store, consumer, api_id, due[SK]) or 0
            settle_cap(store, consumer, api_id)
        except Exception:
            logger.exception("credit grant not expired: %s", due[SK])
    return lost
