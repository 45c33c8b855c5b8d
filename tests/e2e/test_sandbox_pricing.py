"""`apid sandbox --plan` with the example's prepaid and trial plans, through the real command: every number checked.

* ``--plan credits`` (prepaid, packs of 250 units): a call before any credit is
  402; a pack is bought on the Stripe fake's Checkout page; the calls' units
  (over a pack: the forecast weighs 5) overdraw it, and the scheduled run's
  auto-reload buys another with the saved card; charges, Stripe's fees, the platform
  fee and the payout follow from the two packs.
* ``--plan starter`` (a 14-day trial): the card is saved on Checkout first; the calls
  fall in the trial, so nothing is metered; the consumer is emailed three days before
  the end; the first paid period bills the monthly fee alone.

The sandbox computes each expected number from the calls and the plan and reads the
actual one from where the product keeps it; here the test reads the checks it made,
and that they are the ones this plan's shape calls for.

A module of its own, so these runs take a worker of their own beside the example's
other runs (tests/e2e/test_sandbox.py, test_sandbox_projects.py).
"""

import pytest
from click.testing import CliRunner, Result

from api_direct.cli.main import cli
from api_direct.project import load_project
from tests.e2e.kept_sandbox import summary
from tests.example_project import EXAMPLE_DIR

#: Enough calls that the units (331 with the example's weights) pass the 250-unit pack and make a reload due.
PREPAID_CALLS = 200
TRIAL_CALLS = 20


def sandbox(plan: str, calls: int) -> Result:
    return CliRunner().invoke(
        cli, ["--json", "sandbox", "--project", str(EXAMPLE_DIR), "--plan", plan, "--calls", str(calls)]
    )


@pytest.fixture(scope="module")
def prepaid() -> Result:
    return sandbox("credits", PREPAID_CALLS)


@pytest.fixture(scope="module")
def trial() -> Result:
    return sandbox("starter", TRIAL_CALLS)


def checks(result: Result) -> dict[str, object]:
    found = summary(result)
    assert result.exit_code == 0 and found["ok"], [c for c in found["checks"] if c["expected"] != c["actual"]]
    return {check["name"]: check["actual"] for check in found["checks"]}


def test_a_prepaid_plan_answers_402_then_burns_and_reloads_its_credit(prepaid: Result) -> None:
    found, seen = summary(prepaid), checks(prepaid)
    plan = next(p for p in load_project(EXAMPLE_DIR).config.plans if p.name == "credits")
    assert plan.prepaid is not None
    price = int(plan.prepaid.price * 100)
    assert seen["a key without credit answered 402"] == 402
    assert seen["nothing metered in Stripe for a prepaid plan"] == 0
    used = seen["billable units debited from the credit"]
    assert isinstance(used, int) and used > plan.prepaid.calls  # the example's weights overdraw one pack
    assert seen["packs bought: one on Checkout, then auto-reloads"] == 2
    assert seen["credit remaining (units)"] == 2 * plan.prepaid.calls - used
    assert seen["charged by card (cents)"] == [price, price]
    assert found["billed"] == 2 * price and found["payout"] == found["billed"] - found["stripe_fees"] - found["fee"]


def test_a_trial_plan_takes_a_card_bills_nothing_in_the_trial_and_the_fee_from_its_end(trial: Result) -> None:
    found, seen = summary(trial), checks(trial)
    plan = next(p for p in load_project(EXAMPLE_DIR).config.plans if p.name == "starter")
    assert "card saved on Stripe's Checkout page; the trial ends" in trial.stderr
    assert seen["units metered in Stripe during the trial"] == 0
    assert seen["trial_will_end sent three days before the end"] == ["customer.subscription.trial_will_end"]
    assert seen["consumer emailed that the trial ends"] == 1
    assert seen["trial's invoices (cents): Stripe's one at its start"] == [0]
    assert found["billed"] == seen["first paid period billed (cents)"] == int(plan.monthly_fee * 100)
    assert found["payout"] == found["billed"] - found["stripe_fees"] - found["fee"] > 0
