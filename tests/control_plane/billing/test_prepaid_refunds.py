"""A refund of a prepaid pack takes the refunded share of its units back from the consumer's credit, once per
Stripe refund whichever way it arrives (the creator's request, ``charge.refunded``), rounded so a full refund takes
the whole pack; what was used of it becomes an overdraft and the key is capped for credit, as after a debit."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing import credits, earnings, prepaid
from api_direct.control_plane.billing.earnings import Refund
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.stripe_server import StripeFake
from tests.control_plane.billing.payments import charge_of
from tests.control_plane.billing.payments import deliver as deliver_event
from tests.control_plane.billing.prepaid_market import (
    EXPIRES_DAYS,
    NOW,
    PACK_CALLS,
    bought,
    credits_of,
    prepaid_marketplace,
    use,
)
from tests.control_plane.billing.usage import API
from tests.control_plane.marketplace import ALICE, CAROL, EventLog, Headers
from tests.control_plane.tokens import Mint, bearer
from tests.stripe_fake import client_for


@pytest.fixture
def market(billed_api: TestClient, mint: Mint, billing: SubscriptionBilling) -> tuple[str, EventLog]:
    return prepaid_marketplace(billed_api, mint)


def refund(api: TestClient, mint: Mint, payment: str, amount: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"invoice_id": payment} | ({} if amount is None else {"amount": amount})
    response = api.post("/earnings/refunds", json=body, headers=bearer(mint(ALICE, "creators")))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def pack_payment(store: Store) -> str:
    [grant] = credits.grants_of(store, CAROL, API)
    return grant.payment_intent


def balance(api: TestClient, carol: Headers) -> tuple[int, int, int, bool]:
    """(refunded, remaining, overdraft, capped) as the consumer sees them."""
    shown = credits_of(api, carol)
    return shown["refunded"], shown["remaining"], shown["overdraft"], shown["capped"]


def last_cap(keys: EventLog) -> tuple[str, str | None]:
    [*_, event] = [e for e in keys.read() if e["detail-type"] in ("KeyCapped", "KeyUncapped")]
    return event["detail-type"], event["detail"].get("reason")


def test_a_partial_then_a_dashboard_refund_take_their_share_once_and_the_rest_becomes_an_overdraft(
    billed_api: TestClient,
    mint: Mint,
    market: tuple[str, EventLog],
    carol: Headers,
    store: Store,
    stripe_fake: StripeFake,
) -> None:
    key_id, keys = market
    bought(billed_api, carol, stripe_fake)
    use(store, key_id, 300, "a")
    payment = pack_payment(store)

    refund(billed_api, mint, payment, 300)  # 3.00 of 8.00: 375 of the 1,000 units
    assert balance(billed_api, carol) == (375, 325, 0, False)
    assert last_cap(keys) == ("KeyUncapped", "credit")

    client_for(stripe_fake).v1.refunds.create({"payment_intent": payment, "amount": 500})  # the rest, on Stripe
    charge = charge_of(stripe_fake, payment).to_dict()
    assert deliver_event(billed_api, "charge.refunded", charge) == "handled"
    assert deliver_event(billed_api, "charge.refunded", charge) == "no change"
    assert balance(billed_api, carol) == (PACK_CALLS, -300, 300, True)
    assert last_cap(keys) == ("KeyCapped", "credit")
    [grant] = credits_of(billed_api, carol)["grants"]
    assert (grant["units"], grant["refunded"]) == (PACK_CALLS, PACK_CALLS)


def test_refunds_in_parts_round_up_and_add_to_the_whole_pack_and_a_lost_take_back_is_mended_by_stripe(
    billed_api: TestClient,
    mint: Mint,
    market: tuple[str, EventLog],
    carol: Headers,
    store: Store,
    stripe_fake: StripeFake,
    billing: SubscriptionBilling,
) -> None:
    bought(billed_api, carol, stripe_fake)
    payment = pack_payment(store)
    refund(billed_api, mint, payment, 1)
    assert balance(billed_api, carol)[:2] == (2, PACK_CALLS - 2)  # 1,000 / 800 cents: 1.25 units, rounded up
    refund(billed_api, mint, payment, 1)
    assert balance(billed_api, carol)[:2] == (3, PACK_CALLS - 3)  # 2.5 in all: 3

    # The request that refunded the rest died after the ledger recorded it, before the credit heard of it.
    made = billing.gateway.refund(payment, 798, "apid-refund-lost", {})
    outcome = earnings.record_refund(store, Refund(made.refund_id, payment, made.amount), datetime.now(UTC))
    assert outcome == "recorded" and balance(billed_api, carol)[:2] == (3, PACK_CALLS - 3)
    charge = charge_of(stripe_fake, payment).to_dict()
    assert deliver_event(billed_api, "charge.refunded", charge) == "no change"  # the ledger had them all
    assert balance(billed_api, carol) == (PACK_CALLS, 0, 0, True)


def test_expired_units_are_not_taken_back_again_and_an_expiry_leaves_refunded_units_out(
    billed_api: TestClient,
    mint: Mint,
    market: tuple[str, EventLog],
    carol: Headers,
    store: Store,
    stripe_fake: StripeFake,
) -> None:
    key_id, _ = market
    bought(billed_api, carol, stripe_fake, packs=2)  # 2,000 units for 16.00, one grant
    use(store, key_id, 400, "a")
    payment = pack_payment(store)
    refund(billed_api, mint, payment, 800)  # half: 1,000 units
    assert prepaid.expire_due(store, NOW + timedelta(days=EXPIRES_DAYS + 1)) == 600  # kept 1,000, used 400
    assert balance(billed_api, carol) == (1000, 0, 0, True)

    refund(billed_api, mint, payment)  # the other half: only the 400 used are left to take back
    assert balance(billed_api, carol) == (1400, -400, 400, True)
    shown = credits_of(billed_api, carol)
    assert shown["granted"] - shown["used"] - shown["expired"] - shown["refunded"] == shown["remaining"]


def test_a_refund_landing_between_a_take_backs_read_and_write_is_counted_once_each(
    billed_api: TestClient,
    market: tuple[str, EventLog],
    carol: Headers,
    store: Store,
    stripe_fake: StripeFake,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bought(billed_api, carol, stripe_fake)
    payment = pack_payment(store)
    read = credits.Grant.of

    def another_refund_first(item: Any) -> credits.Grant:
        monkeypatch.setattr(credits.Grant, "of", staticmethod(read))
        assert credits.take_back(store, "re_other", CAROL, payment, 1) == "taken"  # 2 units, after this read
        return read(item)

    monkeypatch.setattr(credits.Grant, "of", staticmethod(another_refund_first))
    assert credits.take_back(store, "re_this", CAROL, payment, 1) == "taken"  # reads again: 3 in all, not 4
    assert credits.take_back(store, "re_this", CAROL, payment, 1) == "duplicate"
    assert balance(billed_api, carol)[:2] == (3, PACK_CALLS - 3)
