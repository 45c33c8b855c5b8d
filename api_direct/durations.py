"""Durations as the CLI takes them: a number and a unit, ``30s``, ``10m``, ``2h``, ``1d``.

One grammar for every option that takes one (``apid logs --since``, ``apid keys rotate --grace``);
each option says what a bare number means and what it refuses.
"""

import re

SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?P<amount>[0-9]+)(?P<unit>[smhd]?)")


def duration_seconds(text: str, *, bare: int | None) -> int | None:
    """The seconds ``text`` names, or None if it is no duration; a bare number counts ``bare`` seconds apiece, and
    is no duration when ``bare`` is None. Units are lower case (a caller may lower the text first)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    if not match["unit"]:
        return None if bare is None else int(match["amount"]) * bare
    return int(match["amount"]) * SECONDS_PER_UNIT[match["unit"]]
