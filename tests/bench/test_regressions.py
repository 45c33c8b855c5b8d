"""Each figure is set beside its last result, and one that got worse says so."""

import pytest

from bench import run
from bench.figures import Figure
from bench.regressions import TOLERANCE, compared, last_results, regressed


def deploy(seconds: float, peer: float | None = 10.0, met: bool = True, name: str = "first deploy") -> Figure:
    return Figure(name, "s", seconds, peer, "cdk deploy", "<= 0.5x", met)


def rate(per_second: float) -> Figure:
    return Figure("forwarder", "lines/s", per_second, None, "", ">= 1000 lines/s", True)


def test_the_last_results_are_read_back_from_the_section_a_run_wrote() -> None:
    text = run.report({"deploys": run.section("deploys", [deploy(3.0), rate(5000.0)])})
    last = last_results(run.sections(text)["deploys"])
    assert last["first deploy"].ratio == pytest.approx(0.30) and last["first deploy"].met
    assert (last["forwarder"].ours, last["forwarder"].unit, last["forwarder"].ratio) == (5000.0, "lines/s", None)


def test_a_ratio_worse_beyond_the_tolerance_regressed_and_within_it_did_not() -> None:
    last = last_results(run.section("deploys", [deploy(3.0)]))
    assert "REGRESSED" in compared(deploy(3.0 * (1 + TOLERANCE) + 0.1), last["first deploy"])
    assert compared(deploy(3.0 * (1 + TOLERANCE) - 0.1), last["first deploy"]) == "0.30x"
    # The ratio decides, not the seconds: a slower run of both is no regression.
    assert "REGRESSED" not in compared(deploy(6.0, peer=20.0), last["first deploy"])


def test_a_rate_regresses_when_it_falls() -> None:
    last = last_results(run.section("metering", [rate(5000.0)]))
    assert "REGRESSED" in compared(rate(3000.0), last["forwarder"])
    assert "REGRESSED" not in compared(rate(9000.0), last["forwarder"])


def test_a_target_lost_regressed_whatever_the_tolerance() -> None:
    last = last_results(run.section("deploys", [deploy(4.9)]))
    assert regressed([deploy(5.1, met=False)], last) == ["first deploy: its target was met"]


def test_a_new_figure_has_nothing_to_compare_with() -> None:
    last = last_results(run.section("deploys", [deploy(3.0)]))
    assert compared(deploy(9.0, name="hotswap"), last.get("hotswap")) == ""
    assert regressed([deploy(9.0, name="hotswap")], last) == []


def test_a_rerun_section_names_when_its_last_results_were_measured() -> None:
    first = run.report({"deploys": run.section("deploys", [deploy(3.0)])})
    again = run.section("deploys", [deploy(9.0)], first)
    measured = next(line for line in again.splitlines() if line.startswith("measured "))
    assert measured.count("(last: ") == 1 and "REGRESSED" in again


def test_a_difference_is_judged_by_its_target_alone() -> None:
    """What ours adds to the peer is near zero and changes sign run to run; a relative change means nothing."""
    added = Figure("tool call", "ms", 0.9, 0.5, "plain call", "<= +2 ms", True)
    last = last_results(run.section("mcp", [added]))
    tripled = Figure("tool call", "ms", 1.5, 0.5, "plain call", "<= +2 ms", True)
    assert "REGRESSED" not in compared(tripled, last["tool call"])
    over = Figure("tool call", "ms", 2.9, 0.5, "plain call", "<= +2 ms", False)
    assert "REGRESSED" in compared(over, last["tool call"])


def test_a_value_that_crossed_zero_is_judged_by_its_target_alone() -> None:
    saved = Figure("overhead", "%", -80.0, None, "", "measured", True)
    last = last_results(run.section("adapter", [saved]))
    assert "REGRESSED" not in compared(Figure("overhead", "%", -70.0, None, "", "measured", True), last["overhead"])
