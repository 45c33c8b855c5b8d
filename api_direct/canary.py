"""``--canary 10%:5m``: how much of the traffic a new version gets first, and for how long.

Parsed here, beside the project, because the CLI reads it and the API stack builds
CodeDeploy's traffic shifting from it; an error is the CLI's one line (exit 3).
"""

import re
from dataclasses import dataclass

from api_direct.errors import InputError

_SPEC = re.compile(r"(?P<percent>\d{1,2})%:(?P<amount>\d{1,4})(?P<unit>[mh])")
#: Minutes per unit the interval may be written in.
_UNITS = {"m": 1, "h": 60}
#: The longest a canary may wait before the rest of the traffic moves: two days, past which a release
#: would sit half-shifted through the next one.
MAX_MINUTES = 2880


@dataclass(frozen=True)
class Canary:
    """``percent`` of the traffic goes to the new version for ``minutes``; then all of it, unless an alarm fired."""

    percent: int
    minutes: int

    def __str__(self) -> str:
        return f"{self.percent}%:{self.minutes}m"


def parse_canary(spec: str) -> Canary:
    """``"10%:5m"`` (percent of traffic, then minutes ``m`` or hours ``h``) as a :class:`Canary`."""
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise InputError(f"--canary {spec!r} is not PERCENT%:DURATION, e.g. 10%:5m or 25%:1h")
    percent = int(match["percent"])
    minutes = int(match["amount"]) * _UNITS[match["unit"]]
    if not 1 <= percent <= 99:
        raise InputError(f"--canary {spec!r}: the first shift must be 1% to 99% of the traffic")
    if not 1 <= minutes <= MAX_MINUTES:
        raise InputError(f"--canary {spec!r}: the wait must be 1 minute to {MAX_MINUTES // 60} hours")
    return Canary(percent, minutes)
