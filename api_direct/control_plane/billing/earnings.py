"""Creators' earnings: revenue in from paid invoices and packs, refunds and fees out, the rest paid out once.

The ledger, in the control plane table:

| item | what it is |
| --- | --- |
| ``pk=INVOICE#<id>``, ``sk=PAID`` | one paid invoice (or prepaid pack, keyed by its payment intent): amount, Stripe's fees on it, what was refunded of it, API, consumer, creator, month, and for the consumer alone its Stripe link and period (``gsi2pk=LEDGER#<creator>`` for the creator's ledger, ``gsi1pk=INVOICES#<consumer>`` for the consumer's invoices; both sorted ``<month>#<id>``) |
| ``pk=PAYMENT#<payment intent>``, ``sk=LEDGER`` | which ledger entry a payment intent paid: how a refund made on Stripe's dashboard finds it |
| ``pk=REFUND#<refund id>``, ``sk=REFUND`` | one refund of an entry, recorded once by Stripe's id (``gsi2pk=REFUNDS#<creator>``, sorted ``<month>#<id>``) |
| ``pk=DISPUTE#<dispute id>``, ``sk=DISPUTE`` | one dispute of an entry, recorded once by Stripe's id: amount, Stripe's dispute fee, ``open`` then ``won`` or ``lost`` |
| ``pk=CREATOR#<sub>``, ``sk=EARNINGS#<YYYY-MM>`` | a month's revenue, refunds, disputes (amounts and fees) and Stripe fees (and any debt carried in from the month before); once closed, its platform fee and payout; once paid, the transfer |
| ``pk=CREATOR#<sub>``, ``sk=PAYOUTS`` | the creator's Stripe Connect account |

A paid invoice is recorded once (the invoice item is created on condition it does
not exist, in the same transaction as the month's ``ADD``), in the month the control
plane learns of it, and only while that month is ``open``; so is a refund, in the
month it is made, whichever month the payment was in, and never beyond what is left
of the payment. A dispute (a chargeback) takes its amount and Stripe's dispute fee
off the month it is opened in, once by Stripe's dispute id; a won dispute gives both
back in the month it is won, a lost one leaves them taken. A month moves ``open`` -> ``closed`` (its numbers frozen, fee and
payout computed) -> ``paid`` (transfer made). Its payout is revenue - refunds - disputes and their fees -
Stripe's fees - the platform fee (:mod:`.fees`: a percent of revenue net of refunds),
less any debt carried in; a month that comes out below zero pays nothing and carries
the rest into the next month, as a debt its payout settles first.
``gsi1`` lists the open and closed months so each run is one query. The transfer's
idempotency key is (creator, month), and before transferring the run looks for a
transfer of that month's ``transfer_group``, so neither a retry nor a crash after
Stripe's answer, however much later, pays a month twice.
"""  # noqa: E501 (Markdown table rows cannot wrap)

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import stripe

from api_direct.control_plane.api.store import GSI2, PK, SK, Store, api_pk, creator_pk, update_op
from api_direct.control_plane.billing.fees import platform_fee
from api_direct.control_plane.billing.lifecycle import advance, listed
from api_direct.control_plane.billing.periods import month_text, months_payable_before
from api_direct.control_plane.billing.stripe_gateway import StripeGateway, StripeUnavailable

OPEN, CLOSED, PAID = "open", "closed", "paid"
PAYOUTS_SK = "PAYOUTS"


@dataclass(frozen=True)
class PaidInvoice:
    """The part of a Stripe ``invoice.paid`` event the ledger keeps."""

    invoice_id: str
    amount: int
    currency: str
    api_id: str
    consumer: str
    #: Stripe's page of the invoice for its customer (``None`` if Stripe sent none): only the consumer sees it,
    #: as it shows their billing details.
    hosted_invoice_url: str | None = None
    #: The period the invoice bills (Stripe's ``period_start`` and ``period_end``).
    period_start: datetime | None = None
    period_end: datetime | None = None
    #: The payment intent that paid it (``None``: none, or not known): what a refund is made on.
    payment_intent: str | None = None
    #: Stripe's card fee on the payment, from its charge's balance transaction, and Stripe Billing's
    #: (:func:`~.fees.billing_fee`, a subscription's invoices only), in cents.
    stripe_fee: int = 0
    billing_fee: int = 0
    #: The plan it pays for (a subscription's, from its metadata; a pack's); ``None`` when not known.
    plan: str | None = None


@dataclass(frozen=True)
class Refund:
    """One refund Stripe made of a ledger entry (``invoice_id``: an invoice's or a pack's id)."""

    refund_id: str
    invoice_id: str
    amount: int
    reason: str | None = None


@dataclass(frozen=True)
class Dispute:
    """One dispute of a ledger entry's payment: the amount disputed and Stripe's fee on the dispute, in cents."""

    dispute_id: str
    invoice_id: str
    amount: int
    fee: int


class PayoutsFailed(RuntimeError):
    """Some months could not be paid this run; the others were. The message names them."""


@dataclass
class PayoutSummary:
    closed: int = 0
    paid: int = 0
    #: Cents sent in new transfers this run (a transfer found from a crashed run is not counted again).
    transferred: int = 0
    #: Months waiting for their creator to finish Stripe Connect onboarding.
    waiting: int = 0


def earnings_key(creator: str, month: str) -> dict[str, str]:
    return {PK: creator_pk(creator), SK: f"EARNINGS#{month}"}


def months_index_pk(state: str) -> str:
    return f"EARNINGS#{state}"


def ledger_index_pk(creator: str) -> str:
    return f"LEDGER#{creator}"


def invoices_index_pk(consumer: str) -> str:
    """A consumer's paid invoices are listed under this in ``gsi1`` (an invoice never changes state, so
    ``gsi1`` is free on it)."""
    return f"INVOICES#{consumer}"


def refunds_index_pk(creator: str) -> str:
    return f"REFUNDS#{creator}"


def payment_key(payment_intent: str) -> dict[str, str]:
    return {PK: f"PAYMENT#{payment_intent}", SK: "LEDGER"}


def invoice_key(invoice_id: str) -> dict[str, str]:
    return {PK: f"INVOICE#{invoice_id}", SK: "PAID"}


def refund_key(refund_id: str) -> dict[str, str]:
    return {PK: f"REFUND#{refund_id}", SK: "REFUND"}


def paid_entry(store: Store, invoice_id: str) -> dict[str, Any] | None:
    """The ledger's entry of a paid invoice or pack; ``None`` if it has none."""
    return _get(store, invoice_key(invoice_id))


def _get(store: Store, key: dict[str, str]) -> dict[str, Any] | None:
    return store.get(key[PK], key[SK])


def _optional(invoice: PaidInvoice) -> dict[str, str]:
    """The invoice's link, period, payment and plan, those known (an item holds no empty attributes)."""
    found = {
        "hosted_invoice_url": invoice.hosted_invoice_url,
        "period_start": invoice.period_start.isoformat() if invoice.period_start else None,
        "period_end": invoice.period_end.isoformat() if invoice.period_end else None,
        "payment_intent": invoice.payment_intent,
        "plan": invoice.plan,
    }
    return {name: value for name, value in found.items() if value}


def _open_month(creator: str, month: str, currency: str, add: dict[str, int]) -> dict[str, Any]:
    """The transaction's ``ADD`` to a creator's month, which it creates ``open`` if need be; refused once the
    month has closed (a clock far behind the payout run's): nothing is written and the caller's error makes Stripe
    deliver the event again."""
    names = {"#state": "state", "#month": "month", **{f"#a{i}": name for i, name in enumerate(add)}}
    values = {f":a{i}": amount for i, amount in enumerate(add.values())}
    return {
        "Update": {
            "Key": earnings_key(creator, month),
            "UpdateExpression": "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(add))) + " SET #month = :month,"
            " creator = :creator, currency = :currency, #state = if_not_exists(#state, :open),"
            " gsi1pk = if_not_exists(gsi1pk, :index), gsi1sk = :sort",
            "ConditionExpression": "attribute_not_exists(pk) OR #state = :open",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                **values,
                ":month": month,
                ":creator": creator,
                ":currency": currency,
                ":open": OPEN,
                ":index": months_index_pk(OPEN),
                ":sort": f"{month}#{creator}",
            },
        }
    }


def record_revenue(
    store: Store, invoice: PaidInvoice, now: datetime
) -> Literal["recorded", "duplicate", "unknown api"]:
    """Credit the API's creator with a paid invoice (or pack) and charge it Stripe's fees on it, once."""
    listing = store.get(api_pk(invoice.api_id), "LISTING")
    if listing is None:
        return "unknown api"
    creator, month = listing["creator"], month_text(now)
    by_month = f"{month}#{invoice.invoice_id}"
    entry = {
        **invoice_key(invoice.invoice_id),
        "invoice_id": invoice.invoice_id,
        "amount": invoice.amount,
        "currency": invoice.currency,
        "api_id": invoice.api_id,
        "consumer": invoice.consumer,
        "creator": creator,
        "month": month,
        "recorded_at": now.isoformat(),
        "stripe_fee": invoice.stripe_fee,
        "billing_fee": invoice.billing_fee,
        **_optional(invoice),
        "gsi1pk": invoices_index_pk(invoice.consumer),
        "gsi1sk": by_month,
        "gsi2pk": ledger_index_pk(creator),
        "gsi2sk": by_month,
    }
    fees = invoice.stripe_fee + invoice.billing_fee
    operations = [
        {"Put": {"Item": entry, "ConditionExpression": "attribute_not_exists(pk)"}},
        _open_month(creator, month, invoice.currency, {"revenue": invoice.amount, "invoices": 1, "stripe_fees": fees}),
    ]
    if invoice.payment_intent:
        pointer = {**payment_key(invoice.payment_intent), "invoice_id": invoice.invoice_id}
        operations.append({"Put": {"Item": pointer}})
    # Only "already recorded" is an answer (see _open_month for the other refusal).
    reasons = store.transact_conditionally(operations, answered=(0,))
    return "duplicate" if reasons else "recorded"


def record_refund(
    store: Store, refund: Refund, now: datetime
) -> Literal["recorded", "duplicate", "unknown payment", "more than left"]:
    """Take a refund off its creator's earnings of the month it is made in, once by Stripe's refund id.

    ``more than left`` (the ledger holds refunds of more than the payment) should not happen, as
    Stripe refuses such a refund: nothing is written.
    """
    paid = paid_entry(store, refund.invoice_id)
    if paid is None:
        return "unknown payment"
    if _get(store, refund_key(refund.refund_id)) is not None:
        return "duplicate"
    most_before = int(paid["amount"]) - refund.amount
    if most_before < 0:
        return "more than left"
    creator, month = str(paid["creator"]), month_text(now)
    entry = {
        **refund_key(refund.refund_id),
        "refund_id": refund.refund_id,
        "invoice_id": refund.invoice_id,
        "amount": refund.amount,
        "currency": paid["currency"],
        "api_id": paid["api_id"],
        "consumer": paid["consumer"],
        "creator": creator,
        "month": month,
        "recorded_at": now.isoformat(),
        **({"reason": refund.reason} if refund.reason else {}),
        "gsi2pk": refunds_index_pk(creator),
        "gsi2sk": f"{month}#{refund.refund_id}",
    }
    reasons = store.transact_conditionally(
        [
            {"Put": {"Item": entry, "ConditionExpression": "attribute_not_exists(pk)"}},
            {
                "Update": {
                    "Key": invoice_key(refund.invoice_id),
                    "UpdateExpression": "ADD refunded :amount, refunds :one",
                    "ConditionExpression": "attribute_not_exists(refunded) OR refunded <= :most",
                    "ExpressionAttributeValues": {":amount": refund.amount, ":one": 1, ":most": most_before},
                }
            },
            _open_month(creator, month, str(paid["currency"]), {"refunds": refund.amount, "refund_count": 1}),
        ],
        answered=(0, 1),
    )
    if not reasons:
        return "recorded"
    return "duplicate" if reasons[0] != "None" else "more than left"


def dispute_key(dispute_id: str) -> dict[str, str]:
    return {PK: f"DISPUTE#{dispute_id}", SK: "DISPUTE"}


DISPUTE_OPEN, DISPUTE_WON, DISPUTE_LOST = "open", "won", "lost"


def record_dispute(
    store: Store, dispute: Dispute, now: datetime
) -> Literal["recorded", "duplicate", "unknown payment"]:
    """Take a disputed amount and Stripe's dispute fee off the creator's month, once by Stripe's dispute id.

    Before the month is paid out this lowers its payout; after, the month it is taken from is the open one, and a
    month that comes out below zero carries the debt into the next (:func:`payout_of`)."""
    paid = paid_entry(store, dispute.invoice_id)
    if paid is None:
        return "unknown payment"
    creator, month = str(paid["creator"]), month_text(now)
    entry = {
        **dispute_key(dispute.dispute_id),
        "dispute_id": dispute.dispute_id,
        "invoice_id": dispute.invoice_id,
        "amount": dispute.amount,
        "fee": dispute.fee,
        "currency": paid["currency"],
        "creator": creator,
        "month": month,
        "status": DISPUTE_OPEN,
        "recorded_at": now.isoformat(),
    }
    taken = {"disputes": dispute.amount, "dispute_fees": dispute.fee, "dispute_count": 1}
    reasons = store.transact_conditionally(
        [
            {"Put": {"Item": entry, "ConditionExpression": "attribute_not_exists(pk)"}},
            _open_month(creator, month, str(paid["currency"]), taken),
        ],
        answered=(0,),
    )
    return "duplicate" if reasons else "recorded"


def close_dispute(
    store: Store, dispute_id: str, won: bool, now: datetime
) -> Literal["given back", "kept", "already closed", "unknown dispute"]:
    """Settle a recorded dispute once: won, its amount and fee come back in the month it is won; lost, they stay
    taken."""
    found = _get(store, dispute_key(dispute_id))
    if found is None:
        return "unknown dispute"
    close = update_op(
        dispute_key(dispute_id),
        set_={"status": DISPUTE_WON if won else DISPUTE_LOST, "closed_at": now.isoformat()},
        when={"status": DISPUTE_OPEN},
        exists=True,
    )
    operations = [close]
    if won:
        back = {"disputes": -int(found["amount"]), "dispute_fees": -int(found["fee"])}
        operations.append(_open_month(str(found["creator"]), month_text(now), str(found["currency"]), back))
    if store.transact_conditionally(operations, answered=(0,)):
        return "already closed"
    return "given back" if won else "kept"


def ledger_entry_of_payment(store: Store, payment_intent: str) -> str | None:
    """The ledger entry (invoice or pack id) ``payment_intent`` paid; ``None`` if the ledger has none."""
    found = _get(store, payment_key(payment_intent))
    return str(found["invoice_id"]) if found else None


def next_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def payout_of(month: Mapping[str, Any], fee_percent: Decimal) -> dict[str, Any]:
    """A month's closing numbers: platform fee on revenue net of refunds, the payout (never below 0) and the debt
    carried into the next month (never below 0)."""
    revenue, refunds = int(month.get("revenue", 0)), int(month.get("refunds", 0))
    fee = platform_fee(revenue - refunds, fee_percent)
    # A dispute is the creator's loss like Stripe's fees: outside the platform fee's base, so a dispute won in a
    # later month gives back exactly what it took.
    disputes = int(month.get("disputes", 0)) + int(month.get("dispute_fees", 0))
    net = revenue - refunds - int(month.get("stripe_fees", 0)) - disputes - fee - int(month.get("carried_in", 0))
    return {"fee": fee, "payout": max(net, 0), "carried_out": max(-net, 0)}


def close_and_pay(
    store: Store, gateway: StripeGateway | None, fee_percent: Decimal, now: datetime, grace: timedelta
) -> PayoutSummary:
    """One scheduled run: freeze every month past its grace, then pay every frozen month once."""
    summary = PayoutSummary()
    for entry in listed(store, months_index_pk(OPEN), below=months_payable_before(now, grace)):
        # Revenue is read again strongly: the index may not show the last invoice of the month yet.
        current = store.get(entry[PK], entry[SK])
        if current is None:
            continue
        if _close(store, current, fee_percent, now):
            summary.closed += 1
    failures: list[str] = []
    for entry in listed(store, months_index_pk(CLOSED)):
        month = store.get(entry[PK], entry[SK])
        if month is None or month["state"] != CLOSED:
            continue
        try:
            _pay(store, gateway, month, now, summary)
        except (StripeUnavailable, stripe.StripeError) as error:
            # One creator's refused transfer (a low platform balance, say) must not hold up the others.
            failures.append(f"{month['creator']} {month['month']}: {type(error).__name__}: {error}")
    if failures:
        raise PayoutsFailed(f"{len(failures)} payouts failed and stay due for the next run: " + "; ".join(failures))
    return summary


#: What a month's payout is computed from: all must still hold when it closes (0 where absent).
_FROZEN = ("revenue", "refunds", "disputes", "dispute_fees", "stripe_fees", "carried_in")


def _close(store: Store, month: Mapping[str, Any], fee_percent: Decimal, now: datetime) -> bool:
    """Freeze ``month`` with its payout (and carry a debt into the next month, in the same transaction); ``False``
    if it changed since it was read or someone else closed it."""
    values = {**payout_of(month, fee_percent), "fee_percent": fee_percent, "closed_at": now.isoformat()}
    close = update_op(
        {PK: month[PK], SK: month[SK]},
        set_={**values, "state": CLOSED, "gsi1pk": months_index_pk(CLOSED)},
        when={"state": OPEN, **{name: month[name] for name in _FROZEN if name in month}},
        exists=True,
    )
    # An amount never written must still be absent: a write since would have created it.
    for index, name in enumerate(name for name in _FROZEN if name not in month):
        close["Update"]["ConditionExpression"] += f" AND attribute_not_exists(#absent{index})"
        close["Update"]["ExpressionAttributeNames"][f"#absent{index}"] = name
    operations = [close]
    if values["carried_out"]:
        debt = {"carried_in": values["carried_out"]}
        operations.append(_open_month(str(month["creator"]), next_month(str(month["month"])), month["currency"], debt))
    return not store.transact_conditionally(operations, answered=(0,))


def _pay(
    store: Store, gateway: StripeGateway | None, month: Mapping[str, Any], now: datetime, summary: PayoutSummary
) -> None:
    creator, payout = month["creator"], int(month["payout"])
    values: dict[str, Any] = {"paid_at": now.isoformat()}
    if payout > 0:
        account = connected_account(store, creator)
        if gateway is None or account is None or not gateway.can_receive_transfers(account):
            summary.waiting += 1
            return
        group = f"apid-{creator}-{month['month']}"
        transfer = gateway.existing_transfer(group)
        if transfer is None:
            transfer = gateway.transfer(account, payout, group, f"apid-transfer-{creator}-{month['month']}")
            summary.transferred += payout
        values.update(transfer_id=transfer, stripe_account=account)
    if advance(store, month, CLOSED, PAID, values, None):
        summary.paid += 1


def connected_account(store: Store, creator: str) -> str | None:
    item = store.get(creator_pk(creator), PAYOUTS_SK)
    return str(item["stripe_account"]) if item and item.get("stripe_account") else None


def remember_account(store: Store, creator: str, account: str) -> str:
    """Keep the first account made for the creator (a concurrent setup's stays unused); the one kept."""
    response = store.table.update_item(
        Key={PK: creator_pk(creator), SK: PAYOUTS_SK},
        UpdateExpression="SET stripe_account = if_not_exists(stripe_account, :account)",
        ExpressionAttributeValues={":account": account},
        ReturnValues="ALL_NEW",
    )
    return str(response["Attributes"]["stripe_account"])


def months(store: Store, creator: str) -> list[dict[str, Any]]:
    """The creator's months, newest first."""
    return list(store.query(creator_pk(creator), "EARNINGS#", newest_first=True))


def ledger(store: Store, creator: str) -> list[dict[str, Any]]:
    """Every paid invoice credited to the creator, newest first."""
    return list(store.query(ledger_index_pk(creator), index=GSI2, newest_first=True))


def refunds(store: Store, creator: str) -> list[dict[str, Any]]:
    """Every refund taken off the creator's earnings, newest first (by when it was recorded: within a month the
    index sorts by refund id, which Stripe does not issue in order)."""
    found = store.query(refunds_index_pk(creator), index=GSI2)
    return sorted(found, key=lambda refund: str(refund["recorded_at"]), reverse=True)
