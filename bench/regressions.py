"""A figure against its own last result: which figures a run made worse.

The last results are read back from ``bench/RESULTS.md`` itself (its tables),
so a run says what regressed without any other record. A figure is compared by
its ratio when both runs had its peer (the machine is shared, and the ratio is
what survives its noise), else by its own value. It has regressed when it lost
a target it met, or moved the wrong way by more than :data:`TOLERANCE`: a run on
this machine varies by some tens of percent, less than that is not a finding.
A figure whose target bounds what ours adds to the peer is a small difference
that changes sign with noise: only its target judges it.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from bench.figures import Figure

#: How far a figure may move the wrong way before it counts as a regression, as a fraction of its last value.
TOLERANCE = 0.25


@dataclass(frozen=True)
class LastResult:
    """A figure as the results file last recorded it."""

    ours: float
    unit: str
    ratio: float | None
    met: bool


def last_results(section: str) -> dict[str, LastResult]:
    """The figures of one results section, by name, read from its table (columns found by its header)."""
    rows = [line.strip().strip("|").split(" | ") for line in section.splitlines() if line.startswith("| ")]
    if not rows:
        return {}
    header = [cell.strip() for cell in rows[0]]
    try:
        name_at, ours_at, ratio_at, met_at = (header.index(col) for col in ("figure", "ours", "ratio", "met?"))
    except ValueError:
        return {}
    found: dict[str, LastResult] = {}
    for row in rows[1:]:
        if len(row) <= max(name_at, ours_at, ratio_at, met_at) or row[name_at].startswith("---"):
            continue
        value, _, unit = row[ours_at].strip().partition(" ")
        ratio = row[ratio_at].strip().removesuffix("x")
        try:
            ours = float(value)
            last_ratio = float(ratio) if ratio not in ("", "—") else None
        except ValueError:
            continue
        found[row[name_at].strip()] = LastResult(ours, unit, last_ratio, row[met_at].strip() == "yes")
    return found


def higher_is_better(unit: str) -> bool:
    """Rates (``records/s``, ``requests/s``) get better as they grow; times, sizes and counts as they shrink."""
    return unit.endswith("/s")


def bounds_a_difference(target: str) -> bool:
    """A target on what ours adds to the peer (``adds <= 50 ms``, ``<= +2 ms``, ``overhead <= 20%``): the
    difference is small and changes sign with noise, so only the target says whether it got worse."""
    return target.startswith(("adds", "overhead")) or "+" in target


def compared(figure: Figure, last: LastResult | None) -> str:
    """The figure's last value and, when it regressed, ``REGRESSED`` and why; "" with nothing to compare.

    Compared: the ratio when both runs had the peer, else the figure's own value when both are positive;
    a figure whose target bounds a difference, or whose value crossed zero, only by its target.
    """
    if last is None or not figure.target:
        return ""
    if figure.ratio is not None and last.ratio is not None:
        now, before, shown = figure.ratio, last.ratio, f"{last.ratio:.2f}x"
    else:
        now, before, shown = figure.ours, last.ours, f"{last.ours:.3g} {last.unit}"
    if last.met and not figure.met:
        return f"{shown}; REGRESSED: its target was met"
    comparable = now > 0 and before > 0 and not bounds_a_difference(figure.target)
    if not comparable or (figure.ratio is None and last.unit != figure.unit):
        return shown
    worse = now < before * (1 - TOLERANCE) if higher_is_better(figure.unit) else now > before * (1 + TOLERANCE)
    return f"{shown}; REGRESSED: {now / before:.2f} times its last" if worse else shown


def regressed(figures: Iterable[Figure], last: dict[str, LastResult]) -> list[str]:
    """The names of the figures that regressed against ``last``, each with why."""
    return [
        f"{figure.name}: {verdict.partition('REGRESSED: ')[2]}"
        for figure in figures
        if "REGRESSED" in (verdict := compared(figure, last.get(figure.name)))
    ]
