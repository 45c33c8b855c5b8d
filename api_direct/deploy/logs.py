"""Reading a deployed API's CloudWatch logs, for ``apid logs``: a time window, or follow live.

An API writes to several log groups (its function, its authorizer, its access
log). A reader wants them as one stream in time order, so each group is read
separately and the lines are merged.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any


from api_direct.durations import duration_seconds
from api_direct.errors import InputError

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import FilteredLogEventTypeDef

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: CloudWatch makes an event searchable only some seconds after its timestamp, and
#: not necessarily in order, so each poll re-reads this much before the newest event seen.
LATE_ARRIVAL_WINDOW = timedelta(seconds=5)


@dataclass(frozen=True)
class LogLine:
    """One log event, with the group and stream it came from."""

    timestamp: datetime
    log_group: str
    stream: str
    message: str
    event_id: str


def parse_since(text: str, now: datetime) -> datetime:
    """The moment a ``--since`` value names, as a timezone-aware datetime.

    ``text`` is a duration before ``now`` (``30s``, ``10m``, ``2h``, ``1d``; a bare
    number is seconds) or an ISO-8601 timestamp, read as UTC when it has no offset.
    ``now`` should be timezone-aware, so the result compares with CloudWatch's UTC times.
    """
    text = text.strip()
    seconds = duration_seconds(text.lower(), bare=1)
    try:
        if seconds is not None:
            return now - timedelta(seconds=seconds)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"cannot read {text!r} as a time: use a duration (30s, 10m, 2h, 1d, or 90 for seconds)"
            " or an ISO-8601 timestamp (2025-01-31T09:00:00Z)"
        ) from None
    except OverflowError:
        raise InputError(f"{text!r} reaches too far back; use a shorter duration") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def fetch(
    logs_client: "CloudWatchLogsClient", log_groups: Sequence[str], start: datetime, end: datetime | None = None
) -> list[LogLine]:
    """Every event of ``log_groups`` from ``start`` (to ``end``), oldest first.

    ``start`` and ``end`` must be timezone-aware. A group that does not exist yet
    (nothing has logged to it) contributes nothing. Events of the same millisecond
    are ordered by event id, so the result does not depend on the order of ``log_groups``.
    """
    lines = [line for group in log_groups for line in _read_group(logs_client, group, start, end)]
    return sorted(lines, key=lambda line: (line.timestamp, line.event_id))


def follow(
    logs_client: "CloudWatchLogsClient",
    log_groups: Sequence[str],
    start: datetime,
    *,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], Any] = time.sleep,
    stop: Callable[[], bool],
) -> Iterator[LogLine]:
    """Yield the events of ``log_groups`` from ``start`` on as they arrive, each once.

    Each poll re-reads a :class:`FollowWindow`, so an event that becomes searchable
    late is still found. ``stop`` is asked after every poll (so at least one runs).
    """
    window = FollowWindow(start)
    while True:
        yield from (line for line in fetch(logs_client, log_groups, window.start) if window.admit(line))
        window.slide()
        if stop():
            return
        sleep(poll_seconds)


@dataclass
class FollowWindow:
    """Where :func:`follow`'s next poll starts, and the events it already yielded from there.

    The start trails the newest event seen by :data:`LATE_ARRIVAL_WINDOW` and never
    moves back; ids older than the start are forgotten (no poll can return them
    again), so memory holds one window's events however long ``follow`` runs.
    """

    start: datetime
    seen: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def admit(self, line: LogLine) -> bool:
        """True the first time ``line`` is offered, False on every repeat."""
        key = (line.log_group, line.event_id)
        if key in self.seen:
            return False
        self.seen[key] = line.timestamp
        return True

    def slide(self) -> None:
        """Move the start up behind the newest event seen and forget the ids before it."""
        if self.seen:
            self.start = max(self.start, max(self.seen.values()) - LATE_ARRIVAL_WINDOW)
            self.seen = {key: moment for key, moment in self.seen.items() if moment >= self.start}


def _read_group(client: "CloudWatchLogsClient", group: str, start: datetime, end: datetime | None) -> Iterator[LogLine]:
    request: dict[str, Any] = {"logGroupName": group, "startTime": _millis(start)}
    if end is not None:
        request["endTime"] = _millis(end)
    try:
        for page in client.get_paginator("filter_log_events").paginate(**request):
            for event in page["events"]:
                yield _line(group, event)
    except client.exceptions.ResourceNotFoundException:
        return


def _line(group: str, event: "FilteredLogEventTypeDef") -> LogLine:
    """One event as a line; Lambda ends each message with a newline, which is dropped."""
    return LogLine(
        timestamp=_EPOCH + timedelta(milliseconds=event["timestamp"]),
        log_group=group,
        stream=event["logStreamName"],
        message=event["message"].rstrip("\n"),
        event_id=event["eventId"],
    )


def _millis(moment: datetime) -> int:
    return round((moment - _EPOCH) / timedelta(milliseconds=1))
