"""``apid usage`` and ``apid usage invoices`` through the real CLI against a real control plane.

The control plane runs under uvicorn on loopback (moto, the Stripe fake); usage goes in through
the real aggregator and invoices through the real ledger, so the CLI shows what billing counted.
"""

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.earnings import PaidInvoice, record_revenue
from api_direct.control_plane.billing.metering import Meter, UsageEvent
from api_direct.errors import AccessError, InputError, StateError
from tests.control_plane.billing.cli_harness import SignIn, apid, ok
from tests.control_plane.billing.usage import API, CAROL, body, marketplace, usage_event
from tests.control_plane.marketplace import ALICE
from tests.control_plane.resources import REGION, TABLE
from tests.control_plane.tokens import Mint, bearer
from tests.errors import one_line_error

NOVEMBER = ("--from", "2026-11-01", "--to", "2026-11-30")
LINK = "https://invoice.stripe.com/i/acct_1/test_YWNjdA"


@pytest.fixture
def carol(control_plane: str, billed_app: FastAPI, sign_in_as: SignIn, mint: Mint) -> str:
    """Carol signed in, on weather-api's free plan, with 3 + 4 calls in November and one paid invoice."""
    key_id = marketplace(TestClient(billed_app), mint, plan="free")
    store = Store(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
    for hour, calls in (("2026-11-23T10:00:00Z", 3), ("2026-11-24T10:00:00Z", 4)):
        event = usage_event(key_id, hour=hour, calls=calls, plan="free", record=hour)
        assert Meter(store).apply(UsageEvent.parse(body(event)), datetime(2026, 11, 25, tzinfo=UTC)) == "applied"
    paid = PaidInvoice(
        "in_nov",
        990,
        "usd",
        API,
        CAROL,
        hosted_invoice_url=LINK,
        period_start=datetime(2026, 11, 1, tzinfo=UTC),
        period_end=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert record_revenue(store, paid, datetime(2026, 12, 1, 1, tzinfo=UTC)) == "recorded"
    sign_in_as(control_plane, CAROL, "consumers")
    return key_id


def served(billed_app: FastAPI, mint: Mint, path: str) -> TestClient:
    return TestClient(billed_app).get(path, headers=bearer(mint(CAROL, "consumers")))  # type: ignore[return-value]


def test_usage_prints_the_rows_and_the_totals(carol: str) -> None:
    out = ok(apid("usage", *NOVEMBER))
    assert "Calls from 2026-11-01 to 2026-11-30 (UTC days)" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("2026-11-")]
    assert [(row[:3], row[-1]) for row in rows] == [
        (["2026-11-23", API, carol], "3"),
        (["2026-11-24", API, carol], "4"),
    ]
    assert f"{API}: 7 calls" in out and "Total: 7 calls" in out


def test_usage_json_is_the_control_planes_document(carol: str, billed_app: FastAPI, mint: Mint) -> None:
    printed = json.loads(ok(apid("usage", *NOVEMBER, "--api", API, "--json")))
    assert printed == served(billed_app, mint, f"/usage/calls?from=2026-11-01&to=2026-11-30&api_id={API}").json()
    assert (printed["calls"], printed["timezone"]) == (7, "UTC")


def test_usage_csv_writes_the_same_rows_as_csv(carol: str, billed_app: FastAPI, mint: Mint) -> None:
    result = apid("usage", *NOVEMBER, "--csv")
    ok(result)
    out = result.stdout_bytes.decode()  # as written: Click's ``stdout`` turns the CSV's CRLF into LF
    assert out == served(billed_app, mint, "/usage/calls.csv?from=2026-11-01&to=2026-11-30").text
    header, *rows = list(csv.reader(io.StringIO(out)))
    assert header == ["date", "api_id", "key_id", "key_name", "calls"]
    assert [(day, api, key, calls) for day, api, key, _, calls in rows] == [
        ("2026-11-23", API, carol, "3"),
        ("2026-11-24", API, carol, "4"),
    ]


def test_usage_invoices_lists_each_with_its_stripe_link(carol: str) -> None:
    out = ok(apid("usage", "invoices"))
    assert out.splitlines() == [f"in_nov  {API}  2026-11-01 to 2026-12-01  9.90 USD  paid", f"  {LINK}"]
    [invoice] = json.loads(ok(apid("usage", "invoices", "--json")))["invoices"]
    assert (invoice["invoice_id"], invoice["hosted_invoice_url"]) == ("in_nov", LINK)


def test_a_range_backwards_is_refused_in_one_line(carol: str) -> None:
    result = apid("usage", "--from", "2026-11-30", "--to", "2026-11-01")
    one_line_error(result, InputError.exit_code, "from (2026-11-30) is after to (2026-11-01)")


def test_a_date_that_is_not_one_is_a_usage_error(carol: str) -> None:
    result = apid("usage", "--from", "November")
    assert result.exit_code == 2 and "'November' does not match the format '%Y-%m-%d'" in result.stderr


def test_an_api_never_subscribed_to_is_refused_in_one_line(carol: str) -> None:
    one_line_error(apid("usage", "--api", "other-api"), StateError.exit_code, "never subscribed to other-api")


@pytest.mark.parametrize("command", [("usage",), ("usage", "--csv"), ("usage", "invoices")])
def test_a_creator_is_refused_in_one_line(control_plane: str, sign_in_as: SignIn, command: tuple[str, ...]) -> None:
    sign_in_as(control_plane, ALICE, "creators")
    one_line_error(apid(*command), AccessError.exit_code, "only consumers may do this")


@pytest.mark.parametrize("command", [("usage",), ("usage", "--json"), ("usage", "invoices")])
def test_without_a_session_the_commands_say_to_sign_in(config_home: Path, command: tuple[str, ...]) -> None:
    one_line_error(apid(*command), StateError.exit_code, "not signed in to a control plane", "apid login")
