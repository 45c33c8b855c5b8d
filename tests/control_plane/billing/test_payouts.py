"""Creators' earnings: paid invoices credited per month, a month frozen after its grace with the platform's
fee taken half up, the rest transferred once to an onboarded Connect account; and the routes that set up
that account and show the ledger.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import stripe
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from api_direct.control_plane.api.payouts import Earnings
from api_direct.control_plane.api.store import Store, creator_pk
from api_direct.control_plane.billing import earnings
from api_direct.control_plane.billing.earnings import PaidInvoice, PayoutSummary, close_and_pay, record_revenue
from api_direct.control_plane.billing.stripe_gateway import StripeGateway
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from tests.control_plane.billing.usage import API, CAROL
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import ALICE, BOB, Headers, link_account, published
from api_direct.local.stripe_server import SeenRequest, StripeFake

FEE = Decimal("20")
GRACE = timedelta(days=3)
NOVEMBER = datetime(2026, 11, 15, 12, tzinfo=UTC)
#: November ended exactly ``GRACE`` ago: the first moment it may be paid out.
DUE = datetime(2026, 12, 4, tzinfo=UTC)
MONTH = "2026-11"
GROUP = f"apid-{ALICE}-{MONTH}"


@pytest.fixture
def gateway(billed_api: TestClient, alice: Headers, billing: SubscriptionBilling) -> StripeGateway:
    """weather-api listed by Alice; the app's Stripe gateway (retrying without sleeping)."""
    published(billed_api, alice)
    return billing.gateway


def paid(store: Store, invoice_id: str = "in_1", amount: int = 990, now: datetime = NOVEMBER) -> str:
    return record_revenue(store, PaidInvoice(invoice_id, amount, "usd", API, CAROL), now)


def month(store: Store, which: str = MONTH, creator: str = ALICE) -> dict[str, Any]:
    found = store.get(creator_pk(creator), f"EARNINGS#{which}")
    assert found is not None, which
    return found


def run(store: Store, gateway: StripeGateway | None, now: datetime = DUE, fee: Decimal = FEE) -> PayoutSummary:
    return close_and_pay(store, gateway, fee, now, GRACE)


def onboarded(api: TestClient, alice: Headers, fake: StripeFake) -> str:
    """Alice's Connect account, with onboarding finished."""
    account = str(api.post("/payouts/account", headers=alice).json()["account_id"])
    fake.complete_onboarding(account)
    return account


def transfer_requests(fake: StripeFake, method: str = "POST") -> list[SeenRequest]:
    return [request for request in fake.requests() if (request.method, request.path) == (method, "/v1/transfers")]


# --- closing a month ----------------------------------------------------------------------------------


def test_a_month_stays_open_until_its_grace_has_passed(store: Store, gateway: StripeGateway) -> None:
    assert paid(store) == "recorded"
    assert run(store, gateway, DUE - timedelta(seconds=1)) == PayoutSummary()
    assert (month(store)["state"], month(store)["gsi1pk"]) == ("open", "EARNINGS#open")
    assert "fee" not in month(store)
    assert run(store, gateway, DUE).closed == 1
    assert month(store)["state"] == "closed"


def test_a_month_adds_up_its_invoices_each_counted_once(store: Store, gateway: StripeGateway) -> None:
    assert [paid(store, "in_1", 990), paid(store, "in_2", 1234), paid(store, "in_1", 990)] == [
        "recorded",
        "recorded",
        "duplicate",
    ]
    assert (month(store)["revenue"], month(store)["invoices"], month(store)["currency"]) == (2224, 2, "usd")


@pytest.mark.parametrize(
    ("percent", "revenue", "fee"),
    [
        ("20", 1, 0),  # 0.2 of a cent rounds down: the creator keeps the cent
        ("20", 3, 1),  # 0.6 rounds up
        ("20", 13, 3),  # 2.6
        ("20", 990, 198),
        ("20", 12345, 2469),
        ("12.5", 4, 1),  # exactly half a cent rounds up
        ("12.5", 20, 3),  # 2.5 -> 3, where rounding half to even would give 2
    ],
)
def test_a_closed_month_keeps_the_fee_half_up_and_pays_out_the_rest(
    store: Store, gateway: StripeGateway, stripe_fake: StripeFake, percent: str, revenue: int, fee: int
) -> None:
    paid(store, amount=revenue)
    summary = run(store, gateway, fee=Decimal(percent))
    closed = month(store)
    assert (closed["state"], closed["revenue"], closed["fee"], closed["payout"]) == (
        "closed",
        revenue,
        fee,
        revenue - fee,
    )
    assert (closed["fee_percent"], closed["closed_at"], closed["gsi1pk"]) == (
        Decimal(percent),
        DUE.isoformat(),
        "EARNINGS#closed",
    )
    # Alice has no Connect account yet: the month waits for her, closed.
    assert summary == PayoutSummary(closed=1, paid=0, transferred=0, waiting=1)
    assert stripe_fake.transfers() == [] and transfer_requests(stripe_fake) == []


def test_a_creator_who_has_not_finished_onboarding_waits(
    billed_api: TestClient, alice: Headers, store: Store, gateway: StripeGateway, stripe_fake: StripeFake
) -> None:
    paid(store)
    billed_api.post("/payouts/account", headers=alice)
    assert run(store, gateway) == PayoutSummary(closed=1, waiting=1)
    assert run(store, gateway, DUE + timedelta(days=1)) == PayoutSummary(waiting=1)
    assert month(store)["state"] == "closed" and stripe_fake.transfers() == []


def test_an_onboarded_creator_is_paid_the_month_once(
    billed_api: TestClient, alice: Headers, store: Store, gateway: StripeGateway, stripe_fake: StripeFake
) -> None:
    paid(store)
    run(store, gateway)
    account = onboarded(billed_api, alice, stripe_fake)
    assert run(store, gateway, DUE + timedelta(days=1)) == PayoutSummary(paid=1, transferred=792)
    [transfer] = stripe_fake.transfers()
    assert (transfer["amount"], transfer["currency"], transfer["destination"], transfer["transfer_group"]) == (
        792,
        "usd",
        account,
        GROUP,
    )
    assert [r.idempotency_key for r in transfer_requests(stripe_fake)] == [f"apid-transfer-{ALICE}-{MONTH}"]
    done = month(store)
    assert (done["state"], done["transfer_id"], done["stripe_account"]) == ("paid", transfer["id"], account)
    assert done["paid_at"] == (DUE + timedelta(days=1)).isoformat() and "gsi1pk" not in done
    assert stripe_fake.balance_of(account) == 792

    before = len(stripe_fake.requests())
    assert run(store, gateway, DUE + timedelta(days=2)) == PayoutSummary()
    assert stripe_fake.requests()[before:] == [] and len(stripe_fake.transfers()) == 1


def test_months_are_paid_each_under_its_own_key(
    billed_api: TestClient, alice: Headers, store: Store, gateway: StripeGateway, stripe_fake: StripeFake
) -> None:
    account = onboarded(billed_api, alice, stripe_fake)
    paid(store, "in_oct", 500, datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    paid(store, "in_nov", 990, datetime(2026, 11, 1, tzinfo=UTC))
    assert run(store, gateway) == PayoutSummary(closed=2, paid=2, transferred=400 + 792)
    assert sorted((t["transfer_group"], t["amount"]) for t in stripe_fake.transfers()) == [
        (f"apid-{ALICE}-2026-10", 400),
        (GROUP, 792),
    ]
    assert sorted(str(r.idempotency_key) for r in transfer_requests(stripe_fake)) == [
        f"apid-transfer-{ALICE}-2026-10",
        f"apid-transfer-{ALICE}-{MONTH}",
    ]
    assert stripe_fake.balance_of(account) == 1192


def test_a_month_whose_fee_takes_everything_is_paid_without_a_transfer(
    store: Store, gateway: StripeGateway, stripe_fake: StripeFake
) -> None:
    paid(store)
    assert run(store, gateway, fee=Decimal("100")) == PayoutSummary(closed=1, paid=1)
    done = month(store)
    assert (done["state"], done["fee"], done["payout"]) == ("paid", 990, 0) and "transfer_id" not in done
    assert stripe_fake.requests() == []


@pytest.fixture
def crash_once_when_marking_paid(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The run dies between Stripe's answer and the month's move to ``paid``, the first time only."""
    real, crashed = earnings.advance, []

    def advance(store: Store, item: Any, from_state: str, to_state: str, *args: Any, **kwargs: Any) -> bool:
        if (from_state, to_state) == ("closed", "paid") and not crashed:
            crashed.append(item["month"])
            raise RuntimeError("Lambda timed out")
        return real(store, item, from_state, to_state, *args, **kwargs)

    monkeypatch.setattr(earnings, "advance", advance)
    yield crashed


def test_a_run_that_dies_after_the_transfer_does_not_pay_twice(
    billed_api: TestClient,
    alice: Headers,
    store: Store,
    gateway: StripeGateway,
    stripe_fake: StripeFake,
    crash_once_when_marking_paid: list[str],
) -> None:
    onboarded(billed_api, alice, stripe_fake)
    paid(store)
    with pytest.raises(RuntimeError, match="timed out"):
        run(store, gateway)
    assert crash_once_when_marking_paid == [MONTH]
    [transfer] = stripe_fake.transfers()
    assert month(store)["state"] == "closed" and "transfer_id" not in month(store)

    # Days later Stripe has forgotten the idempotency key: only finding the transfer by its group saves the day.
    stripe_fake.forget_idempotency_keys()
    assert run(store, gateway, DUE + timedelta(days=5)) == PayoutSummary(paid=1, transferred=0)  # found, not sent again
    assert [t["id"] for t in stripe_fake.transfers()] == [transfer["id"]]
    assert len(transfer_requests(stripe_fake)) == 1, "never asked to transfer again"
    assert len(transfer_requests(stripe_fake, "GET")) == 2, "looked for the month's transfer each time"
    assert (month(store)["state"], month(store)["transfer_id"]) == ("paid", transfer["id"])


def test_revenue_for_a_closed_month_is_refused_and_later_invoices_count_in_their_own_month(
    store: Store, gateway: StripeGateway
) -> None:
    paid(store)
    run(store, gateway)
    # A writer whose clock is still in November cannot add to the frozen month, nor write its invoice.
    with pytest.raises(ClientError, match="TransactionCanceled"):
        paid(store, "in_late", 500, datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    assert (month(store)["revenue"], month(store)["invoices"], month(store)["payout"]) == (990, 1, 792)
    assert store.get("INVOICE#in_late", "PAID") is None
    assert paid(store, "in_1", 990, DUE) == "duplicate"
    assert paid(store, "in_late", 500, DUE) == "recorded"
    december = month(store, "2026-12")
    assert (december["state"], december["revenue"], december["invoices"]) == ("open", 500, 1)
    assert month(store)["revenue"] == 990


def test_an_invoice_for_an_api_nobody_lists_credits_nobody(store: Store, gateway: StripeGateway) -> None:
    assert record_revenue(store, PaidInvoice("in_x", 990, "usd", "gone-api", CAROL), NOVEMBER) == "unknown api"
    assert store.get("INVOICE#in_x", "PAID") is None and list(store.query(creator_pk(ALICE), "EARNINGS#")) == []


# --- POST /payouts/account ----------------------------------------------------------------------------


def test_the_connect_account_is_made_once_and_every_call_gets_a_fresh_link(
    billed_api: TestClient, alice: Headers, store: Store, stripe_fake: StripeFake, billing: SubscriptionBilling
) -> None:
    first = billed_api.post("/payouts/account", headers=alice)
    assert first.status_code == 200, first.text
    account = first.json()["account_id"]
    assert account.startswith("acct_") and first.json()["transfers_enabled"] is False
    assert first.json()["onboarding_url"].startswith(f"{stripe_fake.base_url}/setup/e/{account}/")
    assert earnings.connected_account(store, ALICE) == account

    again = billed_api.post("/payouts/account", json={"return_url": "https://example.com/done"}, headers=alice)
    assert again.json()["account_id"] == account and again.json()["onboarding_url"] != first.json()["onboarding_url"]
    accounts = [r for r in stripe_fake.requests() if (r.method, r.path) == ("POST", "/v1/accounts")]
    assert [r.idempotency_key for r in accounts] == [f"apid-account-{ALICE}"]

    stripe_fake.complete_onboarding(account)
    assert billed_api.post("/payouts/account", headers=alice).json()["transfers_enabled"] is True


def test_only_creators_set_up_payouts(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, billing: SubscriptionBilling
) -> None:
    response = billed_api.post("/payouts/account", headers=bearer(mint(CAROL, "consumers")))
    assert response.status_code == 403 and "only creators" in response.json()["detail"]
    assert billed_api.get("/earnings", headers=bearer(mint(CAROL, "consumers"))).status_code == 403
    assert stripe_fake.requests() == []


def test_without_billing_there_is_no_payout_account(api: TestClient, alice: Headers, store: Store) -> None:
    response = api.post("/payouts/account", headers=alice)
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert "billing is not configured" in response.json()["detail"]
    assert earnings.connected_account(store, ALICE) is None


# --- GET /earnings ------------------------------------------------------------------------------------


def test_earnings_show_each_month_and_every_credited_invoice_in_cents(
    billed_api: TestClient, alice: Headers, store: Store, gateway: StripeGateway, stripe_fake: StripeFake
) -> None:
    account = onboarded(billed_api, alice, stripe_fake)
    paid(store, "in_oct_1", 990, datetime(2026, 10, 3, tzinfo=UTC))
    paid(store, "in_oct_2", 1235, datetime(2026, 10, 20, tzinfo=UTC))
    run(store, gateway, datetime(2026, 11, 4, tzinfo=UTC))
    paid(store, "in_nov", 990)
    [transfer] = stripe_fake.transfers()

    response = billed_api.get("/earnings", headers=alice)
    assert response.status_code == 200, response.text
    found = response.json()
    Earnings.model_validate(found)
    assert (found["currency"], Decimal(found["fee_percent"]), found["payout_account"]) == ("usd", FEE, account)
    assert found["months"] == [
        {
            "month": MONTH,
            "state": "open",
            "currency": "usd",
            "revenue": 990,
            "invoices": 1,
            "refunds": 0,
            "refund_count": 0,
            "stripe_fees": 0,
            "disputes": 0,
            "dispute_fees": 0,
            "dispute_count": 0,
            "carried_in": 0,
            "fee": None,
            "payout": None,
            "carried_out": None,
            "transfer_id": None,
            "paid_at": None,
        },
        {
            "month": "2026-10",
            "state": "paid",
            "currency": "usd",
            "revenue": 2225,
            "invoices": 2,
            "refunds": 0,
            "refund_count": 0,
            "stripe_fees": 0,
            "disputes": 0,
            "dispute_fees": 0,
            "dispute_count": 0,
            "carried_in": 0,
            "fee": 445,
            "payout": 1780,
            "carried_out": 0,
            "transfer_id": transfer["id"],
            "paid_at": "2026-11-04T00:00:00Z",
        },
    ]
    assert transfer["amount"] == 1780
    assert [(e["invoice_id"], e["api_id"], e["amount"], e["currency"], e["month"]) for e in found["entries"]] == [
        ("in_nov", API, 990, "usd", MONTH),
        ("in_oct_2", API, 1235, "usd", "2026-10"),
        ("in_oct_1", API, 990, "usd", "2026-10"),
    ]
    assert found["entries"][0]["recorded_at"] == "2026-11-15T12:00:00Z"


def test_a_creator_sees_only_their_own_earnings(
    billed_api: TestClient, mint: Mint, store: Store, gateway: StripeGateway
) -> None:
    paid(store)
    link_account(BOB)
    found = billed_api.get("/earnings", headers=bearer(mint(BOB, "creators"))).json()
    assert (found["months"], found["entries"], found["payout_account"]) == ([], [], None)


def test_one_refused_transfer_does_not_hold_up_the_other_creators(
    billed_api: TestClient,
    store: Store,
    gateway: StripeGateway,
    alice: Headers,
    bob: Headers,
    stripe_fake: StripeFake,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published(billed_api, bob, api_id="bobs-api")
    paid(store, "in_alice", 1000)
    record_revenue(store, PaidInvoice("in_bob", 500, "usd", "bobs-api", CAROL), NOVEMBER)
    alices = onboarded(billed_api, alice, stripe_fake)
    stripe_fake.complete_onboarding(str(billed_api.post("/payouts/account", headers=bob).json()["account_id"]))
    real = gateway.transfer

    def refuse_alice(account: str, *args: Any) -> str:
        if account == alices:
            raise stripe.InvalidRequestError("Insufficient funds in the platform balance.", "amount")
        return real(account, *args)

    monkeypatch.setattr(gateway, "transfer", refuse_alice)
    with pytest.raises(earnings.PayoutsFailed, match=rf"1 payouts failed .*{ALICE} {MONTH}: InvalidRequestError"):
        run(store, gateway)
    assert month(store, creator=BOB)["state"] == "paid" and month(store)["state"] == "closed"
    monkeypatch.setattr(gateway, "transfer", real)
    assert run(store, gateway).paid == 1 and month(store)["state"] == "paid"
    assert sorted(t["amount"] for t in stripe_fake.transfers()) == [400, 800]
