"""The prices files: every shipped region valid, sourced and dated; a bad file refused whole, in one line."""

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api_direct.aws_costs import prices
from api_direct.errors import InputError

TIERED = [key for key in prices.PRICE_KEYS if len(prices.load("us-east-1").prices[key].tiers) > 1]


def us_east_1() -> dict[str, Any]:
    """The shipped file as data, for a test to break one field of."""
    text = (resources.files("api_direct.aws_costs") / "prices" / "us-east-1.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@pytest.mark.parametrize("region", prices.regions())
def test_every_region_file_is_valid_sourced_and_dated(region: str) -> None:
    table = prices.load(region)
    assert table.region == region
    assert all(source.startswith("https://") for source in table.source)
    assert date(2024, 11, 1) <= table.retrieved <= date.today()  # after DynamoDB's on-demand price cut
    assert set(prices.PRICE_KEYS) <= set(table.prices)


@pytest.mark.parametrize("region", sorted(set(prices.regions()) - {"us-east-1"}))
def test_every_other_region_says_what_was_confirmed_and_where_the_rest_came_from(region: str) -> None:
    table = prices.shipped(region)
    assert any(note.startswith(f"Confirmed for {region}") for note in table.notes)
    assert any(note.startswith(f"Not confirmed for {region}, taken from the") for note in table.notes)
    # Free tiers are per account, not per region.
    assert table.free_tier == prices.shipped("us-east-1").free_tier


def test_us_east_1_ships() -> None:
    assert "us-east-1" in prices.regions()


def test_an_unknown_region_is_refused_in_one_line_naming_the_ones_there_are() -> None:
    with pytest.raises(InputError) as error:
        prices.load("mars-north-1")
    assert "\n" not in str(error.value)
    assert "'mars-north-1'" in str(error.value) and "us-east-1" in str(error.value)


def test_a_file_that_is_not_json_is_refused_in_one_line() -> None:
    with pytest.raises(InputError, match=r"^the prices file x.json is not JSON: .* at line 1$"):
        prices.parse("{", "x.json")


def _drop_a_price(data: dict[str, Any]) -> None:
    del data["prices"]["kms_requests"]


def _unbound_a_middle_tier(data: dict[str, Any]) -> None:
    data["prices"]["apigateway_rest_requests"]["tiers"][1]["up_to"] = None


def _swap_two_tier_bounds(data: dict[str, Any]) -> None:
    tiers = data["prices"]["data_transfer_out_gb"]["tiers"]
    tiers[0]["up_to"], tiers[1]["up_to"] = tiers[1]["up_to"], tiers[0]["up_to"]


def _negative_price(data: dict[str, Any]) -> None:
    data["prices"]["sqs_requests"]["tiers"][0]["price"] = "-0.40"


def _free_tier_for_nothing(data: dict[str, Any]) -> None:
    data["free_tier"]["lambda_snapstart"] = 1


def _unknown_version(data: dict[str, Any]) -> None:
    data["version"] = 2


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_drop_a_price, "no price for kms_requests"),
        (_unbound_a_middle_tier, "only the last tier may have no upper bound"),
        (_swap_two_tier_bounds, "tier bounds must increase"),
        (_negative_price, "prices.sqs_requests.tiers.0.price"),
        (_free_tier_for_nothing, "a free tier for an unpriced line: lambda_snapstart"),
        (_unknown_version, "version"),
    ],
)
def test_a_malformed_file_is_refused_in_one_line(damage: Callable[[dict[str, Any]], None], said: str) -> None:
    data = us_east_1()
    damage(data)
    with pytest.raises(InputError) as error:
        prices.parse(json.dumps(data), "us-east-1.json")
    message = str(error.value)
    assert message.startswith("the prices file us-east-1.json is malformed: ")
    assert said in message and "\n" not in message


def test_a_file_for_another_region_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = us_east_1()
    data["region"] = "eu-west-1"
    monkeypatch.setattr(prices, "parse", lambda text, name: prices.PriceTable.model_validate(data))
    with pytest.raises(InputError, match=r"^the prices file us-east-1.json is for region 'eu-west-1'"):
        prices.load("us-east-1")


def test_a_tiered_price_charges_each_tier_its_own_rate() -> None:
    price = prices.Price(
        unit="thing",
        per=10,
        tiers=(
            prices.Tier(up_to=100, price=Decimal(3)),
            prices.Tier(up_to=300, price=Decimal(2)),
            prices.Tier(price=1),
        ),
    )
    # 100 things at 3 per 10, 200 at 2 per 10, then 50 at 1 per 10.
    assert price.cost(Decimal(350)) == Decimal(30 + 40 + 5)
    # Starting past the first tier: only the second and third rates apply.
    assert price.cost(Decimal(250), already=Decimal(100)) == Decimal(40 + 5)
    assert price.cost(Decimal(0), already=Decimal(10**12)) == 0


def test_negative_usage_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        prices.load("us-east-1").prices["lambda_requests"].cost(Decimal(-1))


#: Past every shipped tier's last bound, so the property crosses all of them.
BEYOND = 3 * 10**10
amounts = st.integers(min_value=0, max_value=BEYOND)


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(TIERED), start=amounts, first=amounts, second=amounts)
def test_cost_is_additive_across_tiers_and_monotone(key: str, start: int, first: int, second: int) -> None:
    price = prices.load("us-east-1").prices[key]
    a, b, s = Decimal(first), Decimal(second), Decimal(start)
    both = price.cost(a + b, already=s)
    assert price.cost(a, already=s) + price.cost(b, already=s + a) == both
    assert price.cost(a, already=s) <= both
    # A later unit is never dearer than an earlier one: AWS's tiers only go down.
    assert price.cost(a, already=s + b) <= price.cost(a, already=s)
