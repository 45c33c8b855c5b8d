"""Prepaid credit's ledger: grants in (packs bought), billable units out (debits), unused units lost (expiry).

A subscription to a prepaid plan (:attr:`~api_direct.project.PricingPlan.prepaid`)
has a balance per consumer and API (it outlives a cancellation: credit bought is the
consumer's until it expires) and one item per grant:

| item | what it is |
| --- | --- |
| ``pk=CONSUMER#<sub>``, ``sk=CREDITS#<api>`` | the balance: ``granted``, ``used``, ``expired`` and ``remaining`` (= granted - used - expired, kept by the same ``ADD`` that moves the others), ``grants`` (how many), ``capped`` (whether the keys are held for credit), the saved card and the auto-reload settings |
| ``pk=CONSUMER#<sub>``, ``sk=CREDITGRANT#<api>#<granted at>#<payment intent>`` | one grant: ``units``, ``expires_at``, the payment; ``expired`` once it has (``gsi1pk=CREDITS#expiring``, sorted by ``expires_at``, until then) |
| ``pk=CREDITPAYMENT#<payment intent>``, ``sk=GRANT`` | the guard that grants a payment once |
| ``pk=CREDITREFUND#<refund id>``, ``sk=TAKEBACK`` | the guard that takes a refund's units back once |

Exactly once, each way in:

* **Grants** are keyed by the payment intent that paid them: the guard, the grant
  and the balance's ``ADD`` are one transaction whose guard may not exist yet, so
  Checkout's webhook, the browser's return, a ``payment_intent.succeeded`` and an
  auto-reload's own answer grant a payment once between them, whichever comes first.
* **Debits** are the aggregator's (:mod:`.metering`): :func:`debit_op` is one more
  item of the transaction that writes the usage record's marker and counter, so a
  record is debited exactly when it is counted, never twice.
* **Expiry** (:func:`expire_grant`, from the scheduled run) takes a grant's unused
  units in purchase order (FIFO: calls use the oldest credit first) and conditions
  on ``used`` being what it read, so a debit landing meanwhile makes it read again
  rather than expire units that were just spent.
* **Refunds** (:func:`take_back`) of a pack's payment take back the refunded share of
  its units, once per Stripe refund id: the guard, the grant's ``refunded`` and the
  balance's ``ADD`` are one transaction. The share is of all that is refunded of the
  payment so far, rounded up, less what earlier refunds took (so a full refund, in any
  number of parts, takes the whole pack); never more than the pack's units that have
  not expired. What was used of them shows as an overdraft, and the keys are capped
  as after any debit.

``remaining`` is ``granted - used - expired - refunded``.

Calls made before a cap lands (usage arrives minutes after the calls) are debited
all the same: ``remaining`` goes below zero, and the next grant pays that overdraft
first (as OpenAI's prepaid credits do), which the balance shows.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from api_direct.control_plane.api.store import CONDITION_FAILED, GSI1, PK, SK, Store, consumer_pk, update_op
from api_direct.control_plane.billing.earnings import PaidInvoice, record_revenue
from api_direct.project import CreditPack, PricingPlan

CREDITS_PREFIX = "CREDITS#"
GRANT_PREFIX = "CREDITGRANT#"
#: Grants that will expire are listed under this in ``gsi1``, sorted by when; an expired one leaves it.
EXPIRING = "CREDITS#expiring"
#: Balances whose auto-reload is due (a debit left them below their mark) are listed under this in ``gsi1``.
RELOAD_DUE = "CREDITS#reload-due"
#: A Checkout Session's or PaymentIntent's ``metadata["apid_purpose"]`` (``subscription_billing.PURPOSE``) for
#: credit bought.
CREDITS_PURPOSE = "credits"
#: The most packs one purchase buys.
MAX_PACKS = 100
#: How many times an expiry (or a refund's take-back) reads again after the balance or grant moved under it.
EXPIRY_ATTEMPTS = 5

Source = Literal["checkout", "reload"]


def stamp(at: datetime) -> str:
    """Times as grants store them: fixed width, so their order as text is their order in time."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def balance_key(consumer: str, api_id: str) -> dict[str, str]:
    return {PK: consumer_pk(consumer), SK: f"{CREDITS_PREFIX}{api_id}"}


def payment_guard_key(payment_intent: str) -> dict[str, str]:
    return {PK: f"CREDITPAYMENT#{payment_intent}", SK: "GRANT"}


def pack_fingerprint(pack: CreditPack) -> str:
    """Names a pack's Stripe price: a changed size or price gets a new one."""
    return hashlib.sha256(json.dumps([pack.calls, str(pack.price)]).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Balance:
    """A subscription's credit as its item holds it (all zero before the first grant)."""

    granted: int = 0
    used: int = 0
    expired: int = 0
    remaining: int = 0
    grants: int = 0
    capped: bool = False
    auto_reload: bool = False
    #: Auto-reload buys a pack when a debit leaves ``remaining`` below this.
    below_units: int | None = None
    #: The card saved by the last Checkout purchase (``setup_future_usage=off_session``), and its customer.
    payment_method: str | None = None
    customer: str | None = None
    #: Why auto-reload turned itself off (a declined card); cleared when the consumer turns it on again.
    reload_error: str | None = None
    #: Moves each time the settings are saved, so a reload after a decline is a new Stripe request.
    reload_epoch: int = 0
    #: The API's page, where more is bought: what a credit cap's 402 quotes.
    buy_url: str | None = None
    #: Units taken back by refunds of packs' payments.
    refunded: int = 0

    @classmethod
    def of(cls, item: Mapping[str, Any] | None) -> "Balance":
        if item is None:
            return cls()
        below = item.get("below_units")
        return cls(
            granted=int(item.get("granted", 0)),
            used=int(item.get("used", 0)),
            expired=int(item.get("expired", 0)),
            remaining=int(item.get("remaining", 0)),
            grants=int(item.get("grants", 0)),
            capped=bool(item.get("capped", False)),
            auto_reload=bool(item.get("auto_reload", False)),
            below_units=None if below is None else int(below),
            payment_method=item.get("payment_method"),
            customer=item.get("customer"),
            reload_error=item.get("reload_error"),
            reload_epoch=int(item.get("reload_epoch", 0)),
            buy_url=item.get("buy_url"),
            refunded=int(item.get("refunded", 0)),
        )

    @property
    def reloading(self) -> bool:
        """Auto-reload is on and can charge: the keys are not stopped at zero, a reload is on its way."""
        return self.auto_reload and self.reload_error is None and self.payment_method is not None

    @property
    def overdraft(self) -> int:
        """Units used beyond what was granted (calls made before the cap landed): the next grant pays these first."""
        return max(0, -self.remaining)


def read_balance(store: Store, consumer: str, api_id: str) -> Balance:
    key = balance_key(consumer, api_id)
    return Balance.of(store.get(key[PK], key[SK]))


CapAction = Literal["cap", "uncap"]


def on_plan(
    store: Store, consumer: str, api_id: str, plan: PricingPlan
) -> tuple[list[dict[str, Any]], CapAction | None]:
    """What subscribing (or moving) to ``plan`` does to the credit: the transaction's items, and the keys' cap.

    A prepaid plan opens the balance (kept if there is one: credit outlives a
    cancellation) and, with nothing left, caps the keys at once in the same
    transaction (a grant landing meanwhile fails it: the caller's 409 says retry).
    Any other plan lets keys held for credit go.
    """
    balance = read_balance(store, consumer, api_id)
    if not plan.is_prepaid:
        if not balance.capped:
            return [], None
        return [update_op(balance_key(consumer, api_id), set_={"capped": False})], "uncap"
    capping = balance.remaining <= 0  # even if flagged already: a new subscription's keys are not capped yet
    opening = {
        "Update": {
            "Key": balance_key(consumer, api_id),
            "UpdateExpression": "SET api_id = :api, consumer = :consumer, #plan = :plan,"
            " granted = if_not_exists(granted, :zero), used = if_not_exists(used, :zero),"
            " expired = if_not_exists(expired, :zero), remaining = if_not_exists(remaining, :zero),"
            " grants = if_not_exists(grants, :zero)" + (", capped = :capped" if capping else ""),
            "ExpressionAttributeNames": {"#plan": "plan"},
            "ExpressionAttributeValues": {
                ":api": api_id,
                ":consumer": consumer,
                ":plan": plan.name,
                ":zero": 0,
                **({":capped": True} if capping else {}),
            },
        }
    }
    if capping:
        opening["Update"]["ConditionExpression"] = "attribute_not_exists(remaining) OR remaining <= :zero"
    return [opening], "cap" if capping else None


def debit_op(api_id: str, consumer: str, units: int) -> dict[str, Any]:
    """The aggregator's debit of billable units, one item of the transaction that counts them.

    Unconditional: a transaction item whose condition failed would cancel the
    count with it. ``remaining`` may go below zero (the overdraft the next grant pays).
    """
    return {
        "Update": {
            "Key": balance_key(consumer, api_id),
            "UpdateExpression": "ADD used :units, remaining :negated SET api_id = :api, consumer = :consumer",
            "ExpressionAttributeValues": {":units": units, ":negated": -units, ":api": api_id, ":consumer": consumer},
        }
    }


@dataclass(frozen=True)
class Purchase:
    """A payment for packs, as Stripe reports it (a Checkout Session's PaymentIntent, or an auto-reload's)."""

    payment_intent: str
    consumer: str
    api_id: str
    plan: str
    packs: int
    #: What was paid, in the smallest unit of ``currency``.
    amount: int
    currency: str
    source: Source
    #: The card it was paid with, saved for auto-reload when the purchase asked for it.
    payment_method: str | None = None
    customer: str | None = None
    #: Stripe's fee on the payment (its charge's balance transaction), in cents: the creator bears it.
    stripe_fee: int = 0
    #: The units paid for, as the payment's metadata says; ``None``: the plan's pack as it is now, times ``packs``.
    units: int | None = None


@dataclass(frozen=True)
class Grant:
    """One grant as its item holds it."""

    sk: str
    units: int
    granted_at: str
    payment_intent: str
    amount: int
    source: str
    expires_at: str | None
    #: Units lost when it expired; ``None`` while it has not.
    expired: int | None
    #: Units taken back by refunds of its payment, and the cents those refunds gave back.
    refunded: int = 0
    refunded_amount: int = 0

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> "Grant":
        return cls(
            sk=item[SK],
            units=int(item["units"]),
            granted_at=item["granted_at"],
            payment_intent=item["payment_intent"],
            amount=int(item.get("amount", 0)),
            source=item.get("source", "checkout"),
            expires_at=item.get("expires_at"),
            expired=int(item["expired"]) if item.get("expired") is not None else None,
            refunded=int(item.get("refunded", 0)),
            refunded_amount=int(item.get("refunded_amount", 0)),
        )

    @property
    def kept(self) -> int:
        """The units the consumer still has paid for: all but those refunds took back."""
        return self.units - self.refunded

    @property
    def capacity(self) -> int:
        """The units this grant can pay for: those kept until it expires, then those it had paid for."""
        return self.kept - (self.expired or 0)


def grants_of(store: Store, consumer: str, api_id: str) -> list[Grant]:
    """The subscription's grants in purchase order (oldest first): the order calls use them in."""
    return [Grant.of(item) for item in store.query(consumer_pk(consumer), f"{GRANT_PREFIX}{api_id}#")]


def grant(store: Store, purchase: Purchase, pack: CreditPack, now: datetime) -> Literal["granted", "duplicate"]:
    """Add the purchase's units to the balance, once per payment intent; and credit the creator with it, once.

    The revenue is recorded whether or not this call granted: a crash between the
    two leaves a grant whose retry (Stripe redelivers) finds it granted and still
    records the revenue, which :func:`~.earnings.record_revenue` keys by the payment intent.
    """
    units = purchase.units if purchase.units is not None else pack.calls * purchase.packs
    granted_at = stamp(now)
    expires_at = stamp(now + timedelta(days=pack.expires_days)) if pack.expires_days else None
    grant_item: dict[str, Any] = {
        PK: consumer_pk(purchase.consumer),
        SK: f"{GRANT_PREFIX}{purchase.api_id}#{granted_at}#{purchase.payment_intent}",
        "api_id": purchase.api_id,
        "consumer": purchase.consumer,
        "units": units,
        "packs": purchase.packs,
        "granted_at": granted_at,
        "payment_intent": purchase.payment_intent,
        "amount": purchase.amount,
        "currency": purchase.currency,
        "source": purchase.source,
    }
    if expires_at:
        grant_item.update(expires_at=expires_at, gsi1pk=EXPIRING, gsi1sk=f"{expires_at}#{grant_item[SK]}")
    card = {"payment_method": purchase.payment_method} if purchase.payment_method else {}
    customer = {"customer": purchase.customer} if purchase.customer else {}
    saved = {**card, **customer, "api_id": purchase.api_id, "consumer": purchase.consumer, "plan": purchase.plan}
    names = {f"#s{i}": name for i, name in enumerate(saved)}
    values = {f":s{i}": value for i, value in enumerate(saved.values())}
    reasons = store.transact_conditionally(
        [
            {
                "Put": {
                    "Item": {**payment_guard_key(purchase.payment_intent), "grant_sk": grant_item[SK]},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": {"Item": grant_item}},
            {
                "Update": {
                    "Key": balance_key(purchase.consumer, purchase.api_id),
                    "UpdateExpression": "ADD granted :units, remaining :units, grants :one"
                    " SET used = if_not_exists(used, :zero), expired = if_not_exists(expired, :zero), "
                    + ", ".join(f"{name} = {value}" for name, value in zip(names, values, strict=True)),
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {":units": units, ":one": 1, ":zero": 0, **values},
                }
            },
        ],
        answered=[0],
    )
    record_revenue(
        store,
        PaidInvoice(
            purchase.payment_intent,
            purchase.amount,
            purchase.currency,
            purchase.api_id,
            purchase.consumer,
            payment_intent=purchase.payment_intent,
            stripe_fee=purchase.stripe_fee,
            plan=purchase.plan,
        ),
        now,
    )
    return "duplicate" if reasons and reasons[0] == CONDITION_FAILED else "granted"


def unused_units(grants: Sequence[Grant], target: Grant, used: int) -> int:
    """What of ``target`` is left unused after ``used`` units, spent oldest grant first (FIFO)."""
    before = 0
    for earlier in grants:
        if earlier.sk == target.sk:
            break
        before += earlier.capacity
    spent_from_target = min(max(used - before, 0), target.kept)
    return target.kept - spent_from_target


def expire_grant(store: Store, consumer: str, api_id: str, grant_sk: str) -> int | None:
    """Expire one grant: its unused units leave the balance. The units lost; ``None`` if it had expired already.

    Conditioned on the balance's ``used`` being what the computation read: a debit
    landing between the read and the write fails it, and it reads again.
    """
    for _ in range(EXPIRY_ATTEMPTS):
        grants = grants_of(store, consumer, api_id)
        target = next((g for g in grants if g.sk == grant_sk), None)
        if target is None or target.expired is not None:
            return None
        used = read_balance(store, consumer, api_id).used
        lost = unused_units(grants, target, used)
        try:
            store.table.meta.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": store.table.name,
                            "Key": {PK: consumer_pk(consumer), SK: grant_sk},
                            "UpdateExpression": "SET expired = :lost REMOVE gsi1pk, gsi1sk",
                            # A refund taking units back meanwhile changes what is unused: read again.
                            "ConditionExpression": "attribute_not_exists(expired) AND "
                            + _unchanged("refunded", ":refunded", target.refunded),
                            "ExpressionAttributeValues": {":lost": lost, ":refunded": target.refunded},
                        }
                    },
                    {
                        "Update": {
                            "TableName": store.table.name,
                            "Key": balance_key(consumer, api_id),
                            "UpdateExpression": "ADD expired :lost, remaining :negated",
                            "ConditionExpression": "used = :used",
                            "ExpressionAttributeValues": {":lost": lost, ":negated": -lost, ":used": used},
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            continue  # expired meanwhile (the next read says so) or debited or refunded meanwhile (read again)
        return lost
    raise RuntimeError(f"credit grant {grant_sk} kept moving under its expiry; the next run tries again")


def _unchanged(name: str, placeholder: str, read: int) -> str:
    """A condition that the number ``name`` is still ``read`` (absent reads as 0)."""
    absent = f" OR attribute_not_exists({name})" if read == 0 else ""
    return f"({name} = {placeholder}{absent})"


def refund_guard_key(refund_id: str) -> dict[str, str]:
    return {PK: f"CREDITREFUND#{refund_id}", SK: "TAKEBACK"}


def refunded_share(grant: Grant, refunded_amount: int) -> int:
    """The units refunds of ``refunded_amount`` cents of the grant's payment take back in all: that share of its
    units, rounded up (a full refund takes them all), but none that have expired."""
    share = -(-grant.units * refunded_amount // grant.amount)
    return min(share, grant.units - (grant.expired or 0))


def take_back(
    store: Store, refund_id: str, consumer: str, payment_intent: str, amount: int
) -> Literal["taken", "duplicate", "not credit"]:
    """Take a refund of ``amount`` cents of a pack's payment off the credit it granted, once by ``refund_id``.

    Conditioned on the grant's refunds and expiry being what was read: another refund
    or an expiry landing meanwhile makes it read again. ``not credit``: the payment
    granted no credit (a subscription's invoice).
    """
    paid = payment_guard_key(payment_intent)
    guard = store.get(paid[PK], paid[SK])
    if guard is None:
        return "not credit"
    for _ in range(EXPIRY_ATTEMPTS):
        item = store.get(consumer_pk(consumer), str(guard["grant_sk"]))
        if item is None:
            return "not credit"
        target = Grant.of(item)
        after = refunded_share(target, target.refunded_amount + amount)
        taken = max(after - target.refunded, 0)
        # An expiry reads the refunds it leaves out, and this reads what expired: neither may move under the other.
        expiry = "attribute_not_exists(expired)" if target.expired is None else "expired = :expired"
        reasons = store.transact_conditionally(
            [
                {
                    "Put": {
                        "Item": {**refund_guard_key(refund_id), "grant_sk": target.sk, "units": taken},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "Key": {PK: consumer_pk(consumer), SK: target.sk},
                        "UpdateExpression": "SET refunded = :after, refunded_amount = :amount",
                        "ConditionExpression": f"{_unchanged('refunded_amount', ':before', target.refunded_amount)}"
                        f" AND {expiry}",
                        "ExpressionAttributeValues": {
                            ":after": target.refunded + taken,
                            ":amount": target.refunded_amount + amount,
                            ":before": target.refunded_amount,
                            **({":expired": target.expired} if target.expired is not None else {}),
                        },
                    }
                },
                {
                    "Update": {
                        "Key": balance_key(consumer, str(item["api_id"])),
                        "UpdateExpression": "ADD refunded :taken, remaining :negated",
                        "ExpressionAttributeValues": {":taken": taken, ":negated": -taken},
                    }
                },
            ],
            answered=(0, 1),
        )
        if not reasons:
            return "taken"
        if reasons[0] == CONDITION_FAILED:
            return "duplicate"
    raise RuntimeError(f"credit grant {guard['grant_sk']} kept moving under refund {refund_id}; Stripe will retry")


def due_expiries(store: Store, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    """Grants whose ``expires_at`` has passed and that have not expired yet, soonest first."""
    response = store.table.query(
        IndexName=GSI1,
        KeyConditionExpression="gsi1pk = :expiring AND gsi1sk <= :now",
        ExpressionAttributeValues={":expiring": EXPIRING, ":now": f"{stamp(now)}~"},
        Limit=limit,
    )
    return list(response.get("Items", []))
