"""Which plans lose money: the receipts the control plane computes, against AWS's cost per 1,000 calls.

The receipts are the control plane's own (``fees.plan_receipts``, as ``GET
/listings/{api}/receipts`` returns them), so the comparison is tested on the figures
`apid publish` really prints.
"""

from decimal import Decimal
from typing import Any

import pytest

from api_direct.cli.margins import marginal_per_1000, plan_margins
from api_direct.control_plane.billing.fees import StripePricing, plan_receipts
from api_direct.project import PricingPlan

PRICING = StripePricing()
FEE_PERCENT = Decimal(10)
#: AWS's cost of 1,000 calls in these tests: a cent (about the assumed traffic's, at 1 GB).
COST = Decimal("0.01")


def plan(name: str, **fields: Any) -> PricingPlan:
    return PricingPlan(name=name, rate_limit=10, burst=20, **fields)


def receipts(*plans: PricingPlan) -> dict[str, Any]:
    """The control plane's answer for ``plans``, as JSON gives it (decimals as strings)."""
    return {
        "currency": "usd",
        "fee_percent": str(FEE_PERCENT),
        "card_percent": str(PRICING.card_percent),
        "card_fixed_cents": PRICING.card_fixed_cents,
        "billing_percent": str(PRICING.billing_percent),
        "plans": [
            {
                "plan": each.name,
                "receipts": [
                    {"units": r.units, "received": r.take.received, "per_1000": str(r.per_1000)}
                    for r in plan_receipts(each, PRICING, FEE_PERCENT)
                ],
            }
            for each in plans
        ],
    }


def warning_of(each: PricingPlan, cost: Decimal = COST) -> str | None:
    [margin] = plan_margins([each], receipts(each), cost)
    assert margin.loses_money == (margin.warning is not None)
    return margin.warning


def test_a_free_plan_always_costs_its_quotas_calls() -> None:
    warning = warning_of(plan("free", monthly_quota=1000))
    assert warning == (
        "plan free is free: its 1,000 calls a month cost you up to $0.0100 each subscriber"
        " (AWS costs $0.0100 per 1,000 calls)"
    )
    assert "no monthly quota" in str(warning_of(plan("open")))


def test_a_price_well_above_the_cost_does_not_warn() -> None:
    assert warning_of(plan("pro", price_per_1000=Decimal("0.50"), monthly_fee=Decimal(5))) is None
    assert warning_of(plan("packs", prepaid={"calls": 10_000, "price": Decimal(10)})) is None


def test_a_pack_that_pays_less_than_its_calls_cost_warns() -> None:
    warning = warning_of(plan("packs", prepaid={"calls": 1_000_000, "price": Decimal(5)}))
    assert warning is not None and warning.startswith("plan packs loses money at a pack: it pays you $0.0041")


def test_free_calls_in_a_per_unit_plan_lose_money_at_the_first_volume() -> None:
    warning = warning_of(plan("metered", price_per_1000=Decimal("0.10"), free_calls=5000))
    assert warning is not None and warning.startswith("plan metered loses money at 1,000 units a month")


def test_a_price_below_the_cost_after_fees_loses_on_each_further_1000() -> None:
    cheap = plan("cheap", price_per_1000=Decimal("0.0105"), monthly_fee=Decimal(100), free_calls=1000)
    shares = PRICING.card_percent + PRICING.billing_percent + FEE_PERCENT
    assert marginal_per_1000(cheap, receipts(cheap)) == Decimal("0.0105") * (100 - shares) / 100
    assert warning_of(cheap) == (
        "plan cheap loses money on each 1,000 units beyond the 1,000 its fee includes: they pay you $0.0091"
        " after fees; AWS costs $0.0100 per 1,000 calls"
    )


def test_a_flat_fee_with_no_quota_loses_above_the_calls_it_covers() -> None:
    warning = warning_of(plan("flat", monthly_fee=Decimal(20)))
    # $20 less 2.9% + 30 cents, 0.7% and 10%: $16.98 received, which pays for 1,698,000 calls at a cent per 1,000.
    assert warning == (
        "plan flat loses money above about 1,698,000 units a month: its fee covers no more;"
        " AWS costs $0.0100 per 1,000 calls"
    )
    assert warning_of(plan("capped", monthly_fee=Decimal(20), monthly_quota=1_500_000)) is None
    assert "at 1,000,000 units a month" in str(warning_of(plan("flat", monthly_fee=Decimal(10))))


@pytest.mark.parametrize("cost", [Decimal(0), Decimal("0.000001")])
def test_only_free_plans_warn_when_calls_cost_next_to_nothing(cost: Decimal) -> None:
    plans = [plan("free", monthly_quota=100), plan("pro", price_per_1000=Decimal(1))]
    margins = plan_margins(plans, receipts(*plans), cost)
    assert [margin.loses_money for margin in margins] == [True, False]
    assert margins[1].received_per_1000 and all(v > 0 for v in margins[1].received_per_1000.values())
