"""``apid costs``: the control plane's month per API and plan, and Cost Explorer's bill beside it when opted in.

The control plane is a fake answering ``GET /earnings/costs`` in the documented shape
(its figures are the server's tests' business); AWS is moto in process, where
``apid aws link --cost-explorer`` really deploys the link and Cost Explorer answers
what moto's results queue holds.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from api_direct.cli.settings import Settings
from api_direct.deploy.state import load_state
from api_direct.errors import InputError
from tests.cli_aws import REGION, aws, run
from tests.errors import one_line_error
from tests.example_project import copy_example

__all__ = ["aws"]  # fixtures

THIS_MONTH = f"{datetime.now(UTC):%Y-%m}"


def plan(name: str, calls: int, revenue: str, aws_cost: str, margin: str, *, loses_money: bool) -> dict[str, Any]:
    return {
        "plan": name,
        "calls": calls,
        "units": calls,
        "billable_units": calls,
        "revenue": revenue,
        "stripe_fees": "0.00" if revenue == "0.00" else "0.98",
        "platform_fee": "0.00" if revenue == "0.00" else "1.90",
        "aws_cost": aws_cost,
        "margin": margin,
        "aws_cost_per_1000": "0.010000",
        "received_per_1000": "0.000000" if revenue == "0.00" else "8.060000",
        "loses_money": loses_money,
        "traffic": {"calls": calls},
    }


def month_of(month: str) -> dict[str, Any]:
    """The creator's month as the control plane answers it: one API, a paying plan and a free one."""
    return {
        "month": month,
        "currency": "USD",
        "apis": [
            {
                "api": "weather-api",
                "region": REGION,
                "prices_retrieved": "2026-12-05",
                "runtime": {"region": REGION},
                "fixed_monthly": "0.300000",
                "plans": [
                    plan("pro", 2000, "19.00", "0.020000", "16.100000", loses_money=False),
                    plan("free", 1000, "0.00", "0.010000", "-0.010000", loses_money=True),
                ],
                "unattributed": {"calls": 3, "aws_cost": "0.000030", "traffic": {"calls": 3}},
                "totals": {
                    "calls": 3003,
                    "revenue": "19.00",
                    "stripe_fees": "0.98",
                    "platform_fee": "1.90",
                    "aws_cost": "0.070030",
                    "margin": "16.049970",
                },
                "days": [],
            }
        ],
    }


class FakeControlPlane:
    def __init__(self) -> None:
        self.asked: list[str | None] = []

    def costs(self, month: str | None = None) -> dict[str, Any]:
        self.asked.append(month)
        return month_of(month or THIS_MONTH)


@pytest.fixture
def control_plane(monkeypatch: pytest.MonkeyPatch) -> FakeControlPlane:
    fake = FakeControlPlane()
    monkeypatch.setattr(Settings, "control_plane", lambda _self: fake)
    return fake


def test_the_month_per_plan_marks_the_plan_that_loses_money(tmp_path: Path, control_plane: FakeControlPlane) -> None:
    result = run(tmp_path, "costs", "--month", "2026-11")
    assert result.exit_code == 0, result.output
    assert control_plane.asked == ["2026-11"]
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    assert rows["pro"].split()[1:] == ["2,000", "19.00", "0.98", "1.90", "0.0200", "16.1000"]
    assert rows["free"].endswith("← loses money") and "loses" not in rows["pro"]
    assert rows["(not"].split()[-2:] == ["3", "0.0000"] and rows["total"].split()[1] == "3,003"
    assert "Costs of 2026-11 in USD" in result.stdout and "fixed 0.30 a month" in result.stdout


def test_json_is_the_control_planes_document_and_no_cost_explorer_unless_linked_so(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    result = run(tmp_path, "costs", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {**month_of(THIS_MONTH), "cost_explorer": None}
    assert control_plane.asked == [None]


@pytest.mark.parametrize("month", ["2026-13", "26-12", "2026-1", "december"])
def test_a_malformed_month_is_refused_in_one_line(tmp_path: Path, control_plane: FakeControlPlane, month: str) -> None:
    one_line_error(run(tmp_path, "costs", "--month", month), InputError.exit_code, "YYYY-MM")
    assert control_plane.asked == []


def test_a_month_not_started_is_refused(tmp_path: Path, control_plane: FakeControlPlane) -> None:
    one_line_error(run(tmp_path, "costs", "--month", "2999-01"), InputError.exit_code, "not started yet")


@pytest.fixture(scope="module")
def cost_explorer_linked(aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_example(tmp_path_factory.mktemp("cost-explorer"))
    linked = run(project, "--json", "aws", "link", "--cost-explorer")
    assert linked.exit_code == 0, linked.output
    assert json.loads(linked.stdout)["cost_explorer"] is True
    return project


def deploy_role_actions(aws: Any) -> set[str]:
    iam = aws("iam")
    role = f"apid-deploy-{REGION}"
    actions: set[str] = set()
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        for statement in iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]["Statement"]:
            found = statement["Action"]
            actions |= {found} if isinstance(found, str) else set(found)
    return actions


def test_the_opt_in_is_recorded_kept_on_a_rerun_and_taken_back(aws: Any, cost_explorer_linked: Path) -> None:
    assert load_state(cost_explorer_linked).require_link().cost_explorer
    assert "ce:GetCostAndUsage" in deploy_role_actions(aws)
    assert run(cost_explorer_linked, "aws", "link").exit_code == 0
    assert load_state(cost_explorer_linked).require_link().cost_explorer
    assert "ce:GetCostAndUsage" in deploy_role_actions(aws)
    assert run(cost_explorer_linked, "aws", "link", "--no-cost-explorer").exit_code == 0
    assert not load_state(cost_explorer_linked).require_link().cost_explorer
    assert "ce:GetCostAndUsage" not in deploy_role_actions(aws)
    assert run(cost_explorer_linked, "aws", "link", "--cost-explorer").exit_code == 0


def queue_cost_explorer_answer(amount: str) -> None:
    """What moto's Cost Explorer answers the next new request with."""
    answer = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": f"{THIS_MONTH}-01", "End": f"{THIS_MONTH}-02"},
                "Total": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}},
                "Groups": [],
                "Estimated": True,
            }
        ]
    }
    posted = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results", json={"results": [answer]}
    )
    assert posted.status_code == 201


def test_cost_explorers_bill_is_shown_beside_the_estimate_with_the_difference(
    cost_explorer_linked: Path, control_plane: FakeControlPlane
) -> None:
    queue_cost_explorer_answer("0.5012")
    shown = run(cost_explorer_linked, "--json", "costs")
    assert shown.exit_code == 0, shown.output
    compared = json.loads(shown.stdout)["cost_explorer"]
    assert (compared["billed"], compared["estimate"], compared["difference"]) == ("0.5012", "0.070030", "0.431170")
    assert (compared["region"], compared["start"], compared["request_cost"]) == (REGION, f"{THIS_MONTH}-01", "0.01")
    assert compared["estimated_by_aws"] is True
    text = run(cost_explorer_linked, "costs").stdout
    assert "tagged api-direct:managed=true: 0.50 (estimated by AWS" in text
    assert "our estimate 0.07; difference +0.43." in text
