"""The two clocks of the money flow: usage hours and earnings months, both UTC.

Usage is counted per hour (``2026-11-25T13:00:00Z``, the forwarder's
``period_start``) and an hour closes ``grace`` after it ends: records for it that
arrive later are refused, so a closed hour, and the meter event sent for it, never
change. Earnings are kept per calendar month (``2026-11``) of when the control plane
learned of the payment, and a month is paid out ``grace`` after it ends.

Every time here is an aware UTC ``datetime``; the text forms sort in time order,
which is what lets the table's index find "everything due before t" with one query.
"""

import re
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)
_HOUR_FORMAT = "%Y-%m-%dT%H:00:00Z"
_HOUR_START = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):00:00Z")
_MONTH_FORMAT = "%Y-%m"


def hour_text(moment: datetime) -> str:
    """The hour ``moment`` falls in, as the forwarder writes ``period_start``."""
    return moment.astimezone(UTC).strftime(_HOUR_FORMAT)


def parse_hour(text: str) -> datetime:
    """``2026-11-25T13:00:00Z`` to its datetime; ``ValueError`` for anything not on the hour.

    A pattern and the ``datetime`` constructor, not ``strptime``: every usage record
    is checked with this, and ``strptime`` was a third of the aggregator's time.
    """
    match = _HOUR_START.fullmatch(text)
    if match is None:
        raise ValueError(f"{text} is not the start of an hour")
    year, month, day, hour = (int(part) for part in match.groups())
    return datetime(year, month, day, hour, tzinfo=UTC)


def hours_closable_before(now: datetime, grace: timedelta) -> str:
    """Hours starting before this text have ended at least ``grace`` ago, so they may close.

    An hour ``h`` may close when ``h + 1 h + grace <= now``; the bound is the start of
    the hour holding ``now - grace``, and every ``h`` below it ends no later than that.
    """
    return hour_text(now - grace)


def month_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_MONTH_FORMAT)


def months_payable_before(now: datetime, grace: timedelta) -> str:
    """Months before this text (``YYYY-MM``) ended at least ``grace`` ago, so they may be paid out."""
    return month_text(now - grace)


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())
