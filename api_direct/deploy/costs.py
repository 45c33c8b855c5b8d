"""What the API stack costs in AWS, as `apid plan` and `apid publish` show it before a deploy or a listing.

Two figures: the stack's fixed monthly cost (its resources AWS bills by the month,
read off the template), and the cost of 1,000 calls at the stage's memory and
architecture in the linked region. The calls are shaped like the API's own traffic
when the control plane has measured some this month or last (the creator is signed
in and the API published), else like :data:`~api_direct.aws_costs.traffic.ASSUMED_PER_1000`;
the result says which, since an assumption is only a starting point.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from api_direct.aws_costs import prices
from api_direct.aws_costs.model import Estimate, LineItem, display, to_millionth
from api_direct.aws_costs.stack_costs import fixed_monthly, per_1000_calls
from api_direct.contracts import ACCESS_LOG_RETENTION_DAYS
from api_direct.aws_costs.traffic import ASSUMED_PER_1000, RuntimeProfile, Traffic
from api_direct.client.control_plane import ControlPlane


@dataclass(frozen=True)
class Measured:
    """The API's traffic of a month as the control plane counted it: every plan's calls and the unattributed."""

    month: str
    traffic: Traffic


@dataclass(frozen=True)
class StackCosts:
    """The stack's fixed monthly cost and the cost of 1,000 calls, with what they were priced from."""

    profile: RuntimeProfile
    prices_retrieved: date
    fixed: Estimate
    per_1000: Estimate
    #: The measured month the calls are shaped like; ``None``: the assumed traffic.
    measured: Measured | None = None

    @property
    def basis(self) -> Literal["measured", "assumed"]:
        return "measured" if self.measured else "assumed"

    @property
    def per_1000_calls(self) -> Decimal:
        return self.per_1000.total

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "region": self.profile.region,
            "prices_retrieved": self.prices_retrieved.isoformat(),
            "runtime": self.profile.model_dump(),
            "log_retention_days": {
                "access_log": ACCESS_LOG_RETENTION_DAYS,
                "functions": self.profile.log_retention_days,
            },
            "fixed_monthly": {"total": money(self.fixed.total), "items": [_item_json(i) for i in self.fixed.items]},
            "per_1000_calls": {
                "total": money(self.per_1000.total),
                "items": [_item_json(i) for i in self.per_1000.items],
            },
            "traffic": self.basis,
            "measured": (
                {"month": self.measured.month, "calls": self.measured.traffic.calls} if self.measured else None
            ),
        }

    def describe(self) -> str:
        """The figures for a person: the fixed lines itemised, the cost of 1,000 calls and what it assumed."""
        profile = self.profile
        lines = [
            f"AWS cost ({profile.region} prices of {self.prices_retrieved}; {profile.architecture},"
            f" {profile.memory_mb} MB):",
            f"  fixed: {display(self.fixed.total)} a month"
            + ("" if self.fixed.items else " (nothing in the stack is billed by the month while unused)"),
        ]
        lines += [
            f"    {item.quantity:>4} {item.unit:<18} {item.key:<36} {display(item.cost)}" for item in self.fixed.items
        ]
        if self.measured:
            shaped = f"shaped like the {self.measured.traffic.calls:,} calls measured in {self.measured.month}"
        else:
            shaped = "assumed traffic: 100 ms a call, 2 KiB responses, 95% of key checks cached"
        lines.append(
            f"  per 1,000 calls: {display(self.per_1000.total, 4)} ({shaped};"
            f" logs kept: the access log's {ACCESS_LOG_RETENTION_DAYS} days, the functions' {profile.log_retention_days})"
        )
        return "\n".join(lines)


def money(amount: Decimal) -> str:
    """Dollars as a decimal string to a millionth, half up, as the control plane's cost figures."""
    return str(to_millionth(amount))


def _item_json(item: LineItem) -> dict[str, str]:
    return {"key": item.key, "quantity": str(item.quantity), "unit": item.unit, "cost": money(item.cost)}


def stack_costs(template: Mapping[str, Any], profile: RuntimeProfile, measured: Measured | None = None) -> StackCosts:
    """The stack's costs in ``profile``'s region; refused in one line for a region no prices file covers."""
    table = prices.load(profile.region)
    traffic = measured.traffic if measured else ASSUMED_PER_1000
    return StackCosts(
        profile=profile,
        prices_retrieved=table.retrieved,
        fixed=fixed_monthly(template, table),
        per_1000=per_1000_calls(traffic, profile, table),
        measured=measured,
    )


def measured_traffic(client: ControlPlane, api_id: str, today: date) -> Measured | None:
    """The API's calls of this month (or last month, early in a month with none yet); ``None`` without any."""
    previous = date(today.year - 1, 12, 1) if today.month == 1 else date(today.year, today.month - 1, 1)
    for month in (f"{today:%Y-%m}", f"{previous:%Y-%m}"):
        for api in client.costs(month)["apis"]:
            if api["api"] != api_id:
                continue
            traffic = sum(
                (Traffic.model_validate(plan["traffic"]) for plan in api["plans"]),
                Traffic.model_validate(api["unattributed"]["traffic"]),
            )
            if traffic.calls:
                return Measured(month, traffic)
    return None
