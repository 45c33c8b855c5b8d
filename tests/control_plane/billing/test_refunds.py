"""POST /earnings/refunds: a creator refunds a payment of their own API, whole or in part, once per request
however often it is retried; the ledger takes it off the current month and the consumer sees it on the invoice.
``charge.refunded`` mirrors refunds made on Stripe's dashboard, each once by its id.
"""

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store, creator_pk
from api_direct.control_plane.billing.periods import month_text
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.stripe_server import StripeFake
from tests.control_plane.billing.payments import charge_of, deliver, list_for_alice, paid_pack, relay
from tests.control_plane.billing.usage import API, CAROL, marketplace
from tests.control_plane.marketplace import ALICE, BOB
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.web.pages import as_user, text
from tests.stripe_fake import client_for


@pytest.fixture
def pack(billed_api: TestClient, billing: SubscriptionBilling, stripe_fake: StripeFake, store: Store) -> str:
    """An 8.00 pack of weather-api (Alice's) Carol paid for: its payment intent, the ledger's id for it."""
    list_for_alice(store)
    return paid_pack(stripe_fake, store).id


def refund(api: TestClient, mint: Mint, invoice_id: str, amount: int | None = None, user: str = ALICE) -> Any:
    body: dict[str, Any] = {"invoice_id": invoice_id} | ({} if amount is None else {"amount": amount})
    return api.post("/earnings/refunds", json=body, headers=bearer(mint(user, "creators")))


def this_month(store: Store) -> dict[str, Any]:
    found = store.get(creator_pk(ALICE), f"EARNINGS#{month_text(datetime.now(UTC))}")
    assert found is not None
    return found


def test_a_partial_refund_then_the_rest_reach_stripe_the_ledger_and_the_consumer(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, store: Store, pack: str
) -> None:
    first = refund(billed_api, mint, pack, 300)
    assert first.status_code == 201, first.text
    made = first.json()
    assert {name: made[name] for name in ("invoice_id", "amount", "currency", "refunded", "left")} == {
        "invoice_id": pack,
        "amount": 300,
        "currency": "usd",
        "refunded": 300,
        "left": 500,
    }
    assert made["refund_id"].startswith("re_") and made["month"] == month_text(datetime.now(UTC))
    rest = refund(billed_api, mint, pack).json()  # no amount: all that is left
    assert (rest["amount"], rest["refunded"], rest["left"]) == (500, 800, 0)
    assert (charge_of(stripe_fake, pack).amount_refunded, charge_of(stripe_fake, pack).refunded) == (800, True)
    month = this_month(store)
    assert (month["revenue"], month["refunds"], month["refund_count"], month["stripe_fees"]) == (800, 800, 2, 53)
    earned = billed_api.get("/earnings", headers=bearer(mint(ALICE, "creators"))).json()
    assert [(r["refund_id"], r["amount"]) for r in earned["refunds"]] == [
        (rest["refund_id"], 500),
        (made["refund_id"], 300),
    ]
    assert [(e["invoice_id"], e["refunded"], e["stripe_fee"]) for e in earned["entries"]] == [(pack, 800, 53)]
    [invoice] = billed_api.get("/invoices", headers=bearer(mint(CAROL, "consumers"))).json()
    assert (invoice["invoice_id"], invoice["amount"], invoice["refunded"]) == (pack, 800, 800)
    assert "stripe_fee" not in invoice, "Stripe's fee on a payment is the creator's business"
    dashboard = as_user(billed_api, mint(CAROL, "consumers")).get("/web/dashboard").text
    [row] = [text(found) for found in re.findall(r"<tr><td><code>pi_.*?</tr>", dashboard)]
    assert f"{pack} {API} " in row and "8.00 USD 8.00 USD" in row  # paid, and refunded


@pytest.mark.parametrize(
    ("amount", "status", "message"),
    [
        (801, 409, "at most 8.00 USD of {pack} is left to refund, not 8.01 USD"),
        (0, 422, None),
        (-5, 422, None),
    ],
)
def test_more_than_is_left_or_no_amount_is_refused_in_one_line_and_nothing_is_refunded(
    billed_api: TestClient,
    mint: Mint,
    stripe_fake: StripeFake,
    pack: str,
    amount: int,
    status: int,
    message: str | None,
) -> None:
    refused = refund(billed_api, mint, pack, amount)
    assert refused.status_code == status
    if message is not None:
        assert refused.json()["detail"] == message.format(pack=pack)
    assert "\n" not in refused.text
    assert charge_of(stripe_fake, pack).amount_refunded == 0


def test_a_payment_refunded_in_full_is_refused_again(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, pack: str
) -> None:
    assert refund(billed_api, mint, pack).status_code == 201
    again = refund(billed_api, mint, pack, 1)
    assert (again.status_code, again.json()["detail"]) == (409, f"{pack} is already refunded in full (8.00 USD)")


def test_only_the_apis_creator_can_refund_its_payments(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, pack: str
) -> None:
    other = refund(billed_api, mint, pack, 100, user=BOB)
    assert (other.status_code, other.json()["detail"]) == (
        404,
        f"no paid invoice or payment {pack} in your ledger; `apid earnings --json` lists them",
    )
    assert refund(billed_api, mint, "in_nobody").status_code == 404
    consumer = billed_api.post("/earnings/refunds", json={"invoice_id": pack}, headers=bearer(mint(CAROL, "consumers")))
    assert consumer.status_code == 403
    assert charge_of(stripe_fake, pack).amount_refunded == 0


def test_a_retried_refund_request_refunds_once(
    billed_api: TestClient, mint: Mint, billing: SubscriptionBilling, stripe_fake: StripeFake, store: Store, pack: str
) -> None:
    # The first attempt reached Stripe, then the request died before the ledger heard of it.
    metadata = {"apid_invoice": pack, "apid_creator": ALICE}
    lost = billing.gateway.refund(pack, 300, f"apid-refund-{pack}-300-1", metadata)
    retried = refund(billed_api, mint, pack, 300).json()
    assert retried["refund_id"] == lost.refund_id
    assert charge_of(stripe_fake, pack).amount_refunded == 300
    assert this_month(store)["refunds"] == 300
    # A second refund of the same amount, asked for once the first is in the ledger, is a new refund.
    assert refund(billed_api, mint, pack, 300).json()["refund_id"] != lost.refund_id
    assert charge_of(stripe_fake, pack).amount_refunded == 600


def test_a_dashboard_refund_is_mirrored_once_by_its_id(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, store: Store, pack: str
) -> None:
    made_here = refund(billed_api, mint, pack, 100).json()
    dashboard = client_for(stripe_fake).v1.refunds.create({"payment_intent": pack, "amount": 250})
    charge = charge_of(stripe_fake, pack).to_dict()
    assert deliver(billed_api, "charge.refunded", charge) == "handled"
    assert deliver(billed_api, "charge.refunded", charge) == "no change"  # another event, the same refunds
    month = this_month(store)
    assert (month["refunds"], month["refund_count"]) == (350, 2)
    refunds = billed_api.get("/earnings", headers=bearer(mint(ALICE, "creators"))).json()["refunds"]
    assert {r["refund_id"] for r in refunds} == {made_here["refund_id"], dashboard.id}
    # Only what is left can be refunded from the portal now.
    assert refund(billed_api, mint, pack, 451).json()["detail"] == (
        f"at most 4.50 USD of {pack} is left to refund, not 4.51 USD"
    )


def test_a_refund_of_a_payment_the_ledger_does_not_know_changes_nothing(
    billed_api: TestClient, stripe_fake: StripeFake, store: Store
) -> None:
    list_for_alice(store, "other-api")
    client = client_for(stripe_fake)
    customer = client.v1.customers.create({})
    intent = client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": stripe_fake.attach_card(customer.id),
            "confirm": True,
        }
    )
    client.v1.refunds.create({"payment_intent": intent.id})
    charge = client.v1.charges.retrieve(str(intent.latest_charge)).to_dict()
    assert deliver(billed_api, "charge.refunded", charge) == "no change"
    assert list(store.query(creator_pk(ALICE), "EARNINGS#")) == []


def test_a_paid_invoice_records_stripes_real_fee_and_is_refunded_through_its_payment(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, store: Store
) -> None:
    marketplace(billed_api, mint, plan="pro")
    [invoice] = stripe_fake.close_billing_period()
    assert relay(billed_api, stripe_fake) == ["handled"]
    entry = store.get(f"INVOICE#{invoice['id']}", "PAID")
    assert entry is not None
    # pro's 9.90 a month: Stripe's 2.9 % + 30 on the charge (its balance transaction's), Billing's 0.7 %.
    assert (entry["amount"], entry["stripe_fee"], entry["billing_fee"]) == (990, 59, 7)
    assert this_month(store)["stripe_fees"] == 66
    made = refund(billed_api, mint, invoice["id"], 200).json()
    assert (made["amount"], made["left"]) == (200, 790)
    assert charge_of(stripe_fake, str(entry["payment_intent"])).amount_refunded == 200
    assert relay(billed_api, stripe_fake)[-1] == "no change"  # its charge.refunded: recorded already, by its id
