"""``apid payouts setup`` and ``apid earnings`` through the real CLI against a real control plane.

Here, beside the billing tests, for their fixtures (moto, minted tokens, the Stripe fake, billing settings).

The billed control plane app runs under uvicorn on 127.0.0.1 (moto for AWS, the Stripe fake for
Stripe); the CLI's session file holds a token minted for the test user, so everything from
``require_session`` down (the HTTP client, problem+json errors, exit codes) is the real code
(:mod:`tests.control_plane.billing.cli_harness` and this folder's ``conftest.py``).
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi import FastAPI

from api_direct.cli.money import render
from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.earnings import PaidInvoice, close_and_pay, record_revenue
from api_direct.control_plane.billing.periods import month_text
from api_direct.errors import AccessError, InputError, StateError
from tests.control_plane.billing.payments import list_for_alice, paid_pack
from tests.control_plane.billing.usage import API, CAROL
from tests.control_plane.marketplace import ALICE, BOB
from tests.control_plane.resources import (
    REGION,
    TABLE,
)
from tests.control_plane.billing.cli_harness import SignIn, apid, ok, serving
from tests.errors import one_line_error
from api_direct.local.stripe_server import StripeFake


FOOTER = "Amounts in USD; stripe: Stripe's card and Billing fees; platform: the platform fee, {percent} of revenue net of refunds."


@pytest.fixture
def alice(control_plane: str, sign_in_as: SignIn) -> str:
    sign_in_as(control_plane)
    return control_plane


def store() -> Store:
    return Store(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))


def listed_with_revenue(app: FastAPI) -> None:
    """weather-api listed by Alice; October (two invoices) closed, and paid if she can be; November open."""
    store().table.put_item(Item={"pk": f"API#{API}", "sk": "LISTING", "creator": ALICE})
    for invoice, amount, day in (
        ("in_oct_1", 990, datetime(2026, 10, 3, tzinfo=UTC)),
        ("in_oct_2", 1234567, datetime(2026, 10, 20, tzinfo=UTC)),
    ):
        assert record_revenue(store(), PaidInvoice(invoice, amount, "usd", API, CAROL), day) == "recorded"
    close_and_pay(
        store(), app.state.services.billing.gateway, Decimal("20"), datetime(2026, 11, 4, tzinfo=UTC), timedelta(days=3)
    )
    november = datetime(2026, 11, 15, 12, tzinfo=UTC)
    assert record_revenue(store(), PaidInvoice("in_nov", 990, "usd", API, CAROL), november) == "recorded"


# --- apid payouts setup -------------------------------------------------------------------------------


def test_payouts_setup_prints_the_account_and_its_onboarding_link(alice: str, stripe_fake: StripeFake) -> None:
    lines = ok(apid("payouts", "setup")).splitlines()
    [account] = [line.split()[2].rstrip(".") for line in lines if line.startswith("Stripe account ")]
    assert account.startswith("acct_")
    [link] = [line.strip() for line in lines if line.strip().startswith("http")]
    assert link.startswith(f"{stripe_fake.base_url}/setup/e/{account}/")
    assert lines[-1] == "Finish onboarding in your browser to enable transfers."

    stripe_fake.complete_onboarding(account)
    again = ok(apid("payouts", "setup")).splitlines()
    assert again[0] == f"Stripe account {account}. Onboarding link (expires soon):"
    assert again[-1] == "Transfers are enabled: earnings are paid out after each month closes."
    assert [line.strip() for line in again if line.strip().startswith("http")] != [link], "a fresh link each time"


def test_payouts_setup_json_is_the_account_document(alice: str, stripe_fake: StripeFake) -> None:
    found = json.loads(ok(apid("payouts", "setup", "--json")))
    assert set(found) == {"account_id", "onboarding_url", "transfers_enabled"}
    assert found["transfers_enabled"] is False and found["onboarding_url"].startswith(stripe_fake.base_url)
    assert json.loads(ok(apid("--json", "payouts", "setup")))["account_id"] == found["account_id"]


def test_payouts_setup_on_a_control_plane_without_billing_says_so(
    settings: ControlPlaneSettings, aws: Any, sign_in_as: SignIn
) -> None:
    with serving(create_app(settings)) as url:
        sign_in_as(url)
        one_line_error(apid("payouts", "setup"), StateError.exit_code, "billing is not configured")


# --- apid earnings ------------------------------------------------------------------------------------


def test_earnings_prints_a_table_of_months_with_amounts_in_dollars(
    alice: str, billed_app: FastAPI, stripe_fake: StripeFake
) -> None:
    account = json.loads(ok(apid("payouts", "setup", "--json")))["account_id"]
    stripe_fake.complete_onboarding(account)
    listed_with_revenue(billed_app)
    [transfer] = stripe_fake.transfers()

    header, november, october, footer = ok(apid("earnings")).splitlines()
    assert header.split() == [
        "month",
        "state",
        "invoices",
        "revenue",
        "refunds",
        "stripe",
        "platform",
        "payout",
        "transfer",
    ]
    assert november.split() == ["2026-11", "open", "1", "9.90", "0.00", "0.00", "-", "-", "-"]
    # 12,355.57 revenue; a fifth, half up, is 2,471.114 -> 2,471.11; the rest is paid out.
    assert october.split() == [
        "2026-10",
        "paid",
        "2",
        "12,355.57",
        "0.00",
        "0.00",
        "2,471.11",
        "9,884.46",
        transfer["id"],
    ]
    assert transfer["amount"] == 988446
    assert footer == FOOTER.format(percent="20%")


def test_earnings_json_is_the_ledger_with_every_invoice(alice: str, billed_app: FastAPI) -> None:
    listed_with_revenue(billed_app)
    found = json.loads(ok(apid("earnings", "--json")))
    assert (found["currency"], Decimal(found["fee_percent"]), found["payout_account"]) == ("usd", Decimal(20), None)
    assert [(m["month"], m["state"], m["revenue"], m["fee"], m["payout"]) for m in found["months"]] == [
        ("2026-11", "open", 990, None, None),
        ("2026-10", "closed", 1235557, 247111, 988446),
    ]
    assert [(e["invoice_id"], e["amount"]) for e in found["entries"]] == [
        ("in_nov", 990),
        ("in_oct_2", 1234567),
        ("in_oct_1", 990),
    ]


def test_earnings_before_any_revenue_say_so_and_point_at_payouts_setup(alice: str) -> None:
    assert ok(apid("earnings")).splitlines()[1:] == [
        "(nothing yet: revenue appears when a consumer's invoice is paid)",
        FOOTER.format(percent="20%") + " No payout account yet: run `apid payouts setup`.",
    ]


def test_a_consumer_asking_for_earnings_is_refused_in_one_line(control_plane: str, sign_in_as: SignIn) -> None:
    sign_in_as(control_plane, CAROL, "consumers")
    one_line_error(apid("earnings"), AccessError.exit_code, "only creators may do this")


@pytest.mark.parametrize("command", [("payouts", "setup"), ("earnings",), ("earnings", "--json")])
def test_without_a_session_the_commands_say_to_sign_in(config_home: Path, command: tuple[str, ...]) -> None:
    one_line_error(apid(*command), StateError.exit_code, "not signed in to a control plane", "apid login")


# --- render -------------------------------------------------------------------------------------------


def test_render_of_an_empty_ledger() -> None:
    assert render(
        {"currency": "eur", "fee_percent": "12.5", "payout_account": "acct_1", "months": [], "entries": []}
    ).splitlines() == [
        "month    state   invoices      revenue    refunds   stripe   platform       payout  transfer",
        "(nothing yet: revenue appears when a consumer's invoice is paid)",
        FOOTER.format(percent="12.5%").replace("USD", "EUR"),
    ]


@pytest.mark.parametrize(
    ("fee_percent", "shown"),
    [("20", "20%"), (20, "20%"), ("10.0", "10%"), ("0", "0%"), ("100", "100%"), ("7.25", "7.25%")],
)
def test_render_shows_the_fee_percent_as_people_write_it(fee_percent: Any, shown: str) -> None:
    footer = render(
        {"currency": "usd", "fee_percent": fee_percent, "payout_account": "acct_1", "months": [], "entries": []}
    ).splitlines()[-1]
    assert footer == FOOTER.format(percent=shown)


def test_render_shows_refunds_fees_and_a_month_carried_below_zero() -> None:
    month = {"month": "2026-12", "state": "closed", "invoices": 1, "revenue": 500, "refunds": 2000}
    month |= {"stripe_fees": 45, "fee": 0, "payout": 0, "carried_out": 1545}
    lines = render(
        {"currency": "usd", "fee_percent": "20", "payout_account": "acct_1", "months": [month], "entries": []}
    ).splitlines()
    assert lines[1].split() == ["2026-12", "closed", "1", "5.00", "20.00", "0.45", "0.00", "0.00", "-"]
    assert lines[2] == "2026-12 came out 15.45 below zero: the next month pays it first."


def test_render_names_a_month_s_disputes_and_their_fees() -> None:
    month = {"month": "2026-12", "state": "open", "invoices": 1, "revenue": 2000}
    month |= {"disputes": 800, "dispute_fees": 1500, "dispute_count": 1}
    lines = render(
        {"currency": "usd", "fee_percent": "20", "payout_account": "acct_1", "months": [month], "entries": []}
    ).splitlines()
    assert lines[2] == "2026-12 disputes: 8.00 taken back and 15.00 in Stripe's dispute fees."


# --- apid refund --------------------------------------------------------------------------------------


@pytest.fixture
def pack(alice: str, stripe_fake: StripeFake) -> str:
    """Carol's 8.00 pack of Alice's weather-api, in the ledger: its payment id."""
    list_for_alice(store())
    return paid_pack(stripe_fake, store()).id


def test_refund_gives_part_back_then_the_rest(pack: str, stripe_fake: StripeFake) -> None:
    [line] = ok(apid("refund", pack, "--amount", "3.00")).splitlines()
    assert line.startswith(f"Refunded 3.00 USD of {pack} (re_")
    assert line.endswith(f"); 5.00 USD left to refund. It comes off your {month_text(datetime.now(UTC))} payout.")
    rest = json.loads(ok(apid("refund", pack, "--json")))
    assert (rest["invoice_id"], rest["amount"], rest["refunded"], rest["left"]) == (pack, 500, 800, 0)
    assert stripe_fake.charges()[0]["amount_refunded"] == 800
    one_line_error(apid("refund", pack), StateError.exit_code, f"{pack} is already refunded in full (8.00 USD)")


@pytest.mark.parametrize("amount", ["abc", "0", "-1", "1.001", "NaN", "Infinity"])
def test_refund_of_a_bad_amount_is_refused_before_asking(pack: str, stripe_fake: StripeFake, amount: str) -> None:
    one_line_error(
        apid("refund", pack, "--amount", amount), InputError.exit_code, "--amount: the amount must be positive"
    )
    assert stripe_fake.charges()[0]["amount_refunded"] == 0


def test_refund_of_more_than_is_left_or_of_another_creators_payment_is_refused(
    pack: str, control_plane: str, sign_in_as: SignIn
) -> None:
    one_line_error(
        apid("refund", pack, "--amount", "8.01"), StateError.exit_code, f"at most 8.00 USD of {pack} is left to refund"
    )
    sign_in_as(control_plane, BOB)
    one_line_error(apid("refund", pack), StateError.exit_code, f"no paid invoice or payment {pack} in your ledger")
    sign_in_as(control_plane, CAROL, "consumers")
    one_line_error(apid("refund", pack), AccessError.exit_code, "only creators may do this")
