"""The fee model: Stripe's card and Billing fees and the platform's, half up to the cent, never a negative take;
and what a creator receives per plan shape (subscription at representative volumes, prepaid per pack, free)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api_direct.control_plane.billing.charges import month_charge_cents
from api_direct.control_plane.billing.fees import (
    VOLUMES,
    Receipt,
    StripePricing,
    Take,
    billing_fee,
    card_fee,
    estimate,
    plan_receipts,
    platform_fee,
)
from api_direct.project import CreditPack, PricingPlan

US = StripePricing()
FEE = Decimal("20")


def plan(**fields: object) -> PricingPlan:
    return PricingPlan.model_validate({"name": "pro", "rate_limit": 10, "burst": 20, **fields})


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        (0, 0),  # nothing charged: no charge, no fixed 30 cents
        (1, 30),  # 0.029 of a cent rounds down
        (50, 31),  # 1.45 -> 1
        (1000, 59),  # 29 + 30
        (1900, 85),  # 55.1 -> 55
        (4150, 150),  # 120.35 -> 120
        (5000, 175),  # 145 exactly
        (8500, 277),  # 246.5: half a cent rounds up (half to even would give 246)
    ],
)
def test_the_card_fee_is_2_9_percent_half_up_plus_30_cents(amount: int, fee: int) -> None:
    assert card_fee(amount, US) == fee


@pytest.mark.parametrize(("amount", "fee"), [(0, 0), (71, 0), (72, 1), (1900, 13), (41500, 291), (5000, 35)])
def test_stripe_billing_takes_0_7_percent_half_up(amount: int, fee: int) -> None:
    assert billing_fee(amount, US) == fee


@pytest.mark.parametrize(
    ("revenue", "percent", "fee"), [(0, "20", 0), (-500, "20", 0), (3, "20", 1), (20, "12.5", 3), (7, "100", 7)]
)
def test_the_platform_fee_is_half_up_and_never_more_than_the_revenue(revenue: int, percent: str, fee: int) -> None:
    assert platform_fee(revenue, Decimal(percent)) == fee


@given(
    amount=st.integers(min_value=0, max_value=10**9),
    percent=st.decimals(min_value=0, max_value=100, places=2),
    card=st.decimals(min_value=0, max_value=10, places=2),
    fixed=st.integers(min_value=0, max_value=100),
    subscription=st.booleans(),
)
def test_a_take_adds_up_and_never_goes_below_zero(
    amount: int, percent: Decimal, card: Decimal, fixed: int, subscription: bool
) -> None:
    take = estimate(amount, StripePricing(card, fixed, Decimal("0.7")), percent, subscription=subscription)
    assert take.charged == amount
    assert min(take.card_fee, take.billing_fee, take.platform_fee, take.received) >= 0
    assert take.platform_fee <= amount
    if take.received > 0:
        assert take.received + take.stripe_fees + take.platform_fee == amount
    # Each fee is within half a cent of its exact share.
    assert abs(take.platform_fee - Decimal(amount) * percent / 100) <= Decimal("0.5")
    if amount:
        assert abs(take.card_fee - fixed - Decimal(amount) * card / 100) <= Decimal("0.5")


def test_a_subscription_plan_is_shown_at_each_volume_with_its_one_invoice_a_month() -> None:
    pro = plan(monthly_fee="19.00", price_per_1000="0.40", free_calls=10_000)
    receipts = plan_receipts(pro, US, FEE)
    assert [r.units for r in receipts] == list(VOLUMES)
    first, *_, last = receipts
    # 19.00 a month whatever the volume below the free units: 0.85 card, 0.13 Billing, 3.80 platform.
    assert first.take == Take(charged=1900, card_fee=85, billing_fee=13, platform_fee=380)
    assert (first.take.received, first.per_1000) == (1422, Decimal("14.2200"))
    # A million units: 19.00 + 990,000 x 0.04 cents = 415.00.
    assert last.take.charged == month_charge_cents(pro, 1_000_000) == 41500
    assert last.take == Take(charged=41500, card_fee=1234, billing_fee=291, platform_fee=8300)
    assert (last.take.received, last.per_1000) == (31675, Decimal("0.3168"))


def test_the_fixed_30_cents_weighs_on_a_small_invoice() -> None:
    metered = plan(price_per_1000="0.50")
    small, large = plan_receipts(metered, US, FEE)[0], plan_receipts(metered, US, FEE)[-1]
    # 1,000 units bill 0.50: 30 of its 50 cents go to the fixed card fee.
    assert small.take == Take(charged=50, card_fee=31, billing_fee=0, platform_fee=10)
    assert small.per_1000 == Decimal("0.0900")
    assert large.per_1000 == Decimal("0.3817")  # 500.00 less 14.80, 3.50 and 100.00


def test_a_quota_bounds_the_volumes_shown_and_is_shown_itself() -> None:
    capped = plan(price_per_1000="1", monthly_quota=50_000)
    assert [r.units for r in plan_receipts(capped, US, FEE)] == [1_000, 10_000, 50_000]
    tiny = plan(price_per_1000="1", monthly_quota=500)
    assert [r.units for r in plan_receipts(tiny, US, FEE)] == [500]


def test_a_prepaid_plan_is_shown_per_pack_without_the_billing_fee() -> None:
    credits = plan(prepaid=CreditPack(calls=10_000, price=Decimal("8.00")))
    [pack] = plan_receipts(credits, US, FEE)
    # A pack is a Checkout payment, not a Stripe Billing invoice: 0.53 card fee, 1.60 platform.
    assert pack == Receipt(10_000, Take(charged=800, card_fee=53, billing_fee=0, platform_fee=160))
    assert (pack.take.received, pack.per_1000) == (587, Decimal("0.5870"))


def test_a_free_plan_receives_nothing_and_shows_no_volumes() -> None:
    assert plan_receipts(plan(), US, FEE) == []


def test_a_receipt_of_no_units_is_zero_per_1000() -> None:
    assert Receipt(0, Take(0, 0, 0, 0)).per_1000 == 0
