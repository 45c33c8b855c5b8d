"""The costs `apid plan` and `apid publish` show: measured traffic when the control plane has some, else assumed."""

from datetime import date
from decimal import Decimal
from typing import Any, cast

from api_direct.aws_costs.traffic import ASSUMED_PER_1000, RuntimeProfile, Traffic
from api_direct.client.control_plane import ControlPlane
from api_direct.deploy.costs import Measured, measured_traffic, stack_costs

PROFILE = RuntimeProfile(region="us-east-1", memory_mb=1024)
ALARMED = {
    "Resources": {
        "Alarm": {"Type": "AWS::CloudWatch::Alarm"},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
    }
}


def api_month(api: str, *plans: Traffic, unattributed: Traffic = Traffic()) -> dict[str, Any]:
    """One API's entry in ``GET /earnings/costs``, as much of it as the figures read."""
    return {
        "api": api,
        "plans": [{"plan": f"p{index}", "traffic": traffic.model_dump()} for index, traffic in enumerate(plans)],
        "unattributed": {"calls": unattributed.calls, "traffic": unattributed.model_dump()},
    }


class FakeControlPlane:
    """Answers ``costs(month)`` from a dict of months; records the months asked for."""

    def __init__(self, months: dict[str, list[dict[str, Any]]]) -> None:
        self.months = months
        self.asked: list[str | None] = []

    def costs(self, month: str | None = None) -> dict[str, Any]:
        self.asked.append(month)
        return {"month": month, "currency": "USD", "apis": self.months.get(str(month), [])}


def measured(months: dict[str, list[dict[str, Any]]], today: date = date(2026, 12, 5)) -> Measured | None:
    return measured_traffic(cast(ControlPlane, FakeControlPlane(months)), "weather", today)


def test_the_months_traffic_is_every_plans_and_the_unattributed_calls() -> None:
    pro, free, rejected = ASSUMED_PER_1000, ASSUMED_PER_1000.scaled(3000), Traffic(calls=7, log_bytes=700)
    found = measured({"2026-12": [api_month("other", pro), api_month("weather", pro, free, unattributed=rejected)]})
    assert found == Measured("2026-12", pro + free + rejected)


def test_early_in_a_month_with_no_calls_yet_last_months_shape_is_used() -> None:
    client = FakeControlPlane({"2026-12": [api_month("weather")], "2026-11": [api_month("weather", ASSUMED_PER_1000)]})
    assert measured_traffic(cast(ControlPlane, client), "weather", date(2026, 12, 1)) == Measured(
        "2026-11", ASSUMED_PER_1000
    )
    assert client.asked == ["2026-12", "2026-11"]


def test_january_looks_back_to_december() -> None:
    assert measured({"2025-12": [api_month("weather", ASSUMED_PER_1000)]}, date(2026, 1, 2)) == Measured(
        "2025-12", ASSUMED_PER_1000
    )


def test_an_api_not_published_or_never_called_has_no_measured_traffic() -> None:
    assert measured({"2026-12": [api_month("other", ASSUMED_PER_1000)]}) is None


def test_the_figures_say_what_they_assumed_and_itemise_the_fixed_cost() -> None:
    costs = stack_costs(ALARMED, PROFILE)
    shown = costs.as_json()
    assert (shown["traffic"], shown["measured"]) == ("assumed", None)
    assert shown["log_retention_days"] == {"access_log": 365, "functions": 30}
    assert shown["fixed_monthly"]["total"] == "0.100000"
    assert [item["key"] for item in shown["fixed_monthly"]["items"]] == ["cloudwatch_alarm_months"]
    assert Decimal(shown["per_1000_calls"]["total"]) == costs.per_1000_calls.quantize(Decimal("0.000001"))
    text = costs.describe()
    assert "fixed: $0.10 a month" in text and "assumed traffic" in text and "1024 MB" in text


def test_measured_figures_name_their_month_and_calls() -> None:
    costs = stack_costs(ALARMED, PROFILE, Measured("2026-11", ASSUMED_PER_1000.scaled(12_345)))
    assert costs.as_json()["measured"] == {"month": "2026-11", "calls": 12_345}
    assert "the 12,345 calls measured in 2026-11" in costs.describe()
