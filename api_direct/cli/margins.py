"""Whether each plan pays for its calls: what the creator receives per 1,000 units against AWS's cost per 1,000 calls.

A plan loses money where what it pays the creator, after Stripe's fees and the
platform's, is below what AWS bills for serving the calls: at one of the monthly
volumes (or the pack) the control plane's receipts list, or beyond them, where each
further 1,000 units bring the plan's price per 1,000 less the fees taken as a share
(the card's fixed fee is per invoice, not per unit). A free plan always costs. A unit
is taken as a call: a route weighted above 1 (``[[routes]]``) brings more per call,
one weighted 0 nothing.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from api_direct.aws_costs.model import display
from api_direct.project import PricingPlan


@dataclass(frozen=True)
class PlanMargin:
    """One plan against the cost of its calls; ``warning`` says where it loses money (``None``: it does not)."""

    plan: str
    #: Per 1,000 units at each volume the receipts list (units a month, or a pack's units), in dollars.
    received_per_1000: dict[int, Decimal]
    cost_per_1000: Decimal
    warning: str | None

    @property
    def loses_money(self) -> bool:
        return self.warning is not None


def marginal_per_1000(plan: PricingPlan, receipts: Mapping[str, Any]) -> Decimal:
    """What 1,000 more units of a subscription bring the creator: its price less the fees charged as a share."""
    shares = sum(Decimal(str(receipts[name])) for name in ("card_percent", "billing_percent", "fee_percent"))
    return plan.price_per_1000 * (100 - shares) / 100


def plan_margins(plans: Sequence[PricingPlan], receipts: Mapping[str, Any], cost_per_1000: Decimal) -> list[PlanMargin]:
    """Each plan of ``plans`` against ``cost_per_1000`` (dollars per 1,000 calls), with the control plane's
    ``receipts`` for them (``GET /listings/{api}/receipts``)."""
    listed = {found["plan"]: found["receipts"] for found in receipts["plans"]}
    margins = []
    for plan in plans:
        received = {int(receipt["units"]): Decimal(str(receipt["per_1000"])) for receipt in listed.get(plan.name, [])}
        margins.append(
            PlanMargin(plan.name, received, cost_per_1000, _warning(plan, received, receipts, cost_per_1000))
        )
    return margins


def _warning(plan: PricingPlan, received: dict[int, Decimal], receipts: Mapping[str, Any], cost: Decimal) -> str | None:
    against = f"AWS costs {display(cost, 4)} per 1,000 calls"
    if not plan.is_paid:
        if plan.monthly_quota is None:
            return f"plan {plan.name} is free with no monthly quota: every 1,000 calls cost you {display(cost, 4)}"
        return (
            f"plan {plan.name} is free: its {plan.monthly_quota:,} calls a month cost you up to"
            f" {display(cost * plan.monthly_quota / 1000, 4)} each subscriber ({against})"
        )
    for units, per_1000 in sorted(received.items()):
        if per_1000 < cost:
            volume = "a pack" if plan.is_prepaid else f"{units:,} units a month"
            return f"plan {plan.name} loses money at {volume}: it pays you {display(per_1000, 4)} per 1,000; {against}"
    if plan.is_prepaid or not received:
        return None
    if plan.price_per_1000:
        marginal = marginal_per_1000(plan, receipts)
        if marginal >= cost or (plan.monthly_quota is not None and plan.monthly_quota <= plan.free_calls):
            return None
        beyond = f" beyond the {plan.free_calls:,} its fee includes" if plan.free_calls else ""
        return (
            f"plan {plan.name} loses money on each 1,000 units{beyond}: they pay you {display(marginal, 4)}"
            f" after fees; {against}"
        )
    # A flat fee: what it pays covers so many calls a month, and no more.
    smallest = min(received)
    breaks_even = int(received[smallest] * smallest / cost)
    if plan.monthly_quota is not None and plan.monthly_quota <= breaks_even:
        return None
    return f"plan {plan.name} loses money above about {breaks_even:,} units a month: its fee covers no more; {against}"
