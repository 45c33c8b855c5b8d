"""Usage charts drawn as inline SVG on the server: no chart library, no script, readable without either.

Each chart comes with the numbers it draws (the template puts them in a table
beside it), so a screen reader or a text browser gets the same data as the bars.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Drawing area in SVG user units; the SVG scales to its container's width.
WIDTH, HEIGHT = 640, 220
_LEFT, _BOTTOM, _TOP = 48, 28, 12
_TICKS = 4


@dataclass(frozen=True)
class Bar:
    series: str
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class BarChart:
    series: tuple[str, ...]
    labels: tuple[str, ...]
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    #: Where each group's label goes (its centre), with the label.
    label_positions: tuple[tuple[float, str], ...]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - _BOTTOM
    left: int = _LEFT


def grouped_bars(labels: Sequence[str], values: Mapping[str, Sequence[int]]) -> BarChart:
    """One group of bars per label (a day), one bar per series (calls, billable, errors), on a shared scale.

    The scale's top is the smallest round number at or above the largest value, so
    the ticks read 0, 60, 120, 180, 240 for a largest value of 233.
    """
    series = tuple(values)
    top = _round_up(max((v for column in values.values() for v in column), default=0))
    plot_height = HEIGHT - _BOTTOM - _TOP
    group_width = (WIDTH - _LEFT) / max(len(labels), 1)
    bar_width = group_width * 0.8 / max(len(series), 1)
    bars = []
    for index, label in enumerate(labels):
        for position, name in enumerate(series):
            value = values[name][index]
            height = plot_height * value / top
            bars.append(
                Bar(
                    name,
                    label,
                    value,
                    x=_LEFT + index * group_width + group_width * 0.1 + position * bar_width,
                    y=HEIGHT - _BOTTOM - height,
                    width=bar_width,
                    height=height,
                )
            )
    ticks = tuple(
        Tick(top * step // _TICKS, HEIGHT - _BOTTOM - plot_height * step / _TICKS) for step in range(_TICKS + 1)
    )
    positions = tuple((_LEFT + (index + 0.5) * group_width, label) for index, label in enumerate(labels))
    return BarChart(series, tuple(labels), tuple(bars), ticks, positions)


def _round_up(value: int) -> int:
    """The top of a scale of four whole, round steps (10, 15, 20, 25, 30, 40, 50, 60, 75, 80 times a power of ten)."""
    needed = max(value, 1) / _TICKS
    magnitude = 10 ** (len(str(int(needed))) - 1)
    step = next(
        step
        for factor in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 8, 10)
        if (step := factor * magnitude) >= needed and step == int(step)
    )
    return int(step) * _TICKS
