"""Creators' earnings: revenue in from paid invoices, the platform fee kept, the rest paid out once.

The ledger, in the control plane table:

| item | what it is |
| --- | --- |
| ``pk=INVOICE#<id>``, ``sk=PAID`` | one paid invoice: amount, API, consumer, creator, month, and for the consumer alone its Stripe link and period (``gsi2pk=LEDGER#<creator>`` for the creator's ledger, ``gsi1pk=INVOICES#<consumer>`` for the consumer's invoices; both sorted ``<month>#<id>``) |
| ``pk=CREATOR#<sub>``, ``sk=EARNINGS#<YYYY-MM>`` | a month's revenue and invoice count; once closed, its fee and payout; once paid, the transfer |
| ``pk=CREATOR#<sub>``, ``sk=PAYOUTS`` | the creator's Stripe Connect account |

A paid invoice is recorded once (the invoice item is created on condition it does
not exist, in the same transaction as the month's ``ADD``), in the month the control
plane learns of it, and only while that month is ``open``. A month moves ``open``
-> ``closed`` (revenue frozen, fee and payout computed) -> ``paid`` (transfer made);
``gsi1`` lists the open and closed months so each run is one query. The transfer's
idempotency key is (creator, month), and before transferring the run looks for a
transfer of that month's ``transfer_group``, so neither a retry nor a crash after
Stripe's answer, however much later, pays a month twice.
"""  # noqa: E501 (Markdown table rows cannot wrap)

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import stripe

from api_direct.control_plane.api.store import GSI2, PK, SK, Store, api_pk, creator_pk
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


def _optional(invoice: PaidInvoice) -> dict[str, str]:
    """The invoice's link and period, those Stripe sent (an item holds no empty attributes)."""
    found = {
        "hosted_invoice_url": invoice.hosted_invoice_url,
        "period_start": invoice.period_start.isoformat() if invoice.period_start else None,
        "period_end": invoice.period_end.isoformat() if invoice.period_end else None,
    }
    return {name: value for name, value in found.items() if value}


def platform_fee(revenue: int, percent: Decimal) -> int:
    """The platform's cut in cents, rounded half up; the creator gets the rest, never less than 0."""
    return min(revenue, int((Decimal(revenue) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP)))


def record_revenue(
    store: Store, invoice: PaidInvoice, now: datetime
) -> Literal["recorded", "duplicate", "unknown api"]:
    """Credit the API's creator with a paid invoice, once."""
    listing = store.get(api_pk(invoice.api_id), "LISTING")
    if listing is None:
        return "unknown api"
    creator, month = listing["creator"], month_text(now)
    by_month = f"{month}#{invoice.invoice_id}"
    entry = {
        PK: f"INVOICE#{invoice.invoice_id}",
        SK: "PAID",
        "invoice_id": invoice.invoice_id,
        "amount": invoice.amount,
        "currency": invoice.currency,
        "api_id": invoice.api_id,
        "consumer": invoice.consumer,
        "creator": creator,
        "month": month,
        "recorded_at": now.isoformat(),
        **_optional(invoice),
        "gsi1pk": invoices_index_pk(invoice.consumer),
        "gsi1sk": by_month,
        "gsi2pk": ledger_index_pk(creator),
        "gsi2sk": by_month,
    }
    reasons = store.transact_conditionally(
        [
            {"Put": {"Item": entry, "ConditionExpression": "attribute_not_exists(pk)"}},
            {
                "Update": {
                    "Key": earnings_key(creator, month),
                    "UpdateExpression": "ADD revenue :amount, invoices :one SET #month = :month, creator = :creator,"
                    " currency = :currency, #state = if_not_exists(#state, :open),"
                    " gsi1pk = if_not_exists(gsi1pk, :index), gsi1sk = :sort",
                    "ConditionExpression": "attribute_not_exists(pk) OR #state = :open",
                    "ExpressionAttributeNames": {"#state": "state", "#month": "month"},
                    "ExpressionAttributeValues": {
                        ":amount": invoice.amount,
                        ":one": 1,
                        ":month": month,
                        ":creator": creator,
                        ":currency": invoice.currency,
                        ":open": OPEN,
                        ":index": months_index_pk(OPEN),
                        ":sort": f"{month}#{creator}",
                    },
                }
            },
            # Only "already recorded" is an answer: if the month closed under us (a clock far behind the
            # payout run's), nothing was written and the error makes Stripe deliver the event again.
        ],
        answered=(0,),
    )
    return "duplicate" if reasons else "recorded"


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
        revenue = int(current.get("revenue", 0))
        fee = platform_fee(revenue, fee_percent)
        values = {"fee": fee, "payout": revenue - fee, "fee_percent": fee_percent, "closed_at": now.isoformat()}
        if advance(store, current, OPEN, CLOSED, values, months_index_pk(CLOSED), unchanged={"revenue": revenue}):
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
