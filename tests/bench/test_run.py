"""The results file: a run of some benchmarks keeps the others' last figures (``--only``), in the list's order."""

from bench import run
from bench.figures import Figure


def figure(name: str) -> Figure:
    return Figure(name, "ms", 1.0, None, "", "measured", True)


def test_a_partial_run_replaces_its_sections_and_keeps_the_others() -> None:
    first = run.report(
        {"metering": run.section("metering", [figure("old metering")]), "soak": run.section("soak", [figure("soak")])}
    )
    again = run.report({"metering": run.section("metering", [figure("new metering")])}, first)
    assert "new metering" in again and "old metering" not in again and "| soak |" in again
    assert list(run.sections(again)) == ["metering", "soak"]
    # A benchmark run alone lands in the list's order, not at the end.
    with_authorizer = run.report({"authorizer": run.section("authorizer", [figure("authorizer")])}, again)
    assert list(run.sections(with_authorizer)) == ["authorizer", "metering", "soak"]
