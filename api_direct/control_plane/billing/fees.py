"""What a creator really receives: a payment less Stripe's fees and the platform's, per payment and per plan.

Pure arithmetic, no I/O: the ledger (:mod:`.earnings`) applies it to real payments,
``apid publish`` and the creator portal to a plan's representative months.

Stripe's standard US pricing, each an operator setting (``ControlPlaneSettings``):

| fee | default | on |
| --- | --- | --- |
| card processing | 2.9 % + 30 cents | every successful charge (a subscription's invoice, a prepaid pack); the ledger records the real one, from the charge's balance transaction |
| Stripe Billing, usage-based | 0.7 % of billing volume | a subscription's invoices (Stripe bills it to the platform monthly; the platform passes it on per invoice); not a pack, which is a plain Checkout payment |
| Connect payouts (2 USD per active account a month, 0.25 % + 25 cents per payout) | not passed on | the platform pays them out of its own fee |

The platform's fee is ``platform_fee_percent`` of what consumers paid net of refunds
(refunded money earns the platform nothing), rounded half up. Stripe keeps its card fee
when a payment is refunded, so a refund costs the creator its whole amount and the fee
stays. Every fee is whole cents, rounded half up, as Stripe rounds.
"""  # noqa: E501 (Markdown table rows cannot wrap)

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.billing.charges import half_up, month_charge_cents
from api_direct.project import PricingPlan

#: Monthly volumes (units) a subscription plan's receipts are shown at: the fixed 30 cents weighs on small invoices.
VOLUMES = (1_000, 10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class StripePricing:
    """Stripe's fees the platform passes on; the defaults are Stripe's standard US pricing."""

    card_percent: Decimal = Decimal("2.9")
    card_fixed_cents: int = 30
    billing_percent: Decimal = Decimal("0.7")


def stripe_pricing(settings: ControlPlaneSettings) -> StripePricing:
    """The operator's settings of Stripe's fees."""
    return StripePricing(
        settings.stripe_card_percent, settings.stripe_card_fixed_cents, settings.stripe_billing_percent
    )


def pricing_text(pricing: StripePricing) -> str:
    """Stripe's fees as people read them: ``2.9 % + 30 cents a card charge, 0.7 % of subscription invoices``."""
    return (
        f"{pricing.card_percent.normalize():f} % + {pricing.card_fixed_cents} cents a card charge,"
        f" {pricing.billing_percent.normalize():f} % of subscription invoices (Stripe Billing)"
    )


@dataclass(frozen=True)
class Take:
    """One payment (or a month of them) and where its cents go, in cents; ``received`` is never below 0."""

    charged: int
    card_fee: int
    billing_fee: int
    platform_fee: int

    @property
    def stripe_fees(self) -> int:
        return self.card_fee + self.billing_fee

    @property
    def received(self) -> int:
        return max(self.charged - self.stripe_fees - self.platform_fee, 0)


@dataclass(frozen=True)
class Receipt:
    """What the creator receives for ``units`` in a month (or one pack): the take, and per 1,000 units."""

    units: int
    take: Take

    @property
    def per_1000(self) -> Decimal:
        """Dollars received per 1,000 units, to 1/100 of a cent (half up); 0 for no units."""
        if not self.units:
            return Decimal(0)
        return (Decimal(self.take.received) * 10 / self.units).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def card_fee(amount: int, pricing: StripePricing) -> int:
    """Stripe's fee for charging ``amount`` cents by card: none for nothing charged (Stripe makes no charge)."""
    if amount <= 0:
        return 0
    return half_up(Decimal(amount) * pricing.card_percent / 100) + pricing.card_fixed_cents


def billing_fee(amount: int, pricing: StripePricing) -> int:
    """Stripe Billing's share of a subscription invoice of ``amount`` cents."""
    return half_up(Decimal(max(amount, 0)) * pricing.billing_percent / 100)


def platform_fee(revenue: int, percent: Decimal) -> int:
    """The platform's cut in cents of ``revenue`` (net of refunds), half up; never more than it nor below 0."""
    if revenue <= 0:
        return 0
    return min(revenue, half_up(Decimal(revenue) * percent / 100))


def estimate(amount: int, pricing: StripePricing, fee_percent: Decimal, *, subscription: bool) -> Take:
    """Where one payment of ``amount`` cents would go, Stripe's fees estimated from ``pricing``."""
    return Take(
        charged=amount,
        card_fee=card_fee(amount, pricing),
        billing_fee=billing_fee(amount, pricing) if subscription else 0,
        platform_fee=platform_fee(amount, fee_percent),
    )


def plan_receipts(plan: PricingPlan, pricing: StripePricing, fee_percent: Decimal) -> list[Receipt]:
    """What the creator receives on ``plan``: per pack for a prepaid plan, per month at each of :data:`VOLUMES`
    (those within the quota, and the quota itself) for a subscription, nothing for a free plan.

    A subscription's month is one invoice (:func:`~.charges.month_charge_cents`), so one 30 cents.
    """
    if plan.prepaid is not None:
        pack = half_up(plan.prepaid.price * 100)
        return [Receipt(plan.prepaid.calls, estimate(pack, pricing, fee_percent, subscription=False))]
    if not plan.is_subscription:
        return []
    quota = plan.monthly_quota
    volumes = [units for units in VOLUMES if quota is None or units <= quota]
    if quota is not None and quota not in volumes and quota < VOLUMES[-1]:
        volumes.append(quota)
    return [
        Receipt(units, estimate(month_charge_cents(plan, units), pricing, fee_percent, subscription=True))
        for units in volumes
    ]
