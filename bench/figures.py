"""One row of the benchmark table, and how the table is printed.

Each figure is measured in the same run as its peer, on the same machine, and
reported as a ratio (ours / peer): the machine is shared and noisy, so absolute
seconds alone mean little. A figure without a peer reports its absolute value
against an absolute target. A peer that cannot run here says why in ``note``.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str  # "s", "ms", "MB", "records/s", "%"
    ours: float
    #: The peer's value in the same unit, or None when there is no peer (or it could not run: see ``note``).
    peer: float | None
    peer_name: str
    #: Human-readable target, e.g. "<= 0.5x" or "p99 <= 2 ms".
    target: str
    met: bool
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.ours / self.peer if self.peer else None


def table(figures: Iterable[Figure], last: Mapping[str, str] | None = None) -> str:
    """Markdown: figure, ours, peer, ratio, target, met?, note; with ``last`` (figure name -> how it compares
    with its last result, :func:`bench.regressions.compared`), a column of those after met?."""
    columns = ["figure", "ours", "peer", "ratio", "target", "met?", *(["last"] if last is not None else []), "note"]
    lines = [f"| {' | '.join(columns)} |", f"|{' --- |' * len(columns)}"]
    for f in figures:
        peer = f"{f.peer:.3g} {f.unit} ({f.peer_name})" if f.peer is not None else (f.peer_name or "—")
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "—"
        cells = [f.name, f"{f.ours:.3g} {f.unit}", peer, ratio, f.target, "yes" if f.met else "NO"]
        if last is not None:
            cells.append(last.get(f.name) or "—")
        lines.append(f"| {' | '.join([*cells, f.note])} |")
    return "\n".join(lines)
