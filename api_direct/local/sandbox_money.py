"""The sandbox's money story for each shape of plan: how the consumer pays, how time passes, what must add up.

``apid sandbox --plan`` picks a plan of the project; its shape decides the story:

* **a subscription** (a monthly fee, a price per 1,000 units): the hour's billable
  units are reported to Stripe as a meter event and the period's invoice bills them;
* **a free trial** (``trial_days``): the card is saved on Stripe's Checkout page
  before the key is issued; the calls fall in the trial, so none is reported; the
  clock passes the warning three days before the end (the consumer is emailed) and
  the end; the first paid period's invoice bills the fee alone;
* **prepaid** (``prepaid``): the key answers 402 until credit is bought; one pack
  is bought on the Checkout page (the card saved), auto-reload is turned on, the calls
  burn the balance, and the scheduled run reloads it with the saved card for as many
  packs as bring it back above its mark.

Every expected number is computed here from the calls the sandbox made and the
plan (with :mod:`~api_direct.control_plane.billing.fees`' published rules), never
read from where the product keeps it; the actual one is read from where the product
keeps it (Stripe's meter events, invoices and charges, the credit balance, the
ledger, the transfers), so a check compares two independent paths.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from api_direct.client.control_plane import ControlPlane
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.billing.charges import month_charge_cents
from api_direct.control_plane.billing.fees import estimate, platform_fee, stripe_pricing
from api_direct.local.card_checkout import WORKING_CARD, subscribe_with_card
from api_direct.local.stripe_server import StripeFake
from api_direct.local.stripe_server.clock import TRIAL_WARNING_SECONDS
from api_direct.project import PricingPlan

_MONTH = timedelta(days=31)


@dataclass(frozen=True)
class Money:
    """What the story's money came to: units billed (metered, or debited from credit), cents paid, the checks."""

    billable: int
    billed: int
    checks: list["Check"]


@dataclass(frozen=True)
class Run:
    """What the story's checks read of the run: whose subscription, the units the calls imply, what Stripe invoiced
    and what the creator's ledger says."""

    consumer: ControlPlane
    api_id: str
    billable: int
    invoices: Sequence[dict[str, Any]]
    earnings: dict[str, Any]


@dataclass(frozen=True)
class Check:
    """One number the sandbox expected, and what the product produced."""

    name: str
    expected: object
    actual: object

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


class Sandbox(Protocol):
    """What a story needs of the running sandbox: its clock, the fakes, and a call through the gateway."""

    stripe: StripeFake
    settings: ControlPlaneSettings

    def scheduled(self, handler: str, at: datetime) -> Any:
        """Run a scheduled control plane function as of ``at``."""

    def sync_keys(self) -> int:
        """Deliver the control plane's key events to the creator's key sync."""

    def deliver_usage_and_alerts(self) -> int:
        """Forward new access-log lines, aggregate them, and deliver the alerts they (or anything) queued."""

    def probe(self, purpose: str) -> int:
        """One of the app's calls with the consumer's key, recorded among the calls made; its status."""

    def detail(self, text: str) -> None: ...

    def emails_sent(self) -> int:
        """How many emails the control plane has sent (SES), to see a notice went out."""


class Story:
    """A subscription: subscribe, call, and the hour's units billed on the period's invoice."""

    def __init__(self, plan: PricingPlan) -> None:
        self.plan = plan
        self.checks: list[Check] = []

    def subscribe(self, sandbox: Sandbox, consumer: ControlPlane, api_id: str) -> str:
        """The consumer's key, shown once."""
        return consumer.subscribe(api_id, self.plan.name)["api_key"]

    def before_calls_words(self) -> str | None:
        """The step between the key and the calls, if the story has one."""
        return None

    def before_calls(self, sandbox: Sandbox, consumer: ControlPlane, api_id: str) -> None:
        """What happens between the key and the calls: nothing, for a plain subscription."""

    def bill(self, sandbox: Sandbox, closed_at: datetime) -> list[dict[str, Any]]:
        """Stripe ends the period: its invoices (paid and delivered before this returns)."""
        return sandbox.stripe.close_billing_period(at=int(closed_at.timestamp()))

    def billing_words(self) -> str:
        return "Stripe closes the billing period, invoices and calls the webhook"

    def money_checks(self, sandbox: Sandbox, run: Run) -> Money:
        """What consumers paid (cents), and the checks of every money number from the meter to the transfer."""
        metered = sum(int(event["payload"]["value"]) for event in sandbox.stripe.meter_events())
        billed = sum(invoice["amount_paid"] for invoice in run.invoices)
        charges = [month_charge_cents(self.plan, run.billable)]
        return Money(
            metered,
            billed,
            [
                Check("billable units metered in Stripe", run.billable, metered),
                Check("amount billed (cents)", sum(charges), billed),
                *self._payout_checks(sandbox, charges, run.earnings, subscription=True),
            ],
        )

    def _payout_checks(
        self, sandbox: Sandbox, charges: Sequence[int], earnings: dict[str, Any], *, subscription: bool
    ) -> list[Check]:
        """Stripe's fees, the platform fee, the payout and the transfer, expected from each charge the consumer paid.

        Stripe's card fee is per charge (a fixed part each), so the expectation adds
        up the charges one by one, as the ledger must.
        """
        pricing = stripe_pricing(sandbox.settings)
        fee_percent = Decimal(str(earnings["fee_percent"]))
        stripe_fees = sum(
            estimate(charge, pricing, fee_percent, subscription=subscription).stripe_fees for charge in charges
        )
        revenue = sum(charges)
        platform = platform_fee(revenue, fee_percent)
        months = earnings["months"]
        payout = revenue - stripe_fees - platform
        transferred = sum(transfer["amount"] for transfer in sandbox.stripe.transfers())
        return [
            Check("Stripe's fees (cents)", stripe_fees, sum(int(month["stripe_fees"]) for month in months)),
            Check("platform fee (cents)", platform, sum(int(month["fee"] or 0) for month in months)),
            Check("payout (cents)", payout, sum(int(month["payout"] or 0) for month in months)),
            Check("transferred to the creator (cents)", payout, transferred),
        ]


class TrialStory(Story):
    """A free trial: the card up front, nothing billed in the trial, the fee billed from its end."""

    def subscribe(self, sandbox: Sandbox, consumer: ControlPlane, api_id: str) -> str:
        issued = subscribe_with_card(consumer, sandbox.stripe, api_id, self.plan.name)
        [subscription] = [s for s in consumer.subscriptions() if s["api_id"] == api_id]
        self.trial_end = datetime.fromisoformat(str(subscription["trial_end"]))
        sandbox.detail(f"card saved on Stripe's Checkout page; the trial ends {self.trial_end:%Y-%m-%d %H:%M}Z")
        return issued["api_key"]

    def billing_words(self) -> str:
        return "Stripe's clock passes the trial's warning and its end, then a paid period; the webhook is called"

    def bill(self, sandbox: Sandbox, closed_at: datetime) -> list[dict[str, Any]]:
        """Three days before the end (the consumer told), the end (the first paid period starts), its invoice."""
        end = int(self.trial_end.timestamp())
        emails = sandbox.emails_sent()
        warned = sandbox.stripe.advance_clock(end - TRIAL_WARNING_SECONDS + 60)
        sandbox.deliver_usage_and_alerts()
        self.notices = sandbox.emails_sent() - emails
        ended = sandbox.stripe.advance_clock(end)
        # Stripe's $0 invoice of the trial is made when it starts: what the consumer was billed for it.
        self.trial_invoices = [invoice for invoice in sandbox.stripe.invoices() if invoice["period_end"] <= end]
        paid = sandbox.stripe.close_billing_period(at=int((self.trial_end + _MONTH).timestamp()))
        self.warnings = [event["type"] for event in warned]
        sandbox.detail(
            f"{', '.join(self.warnings) or 'no warning'}; {self.notices} email(s); trial ended "
            f"({', '.join(event['type'] for event in ended) or 'no event'}); invoices "
            f"{[invoice['amount_paid'] for invoice in self.trial_invoices + paid]}"
        )
        return paid

    def money_checks(self, sandbox: Sandbox, run: Run) -> Money:
        metered = sum(int(event["payload"]["value"]) for event in sandbox.stripe.meter_events())
        billed = sum(invoice["amount_paid"] for invoice in run.invoices)
        charges = [month_charge_cents(self.plan, 0)]
        return Money(
            metered,
            billed,
            [
                Check("units metered in Stripe during the trial", 0, metered),
                Check(
                    "trial_will_end sent three days before the end",
                    ["customer.subscription.trial_will_end"],
                    self.warnings,
                ),
                Check("consumer emailed that the trial ends", 1, self.notices),
                Check(
                    "trial's invoices (cents): Stripe's one at its start",
                    [0],
                    [i["amount_paid"] for i in self.trial_invoices],
                ),
                Check("first paid period billed (cents)", sum(charges), billed),
                *self._payout_checks(sandbox, charges, run.earnings, subscription=True),
            ],
        )


class PrepaidStory(Story):
    """Prepaid credit: 402 without it, a pack bought on Checkout, the calls' units debited, auto-reload."""

    PROBE = "no credit yet"

    def before_calls_words(self) -> str:
        return (
            "A call without credit gets 402; the consumer buys a pack on Stripe's Checkout page, turns on auto-reload"
        )

    def before_calls(self, sandbox: Sandbox, consumer: ControlPlane, api_id: str) -> None:
        self.refused = sandbox.probe(self.PROBE)
        checkout = consumer.credits_checkout(api_id, packs=1)
        sandbox.stripe.complete_checkout(checkout["session_id"], WORKING_CARD)
        sandbox.stripe.settle()
        consumer.set_auto_reload(api_id, enabled=True)
        credit = consumer.credits(api_id)
        self.mark = int(credit["auto_reload"]["below_units"])
        synced = sandbox.sync_keys()
        sandbox.detail(
            f"before any credit the key answered {self.refused}; bought 1 pack of {credit['pack']['calls']} units for "
            f"{credit['pack']['price']} {credit['currency']} on Stripe's Checkout page; auto-reload below "
            f"{self.mark} units; key sync applied {synced} event(s)"
        )

    def billing_words(self) -> str:
        return "The scheduled run reloads the credit with the saved card (no Stripe subscription to invoice)"

    def bill(self, sandbox: Sandbox, closed_at: datetime) -> list[dict[str, Any]]:
        """The close step's run already charged the reloads due; what was charged is read in the checks."""
        sandbox.sync_keys()
        return []

    def money_checks(self, sandbox: Sandbox, run: Run) -> Money:
        assert self.plan.prepaid is not None
        pack, price = self.plan.prepaid.calls, int(self.plan.prepaid.price * 100)
        remaining, reloads = pack - run.billable, 0
        while remaining < self.mark:
            remaining, reloads = remaining + pack, reloads + 1
        credit = run.consumer.credits(run.api_id)
        paid = [charge for charge in sandbox.stripe.charges() if charge["status"] == "succeeded"]
        charges = [price] * (1 + reloads)
        metered = sum(int(event["payload"]["value"]) for event in sandbox.stripe.meter_events())
        return Money(
            int(credit["used"]),
            sum(charge["amount"] for charge in paid),
            [
                Check("a key without credit answered 402", 402, self.refused),
                Check("nothing metered in Stripe for a prepaid plan", 0, metered),
                Check("billable units debited from the credit", run.billable, int(credit["used"])),
                Check("packs bought: one on Checkout, then auto-reloads", 1 + reloads, len(credit["grants"])),
                Check("units granted", pack * (1 + reloads), int(credit["granted"])),
                Check("credit remaining (units)", remaining, int(credit["remaining"])),
                Check("charged by card (cents)", charges, sorted(charge["amount"] for charge in paid)),
                *self._payout_checks(sandbox, charges, run.earnings, subscription=False),
            ],
        )


def story_for(plan: PricingPlan) -> Story:
    """The story the plan's shape tells."""
    if plan.is_prepaid:
        return PrepaidStory(plan)
    if plan.trial_days:
        return TrialStory(plan)
    return Story(plan)


@dataclass
class Sent:
    """What the sandbox's clients sent through the gateway and got back, counted on their side of it: the
    expected figures of the cost checks, apart from the access log, forwarder and counters they check."""

    calls: int = 0
    response_bytes: int = 0
    #: The UTC months the calls were made in (a run at a month's end spans two).
    months: set[str] = field(default_factory=set)

    def count(self, body: bytes, at: datetime) -> None:
        self.calls += 1
        self.response_bytes += len(body)
        self.months.add(f"{at:%Y-%m}")


@dataclass(frozen=True)
class Costs:
    """The run's AWS cost as the control plane estimates it (dollars, as decimal strings) and the checks on it."""

    aws_variable_cost: str
    aws_fixed_monthly: str
    margin: str
    checks: list[Check]


def cost_checks(months: Sequence[dict[str, Any]], api_id: str, sent: Sent) -> Costs:
    """The API's AWS cost and margin in the months of the calls (``GET /earnings/costs``), and whether the
    counters priced every call the gateway answered and every byte it sent back.

    Calls nobody is billed for (no key, a wrong one, MCP's own requests) cost AWS too:
    they count among the priced calls, unattributed.
    """
    apis = [api for month in months for api in month["apis"] if api["api"] == api_id]
    traffic = [plan["traffic"] for api in apis for plan in api["plans"]] + [
        api["unattributed"]["traffic"] for api in apis
    ]
    variable = sum((Decimal(plan["aws_cost"]) for api in apis for plan in api["plans"]), Decimal(0)) + sum(
        (Decimal(api["unattributed"]["aws_cost"]) for api in apis), Decimal(0)
    )
    return Costs(
        aws_variable_cost=str(variable),
        aws_fixed_monthly=str(sum((Decimal(api["fixed_monthly"]) for api in apis), Decimal(0))),
        margin=str(sum((Decimal(api["totals"]["margin"]) for api in apis), Decimal(0))),
        checks=[
            Check("calls priced at AWS's prices", sent.calls, sum(int(t["calls"]) for t in traffic)),
            Check(
                "response bytes priced as data transfer",
                sent.response_bytes,
                sum(int(t["response_bytes"]) for t in traffic),
            ),
        ],
    )
