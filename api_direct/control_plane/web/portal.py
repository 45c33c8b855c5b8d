"""The creator portal: each API's deployment and daily usage, what each plan really pays the creator, this month's
margin per day against AWS's bill (a plan losing money flagged), earnings per month, payouts, Stripe Connect, and
refunds.

Deployment status comes from the records ``apid deploy`` reports (the control
plane deploys nothing itself), usage from the hourly counters metering keeps,
money from the earnings ledger: the numbers ``apid earnings`` prints. What a plan
pays is :func:`~api_direct.control_plane.billing.fees.plan_receipts` with this control
plane's fees, the numbers ``apid publish`` prints. A refund is ``POST /earnings/refunds``
from a form (whole, or the amount typed in).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

import stripe

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from fastapi.responses import HTMLResponse, RedirectResponse

from api_direct.amounts import amount_cents, amount_refused
from api_direct.control_plane.api import costs, deployments, listings, payouts, usage
from api_direct.control_plane.api.auth import Principal
from api_direct.control_plane.api.deployments import Deployment
from api_direct.control_plane.api.listings import Listing
from api_direct.control_plane.api.payouts import OnboardingIn, RefundIn
from api_direct.control_plane.api.problems import Problem, describe_validation
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.billing.fees import Receipt, plan_receipts, pricing_text, stripe_pricing
from api_direct.control_plane.billing.stripe_gateway import StripeUnavailable
from api_direct.aws_costs.model import COST_PLACES
from api_direct.control_plane.billing.unit_costs import ApiCosts, PlanCosts
from api_direct.control_plane.billing.periods import month_text
from api_direct.project import PricingPlan
from api_direct.control_plane.web.charts import BarChart, grouped_bars
from api_direct.control_plane.web.rendering import WEB_PREFIX, page, web_base
from api_direct.control_plane.web.web_session import Form, WebCreator

router = APIRouter(prefix=f"{WEB_PREFIX}/portal", include_in_schema=False)
#: Days of usage each API's chart shows.
CHART_DAYS = 14
SERIES = ("calls", "billable", "errors")


@dataclass(frozen=True)
class ApiStatus:
    listing: Listing
    #: The newest record of any action, and the newest deploy (what is running).
    latest: Deployment | None
    last_deploy: Deployment | None
    days: list[usage.DayUsage]
    chart: BarChart
    #: Each plan with what the creator receives on it (per month at some volumes, or per pack; none when free).
    receipts: list[tuple[PricingPlan, list[Receipt]]]
    #: This month so far: money in against AWS's bill, per plan and day (``GET /earnings/costs``).
    costs: ApiCosts | None
    #: The margin per day of this month so far, in dollars.
    margin_chart: BarChart | None

    @property
    def losing(self) -> list[tuple[PlanCosts, str]]:
        """The plans that lose money this month, each with the sentence saying why."""
        plans = self.costs.plans if self.costs else []
        return [(plan, losing_reason(plan)) for plan in plans if plan.loses_money]

    @property
    def version(self) -> str:
        return str((self.listing.openapi.get("info") or {}).get("version", "—"))

    @property
    def endpoint(self) -> str:
        outputs = self.last_deploy.outputs if self.last_deploy else {}
        return outputs.get("ApiUrl", self.listing.base_url)


@router.get("", response_class=HTMLResponse)
def portal(request: Request, user: WebCreator, services: ServicesDep) -> Response:
    now = datetime.now(UTC)
    today = now.date()
    month = {found.api: found for found in costs.creator_costs(services, user.sub, month_text(now)).apis}
    apis = [
        _status(services, user, item["api_id"], today, month.get(item["api_id"]))
        for item in listings.creator_listings(services.store, user.sub)
    ]
    earnings = payouts.earnings_of(user, services)
    return page(
        request,
        "portal.html",
        apis=apis,
        earnings=earnings,
        series=SERIES,
        transfers_enabled=_transfers_enabled(services, earnings.payout_account),
        billing=services.billing is not None,
        pricing_text=pricing_text(stripe_pricing(services.settings)),
        refunded=request.query_params.get("refunded"),
    )


@router.post("/onboarding")
def onboarding(request: Request, _: Form, user: WebCreator, services: ServicesDep) -> Response:
    """Stripe's onboarding pages, coming back to the portal (``POST /payouts/account`` with its URLs)."""
    back = str(request.url_for("portal"))
    account = payouts.payout_account(user, services, request, OnboardingIn(return_url=back, refresh_url=back))
    return RedirectResponse(account.onboarding_url, status_code=303)


@router.post("/refunds")
def refund(request: Request, fields: Form, user: WebCreator, services: ServicesDep) -> Response:
    """Refund a payment from its row of the ledger: all that is left, or the amount typed in (dollars)."""
    typed = fields.get("amount", "").strip()
    cents = amount_cents(typed) if typed else None
    if typed and cents is None:
        raise Problem(422, amount_refused(typed))
    try:
        body = RefundIn(invoice_id=fields.get("invoice_id", ""), amount=cents)
    except ValidationError as error:
        raise Problem(422, describe_validation(error.errors())) from None
    made = payouts.refund(user, services, body)
    return RedirectResponse(f"{web_base(request)}/portal?refunded={made.refund_id}#refunds", status_code=303)


def losing_reason(plan: PlanCosts) -> str:
    """One sentence on why ``plan`` loses money, in the figures that show it."""
    if plan.received_per_1000 is not None and plan.aws_cost_per_1000 is not None and plan.revenue:
        return (
            f"AWS bills {plan.aws_cost_per_1000} USD per 1,000 of its calls, more than the"
            f" {plan.received_per_1000} USD per 1,000 you receive after fees."
        )
    return (
        f"its {plan.calls:,} calls this month cost {plan.aws_cost} USD in AWS and brought in {plan.revenue} USD"
        f" ({plan.margin} USD after fees)."
    )


def _margin_chart(found: ApiCosts) -> BarChart:
    return grouped_bars(
        [f"{day.day:%m-%d}" for day in found.days], {"margin": [day.margin for day in found.days]}, unit=COST_PLACES
    )


def _status(services: Services, user: Principal, api_id: str, today: date, found: ApiCosts | None) -> ApiStatus:
    records = deployments.list_deployments(api_id, user, services, limit=20)
    days = usage.daily_usage(services.store, api_id, CHART_DAYS, today)
    chart = grouped_bars(
        [f"{day.day:%m-%d}" for day in days], {name: [getattr(day, name) for day in days] for name in SERIES}
    )
    listing = listings.read_listing(services.store, api_id)
    pricing, percent = stripe_pricing(services.settings), services.settings.platform_fee_percent
    return ApiStatus(
        listing=listing,
        latest=records[0] if records else None,
        last_deploy=next((r for r in records if r.action == "deploy"), None),
        days=days,
        chart=chart,
        receipts=[(plan, plan_receipts(plan, pricing, percent)) for plan in listing.plans],
        costs=found,
        margin_chart=_margin_chart(found) if found and found.days else None,
    )


def _transfers_enabled(services: Services, account: str | None) -> bool | None:
    """Whether Stripe lets the account receive payouts; ``None`` when that cannot be known now.

    The portal still renders when Stripe is down: the rest of the page is our own data.
    """
    if account is None or services.billing is None:
        return None
    try:
        return services.billing.gateway.can_receive_transfers(account)
    except (StripeUnavailable, stripe.StripeError):
        return None
