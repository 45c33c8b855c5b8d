"""Chargebacks: a disputed payment and Stripe's dispute fee come off its creator's month once by dispute id, are
given back if the dispute is won and stay taken if lost; after the month was paid out they are a debt the next
month carries. Through Stripe's webhooks from the fake's disputes, and on the ledger directly."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store, creator_pk
from api_direct.control_plane.billing import earnings
from api_direct.control_plane.billing.earnings import Dispute, PaidInvoice, close_and_pay, record_revenue
from api_direct.control_plane.billing.periods import month_text
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.contracts import CONTROL_PLANE_DEFAULTS
from api_direct.local.stripe_server import StripeFake
from tests.control_plane.billing.payments import charge_of, deliver, list_for_alice, paid_pack, relay
from tests.control_plane.billing.usage import API, CAROL
from tests.control_plane.marketplace import ALICE
from tests.control_plane.tokens import Mint, bearer

FEE = CONTROL_PLANE_DEFAULTS["stripe_dispute_fee_cents"]


@pytest.fixture
def pack(billed_api: TestClient, billing: SubscriptionBilling, stripe_fake: StripeFake, store: Store) -> str:
    """An 8.00 pack of weather-api (Alice's) Carol paid for: its payment intent, the ledger's id for it."""
    list_for_alice(store)
    return paid_pack(stripe_fake, store).id


def month(store: Store, which: str | None = None) -> dict[str, Any]:
    found = store.get(creator_pk(ALICE), f"EARNINGS#{which or month_text(datetime.now(UTC))}")
    assert found is not None
    return found


def taken(store: Store) -> tuple[int, int, int]:
    now = month(store)
    return int(now.get("disputes", 0)), int(now.get("dispute_fees", 0)), int(now.get("dispute_count", 0))


@pytest.mark.parametrize("won", [True, False])
def test_a_dispute_takes_its_amount_and_fee_once_and_gives_them_back_only_if_won(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, store: Store, pack: str, won: bool
) -> None:
    dispute = stripe_fake.open_dispute(str(charge_of(stripe_fake, pack).id), amount=600)
    assert (dispute["object"], dispute["payment_intent"], dispute["status"]) == ("dispute", pack, "needs_response")
    assert relay(billed_api, stripe_fake)[-2:] == ["handled", "no change"]  # created, then funds_withdrawn
    assert taken(store) == (600, FEE, 1)
    [shown] = billed_api.get("/earnings", headers=bearer(mint(ALICE, "creators"))).json()["months"]
    assert (shown["disputes"], shown["dispute_fees"], shown["dispute_count"]) == (600, FEE, 1)
    assert relay(billed_api, stripe_fake)[-2:] == ["duplicate", "duplicate"]

    stripe_fake.close_dispute(dispute["id"], won=won)
    outcomes = relay(billed_api, stripe_fake)
    assert outcomes[-1] == "handled"
    assert taken(store) == ((0, 0, 1) if won else (600, FEE, 1))
    assert deliver(billed_api, "charge.dispute.closed", stripe_fake.events()[-1]["data"]["object"]) == "no change"
    entry = store.get(f"DISPUTE#{dispute['id']}", "DISPUTE")
    assert entry is not None and entry["status"] == ("won" if won else "lost")


def test_a_closed_dispute_delivered_before_its_opening_is_recorded_once(
    billed_api: TestClient, stripe_fake: StripeFake, store: Store, pack: str
) -> None:
    dispute = stripe_fake.open_dispute(str(charge_of(stripe_fake, pack).id))
    lost = stripe_fake.close_dispute(dispute["id"], won=False)
    assert deliver(billed_api, "charge.dispute.closed", lost) == "handled"
    assert deliver(billed_api, "charge.dispute.created", dispute) == "no change"
    assert taken(store) == (800, FEE, 1)


def test_an_inquiry_or_a_dispute_of_a_payment_the_ledger_does_not_know_changes_nothing(
    billed_api: TestClient, stripe_fake: StripeFake, store: Store, pack: str
) -> None:
    dispute = stripe_fake.open_dispute(str(charge_of(stripe_fake, pack).id))
    assert deliver(billed_api, "charge.dispute.created", {**dispute, "status": "warning_needs_response"}) == "no change"
    assert deliver(billed_api, "charge.dispute.created", {**dispute, "payment_intent": "pi_elsewhere"}) == "no change"
    assert taken(store) == (0, 0, 0)


# --- on the ledger: before the payout, or after it as the next month's debt ------------------------------

NOVEMBER = datetime(2026, 11, 15, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 10, tzinfo=UTC)
GRACE = timedelta(days=3)


def close(store: Store, now: datetime) -> None:
    close_and_pay(store, None, Decimal(20), now, GRACE)


@pytest.fixture
def paid_in_november(store: Store) -> Store:
    list_for_alice(store)
    paid = PaidInvoice("in_1", 2000, "usd", API, CAROL, payment_intent="pi_1", stripe_fee=88)
    assert record_revenue(store, paid, NOVEMBER) == "recorded"
    return store


def test_a_dispute_before_the_payout_lowers_that_month_s_payout(paid_in_november: Store) -> None:
    store = paid_in_november
    dispute = Dispute("dp_1", "in_1", 500, FEE)
    assert [earnings.record_dispute(store, dispute, NOVEMBER) for _ in range(2)] == ["recorded", "duplicate"]
    close(store, datetime(2026, 12, 4, tzinfo=UTC))
    # 2000 - 500 disputed - 88 card fee - 1500 dispute fee - 400 platform fee (20 % of the revenue) = -488.
    november = month(store, "2026-11")
    assert (november["fee"], november["payout"], november["carried_out"]) == (400, 0, 488)
    assert month(store, "2026-12")["carried_in"] == 488


def test_a_dispute_after_the_payout_is_carried_as_the_next_month_s_debt_and_a_win_gives_it_back(
    paid_in_november: Store,
) -> None:
    store = paid_in_november
    close(store, datetime(2026, 12, 4, tzinfo=UTC))
    assert month(store, "2026-11")["payout"] == 2000 - 88 - 400
    assert earnings.record_dispute(store, Dispute("dp_1", "in_1", 2000, FEE), DECEMBER) == "recorded"
    close(store, datetime(2027, 1, 4, tzinfo=UTC))
    december = month(store, "2026-12")
    assert (december["payout"], december["carried_out"]) == (0, 2000 + FEE)
    assert earnings.close_dispute(store, "dp_1", True, datetime(2027, 1, 20, tzinfo=UTC)) == "given back"
    assert earnings.close_dispute(store, "dp_1", True, datetime(2027, 1, 20, tzinfo=UTC)) == "already closed"
    close(store, datetime(2027, 2, 4, tzinfo=UTC))
    january = month(store, "2027-01")
    # The win (2000 and the fee back) settles the debt it made, exactly.
    assert (january["carried_in"], january["fee"], january["payout"], january["carried_out"]) == (2000 + FEE, 0, 0, 0)
