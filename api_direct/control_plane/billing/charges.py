"""What a month of a plan costs its consumer, as Stripe invoices it: the one rule, for spend caps and the sandbox's check;
and how an amount of cents reads to people (pages and emails alike).

Stripe bills a paid plan's ``monthly_fee`` as a flat price and its billable units (a
call counts its route's weight) through a graduated tiered price
(:meth:`StripeGateway.plan_prices`): the first ``free_calls`` units at 0, each further
unit at ``price_per_1000 / 1000``. Each line is
rounded to whole cents, half up, as Stripe rounds a line.
"""

from decimal import ROUND_HALF_UP, Decimal

from api_direct.project import PricingPlan


def half_up(cents: Decimal) -> int:
    """Whole cents, half up, as Stripe rounds a line and the control plane its fee."""
    return int(cents.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def month_charge_cents(plan: PricingPlan, billable: int) -> int:
    """The month's invoice for ``billable`` units on ``plan``, in cents: its fee plus the units beyond the free ones."""
    return half_up(plan.monthly_fee * 100) + half_up(max(billable - plan.free_calls, 0) * plan.price_per_1000 / 10)


def money_text(cents: int | Decimal, currency: str) -> str:
    """``1520`` cents as ``15.20 USD``."""
    return f"{Decimal(cents) / 100:,.2f} {currency.upper()}"
