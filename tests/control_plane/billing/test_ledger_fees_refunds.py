"""The ledger's honest totals: Stripe's fees recorded with each payment, refunds taken off the month they are
made in (once by Stripe's id, never beyond what is left), and a month's payout net of both and of the platform
fee on revenue net of refunds, a month below zero carrying its debt into the next, each exactly once."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api_direct.control_plane.api.store import Store, creator_pk
from api_direct.control_plane.billing import earnings
from api_direct.control_plane.billing.earnings import PaidInvoice, Refund, close_and_pay, record_refund, record_revenue
from tests.control_plane.billing.usage import API, CAROL
from tests.control_plane.marketplace import ALICE

NOVEMBER = datetime(2026, 11, 15, 12, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 10, tzinfo=UTC)
#: November's grace has passed, December's has not.
NOVEMBER_DUE = datetime(2026, 12, 4, tzinfo=UTC)
JANUARY_DUE = datetime(2027, 1, 4, tzinfo=UTC)
GRACE = timedelta(days=3)


@pytest.fixture
def ledger(store: Store) -> Store:
    """weather-api, listed by Alice."""
    store.table.put_item(Item={"pk": f"API#{API}", "sk": "LISTING", "creator": ALICE})
    return store


def pay(store: Store, invoice_id: str, amount: int, now: datetime = NOVEMBER, **fees: Any) -> str:
    return record_revenue(store, PaidInvoice(invoice_id, amount, "usd", API, CAROL, **fees), now)


def refund(store: Store, refund_id: str, invoice_id: str, amount: int, now: datetime = NOVEMBER) -> str:
    return record_refund(store, Refund(refund_id, invoice_id, amount), now)


def month(store: Store, which: str) -> dict[str, Any]:
    found = store.get(creator_pk(ALICE), f"EARNINGS#{which}")
    assert found is not None, which
    return found


def close(store: Store, now: datetime = NOVEMBER_DUE, percent: str = "20") -> None:
    close_and_pay(store, None, Decimal(percent), now, GRACE)


def test_a_payment_records_its_stripe_fees_once_and_where_its_payment_intent_points(ledger: Store) -> None:
    fees = {"payment_intent": "pi_1", "stripe_fee": 85, "billing_fee": 13}
    assert [pay(ledger, "in_1", 1900, **fees), pay(ledger, "in_1", 1900, **fees)] == ["recorded", "duplicate"]
    assert pay(ledger, "pi_pack", 800, payment_intent="pi_pack", stripe_fee=53) == "recorded"
    november = month(ledger, "2026-11")
    assert (november["revenue"], november["invoices"], november["stripe_fees"]) == (2700, 2, 85 + 13 + 53)
    entry = ledger.get("INVOICE#in_1", "PAID")
    assert entry is not None
    assert (entry["stripe_fee"], entry["billing_fee"], entry["payment_intent"]) == (85, 13, "pi_1")
    assert earnings.ledger_entry_of_payment(ledger, "pi_1") == "in_1"
    assert earnings.ledger_entry_of_payment(ledger, "pi_pack") == "pi_pack"
    assert earnings.ledger_entry_of_payment(ledger, "pi_other") is None


def test_a_refund_is_taken_off_the_month_it_is_made_in_once_by_its_id(ledger: Store) -> None:
    pay(ledger, "in_1", 1900, payment_intent="pi_1", stripe_fee=85)
    assert refund(ledger, "re_1", "in_1", 500, DECEMBER) == "recorded"
    assert refund(ledger, "re_1", "in_1", 500, DECEMBER) == "duplicate"
    assert refund(ledger, "re_2", "in_1", 400, DECEMBER + timedelta(hours=1)) == "recorded"
    december = month(ledger, "2026-12")
    assert (december["refunds"], december["refund_count"], december["state"]) == (900, 2, "open")
    assert "revenue" not in december and "refunds" not in month(ledger, "2026-11")
    entry = ledger.get("INVOICE#in_1", "PAID")
    assert entry is not None and (entry["refunded"], entry["refunds"]) == (900, 2)
    assert [(r["refund_id"], r["amount"], r["month"]) for r in earnings.refunds(ledger, ALICE)] == [
        ("re_2", 400, "2026-12"),
        ("re_1", 500, "2026-12"),
    ]


def test_a_refund_beyond_what_is_left_or_of_an_unknown_payment_changes_nothing(ledger: Store) -> None:
    pay(ledger, "in_1", 1000)
    assert refund(ledger, "re_1", "in_1", 600) == "recorded"
    assert refund(ledger, "re_2", "in_1", 401) == "more than left"
    assert refund(ledger, "re_3", "in_1", 1001) == "more than left"
    assert refund(ledger, "re_4", "in_nope", 1) == "unknown payment"
    assert refund(ledger, "re_5", "in_1", 400) == "recorded"
    assert month(ledger, "2026-11")["refunds"] == 1000
    assert ledger.get("REFUND#re_2", "REFUND") is None


def test_a_month_pays_out_revenue_less_refunds_stripe_fees_and_the_platform_fee_on_revenue_net_of_refunds(
    ledger: Store,
) -> None:
    pay(ledger, "in_1", 1900, stripe_fee=85, billing_fee=13)
    pay(ledger, "in_2", 4150, stripe_fee=150, billing_fee=29)
    refund(ledger, "re_1", "in_2", 1000)
    close(ledger)
    november = month(ledger, "2026-11")
    # Net of refunds 5050; 20 % of it is 1010; Stripe kept 277 and keeps it through the refund.
    assert (november["state"], november["fee"], november["payout"], november["carried_out"]) == (
        "closed",
        1010,
        3763,
        0,
    )
    assert 6050 - 1000 - 277 - 1010 == 3763


def test_a_month_below_zero_pays_nothing_and_its_next_month_settles_the_debt_once(ledger: Store) -> None:
    pay(ledger, "in_1", 2000, stripe_fee=88)
    close(ledger)
    assert month(ledger, "2026-11")["payout"] == 2000 - 88 - 400
    # December: the November invoice refunded in full, a small new invoice.
    refund(ledger, "re_1", "in_1", 2000, DECEMBER)
    pay(ledger, "in_2", 500, DECEMBER, stripe_fee=45)
    close(ledger, JANUARY_DUE)
    close(ledger, JANUARY_DUE)  # a second run changes nothing
    december = month(ledger, "2026-12")
    # Revenue net of refunds is below zero: no platform fee; 500 - 2000 - 45 = -1545 carried.
    assert (december["fee"], december["payout"], december["carried_out"]) == (0, 0, 1545)
    january = month(ledger, "2027-01")
    assert (january["carried_in"], january["state"], january["gsi1pk"]) == (1545, "open", "EARNINGS#open")
    pay(ledger, "in_3", 10_000, datetime(2027, 1, 20, tzinfo=UTC), stripe_fee=320)
    close(ledger, datetime(2027, 2, 4, tzinfo=UTC))
    january = month(ledger, "2027-01")
    assert (january["fee"], january["payout"], january["carried_out"]) == (2000, 10_000 - 320 - 2000 - 1545, 0)


def test_a_month_that_changed_since_it_was_read_is_not_closed_with_stale_numbers(ledger: Store) -> None:
    pay(ledger, "in_1", 1000)
    stale = month(ledger, "2026-11")
    refund(ledger, "re_1", "in_1", 300)
    assert not earnings._close(ledger, stale, Decimal("20"), NOVEMBER_DUE)
    assert month(ledger, "2026-11")["state"] == "open"
    close(ledger)
    assert month(ledger, "2026-11")["payout"] == 700 - 140


@pytest.mark.parametrize(
    ("month_text", "following"), [("2026-11", "2026-12"), ("2026-12", "2027-01"), ("0999-01", "0999-02")]
)
def test_next_month(month_text: str, following: str) -> None:
    assert earnings.next_month(month_text) == following
