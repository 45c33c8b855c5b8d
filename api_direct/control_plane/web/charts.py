"""Usage charts drawn as inline SVG on the server: no chart library, no script, readable without either.

Each chart comes with the numbers it draws (the template puts them in a table
beside it), so a screen reader or a text browser gets the same data as the bars.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

#: Drawing area in SVG user units; the SVG scales to its container's width.
WIDTH, HEIGHT = 640, 220
_LEFT, _BOTTOM, _TOP = 48, 28, 12
_TICKS = 4


#: What a chart draws: counts (calls), or amounts of money that may be below zero (a day's margin).
Value = int | Decimal


@dataclass(frozen=True)
class Bar:
    series: str
    label: str
    value: Value
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    value: Value
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
    #: The zero line, which bars rise from (or hang below, for values under zero).
    baseline: float = HEIGHT - _BOTTOM
    left: int = _LEFT


def grouped_bars(labels: Sequence[str], values: Mapping[str, Sequence[Value]], *, unit: Value = 1) -> BarChart:
    """One group of bars per label (a day), one bar per series (calls, billable, errors), on a shared scale.

    The scale's steps are the smallest round multiple of ``unit`` (1 for counts, a fraction
    of a dollar for money) that spans the values in :data:`_TICKS` steps, so the ticks read
    0, 60, 120, 180, 240 for a largest value of 233. Values below zero hang from the zero
    line, which is a tick like the others (a scale across zero may take a step more).
    """
    series = tuple(values)
    flat = [Decimal(v) for column in values.values() for v in column]
    high, low = max([Decimal(0), *flat]), min([Decimal(0), *flat])
    step = _round_step(max(high - low, Decimal(unit)) / _TICKS, Decimal(unit))
    bottom = step * math.floor(low / step)
    top = max(step * math.ceil(high / step), bottom + step * _TICKS)
    plot_height = HEIGHT - _BOTTOM - _TOP
    scale = plot_height / float(top - bottom)
    zero = _TOP + float(top) * scale
    group_width = (WIDTH - _LEFT) / max(len(labels), 1)
    bar_width = group_width * 0.8 / max(len(series), 1)
    bars = []
    for index, label in enumerate(labels):
        for position, name in enumerate(series):
            value = values[name][index]
            height = abs(float(value)) * scale
            bars.append(
                Bar(
                    name,
                    label,
                    value,
                    x=_LEFT + index * group_width + group_width * 0.1 + position * bar_width,
                    y=zero - height if value >= 0 else zero,
                    width=bar_width,
                    height=height,
                )
            )
    whole = isinstance(unit, int)
    ticks = tuple(
        Tick(int(tick) if whole else tick, zero - float(tick) * scale)
        for tick in (bottom + step * n for n in range(int((top - bottom) / step) + 1))
    )
    positions = tuple((_LEFT + (index + 0.5) * group_width, label) for index, label in enumerate(labels))
    return BarChart(series, tuple(labels), tuple(bars), ticks, positions, baseline=zero)


def _round_step(needed: Decimal, unit: Decimal) -> Decimal:
    """The smallest round step at or above ``needed`` that is a whole number of ``unit``s: 1, 1.5, 2, 2.5, 3, 4, 5,
    6, 7.5 or 8 times a power of ten (10 times is the next power, always a whole number of units)."""
    magnitude = Decimal(10) ** needed.adjusted()
    return next(
        step
        for factor in ("1", "1.5", "2", "2.5", "3", "4", "5", "6", "7.5", "8", "10")
        if (step := Decimal(factor) * magnitude) >= needed and step % unit == 0
    )
