"""GET /listings/{api}/receipts and what `apid publish` prints of it: each plan's take after Stripe's fees and
the platform's, with this control plane's settings, for the API's creator alone."""

from decimal import Decimal

from fastapi.testclient import TestClient

from api_direct.cli.money import receipts_text
from tests.control_plane.marketplace import BOB, Headers, published
from tests.control_plane.tokens import Mint, bearer

PACK = {"name": "credits", "rate_limit": 10, "burst": 20, "prepaid": {"calls": 10_000, "price": "8.00"}}


def test_each_plan_shows_what_its_creator_receives(api: TestClient, alice: Headers) -> None:
    plans = published(api, alice)["plans"]
    published(api, alice, plans=[*plans, PACK])
    found = api.get("/listings/weather-api/receipts", headers=alice).json()
    assert (found["currency"], Decimal(found["fee_percent"]), found["card_fixed_cents"]) == ("usd", 20, 30)
    assert (Decimal(found["card_percent"]), Decimal(found["billing_percent"])) == (Decimal("2.9"), Decimal("0.7"))
    shapes = {plan["plan"]: (plan["shape"], len(plan["receipts"])) for plan in found["plans"]}
    assert shapes == {"free": ("free", 0), "pro": ("subscription", 4), "credits": ("prepaid", 1)}
    [pack] = next(plan["receipts"] for plan in found["plans"] if plan["plan"] == "credits")
    assert pack == {
        "units": 10_000,
        "charged": 800,
        "card_fee": 53,
        "billing_fee": 0,
        "platform_fee": 160,
        "received": 587,
        "per_1000": "0.5870",
    }
    lines = receipts_text(found).splitlines()
    assert lines[0] == (
        "What you receive, in USD, after Stripe's 2.9 % + 30 cents a charge (and 0.7 % of subscription invoices)"
        " and the platform's 20 %:"
    )
    assert lines[1].split() == [
        "plan",
        "units",
        "consumer",
        "pays",
        "stripe",
        "platform",
        "you",
        "receive",
        "per",
        "1,000",
    ]
    assert lines[2].split() == ["free", "free:", "nothing", "charged"]
    assert lines[3].split() == ["pro", "1,000/month", "9.91", "0.66", "1.98", "7.27", "7.2700"]
    assert lines[-1].split() == ["credits", "10,000/pack", "8.00", "0.53", "1.60", "5.87", "0.5870"]


def test_another_creators_api_has_no_receipts_to_show(api: TestClient, alice: Headers, mint: Mint) -> None:
    published(api, alice)
    other = api.get("/listings/weather-api/receipts", headers=bearer(mint(BOB, "creators")))
    assert (other.status_code, other.json()["detail"]) == (404, "you have no listed API 'weather-api'")
    assert api.get("/listings/nothing-here/receipts", headers=alice).status_code == 404
