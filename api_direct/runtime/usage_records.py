"""Access-log lines to usage records: the usage forwarder's counting, without AWS in it.

The forwarder's handler (:mod:`.usage_forwarder`) decodes a CloudWatch Logs delivery
and puts these records on the control plane's bus; ``apid dev`` meters each local
request through the same :func:`aggregate`, in the creator's own interpreter, where
neither boto3 nor Powertools need be installed. Standard library only.
"""

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from api_direct.contracts import LOG_EVENT_OVERHEAD_BYTES
from api_direct.runtime.access_log import AccessLogEntry, parse_access_log_line
from api_direct.runtime.mcp_tools import MCP_PATH
from api_direct.runtime.route_weights import RouteWeights

_HOUR_MS = 3_600_000
_STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


@dataclass(frozen=True)
class LogLine:
    """One CloudWatch Logs event: its id (unique in the log group) and message."""

    id: str
    message: str


@dataclass(frozen=True)
class UsageRecord:
    """Calls of one key on one plan in one UTC hour, from one set of log lines.

    ``key_id`` is ``""`` for requests the authorizer rejected and for requests to the MCP endpoint
    (:data:`~api_direct.runtime.mcp_tools.MCP_PATH`): counted, never billed. ``units_by_status`` is,
    per status class, the sum of those calls' route weights: what quotas and bills count
    (a record without it, from an older forwarder, counts one unit per call).

    The last six are what the cost model reads (``aws_costs.traffic.Traffic``, field for field), all totals
    over the record's lines, so that they add up across records: the response payload bytes, API Gateway's
    integration latency, the distinct authorizer decisions (one invocation each: the calls its cached
    answer let through repeat its id) and their latency (each decision's once), the lines' own bytes as
    CloudWatch Logs meters them, and the distinct seconds with a call. A line from before the access log
    recorded a measure adds nothing to it.
    """

    record_id: str
    api: str
    api_id: str
    key_id: str
    plan: str
    period_start: str
    calls: int
    status_counts: Mapping[str, int]
    units_by_status: Mapping[str, int]
    latency_ms_total: int
    first_request_epoch_ms: int
    last_request_epoch_ms: int
    log_event_ids_digest: str
    response_bytes: int
    integration_ms: int
    authorizer_invocations: int
    authorizer_ms: int
    log_bytes: int
    active_seconds: int

    def detail(self) -> str:
        """The JSON detail of the ``UsageRecorded`` event."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def aggregate(api: str, lines: Iterable[LogLine], weights: RouteWeights = RouteWeights()) -> list[UsageRecord]:
    """Usage records for the access-log lines among ``lines``, in a stable order, each call as many units as
    its route's weight in ``weights``.

    Lines that are not access-log entries are skipped; a line id seen twice counts once.
    """
    groups: dict[tuple[str, str, str, str], dict[str, tuple[AccessLogEntry, int]]] = defaultdict(dict)
    for line in lines:
        entry = parse_access_log_line(line.message)
        if entry is not None:
            # A request to the MCP endpoint only lists or forwards: its tool calls are logged as calls of their own.
            billed = entry.resource_path != MCP_PATH
            group = (entry.api_id, entry.key_id if billed else "", entry.plan if billed else "", period_start(entry))
            groups[group][line.id] = (entry, len(line.message.encode()))
    return [
        _record(api, api_id, key_id, plan, start, entries, weights)
        for (api_id, key_id, plan, start), entries in sorted(groups.items())
    ]


def period_start(entry: AccessLogEntry) -> str:
    """The UTC hour the request started in, e.g. ``2026-11-25T13:00:00Z``."""
    hour_start = entry.request_time_epoch_ms // _HOUR_MS * _HOUR_MS // 1000
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hour_start))


def _record(
    api: str,
    api_id: str,
    key_id: str,
    plan: str,
    start: str,
    lines: Mapping[str, tuple[AccessLogEntry, int]],
    weights: RouteWeights,
) -> UsageRecord:
    line_ids = sorted(lines)
    entries = [entry for entry, _ in lines.values()]
    status_counts = dict.fromkeys(_STATUS_CLASSES, 0)
    units_by_status = dict.fromkeys(_STATUS_CLASSES, 0)
    # Per decision, the largest latency its lines report: the invoking call's (a call the cache answered has
    # no authorizer time of its own to add, whatever API Gateway logs for it).
    decisions: dict[str, int] = {}
    for entry in entries:
        status_class = f"{entry.status // 100}xx"
        if status_class in status_counts:
            status_counts[status_class] += 1
            units_by_status[status_class] += weights.weight_of(entry.http_method, entry.resource_path)
        decision = entry.authorizer_decision
        if decision and (entry.authorizer_latency_ms or 0) > decisions.get(decision, -1):
            decisions[decision] = entry.authorizer_latency_ms or 0
    times = [entry.request_time_epoch_ms for entry in entries]
    return UsageRecord(
        record_id=_sha256([api, key_id, plan, start, line_ids]),
        api=api,
        api_id=api_id,
        key_id=key_id,
        plan=plan,
        period_start=start,
        calls=len(entries),
        status_counts=status_counts,
        units_by_status=units_by_status,
        latency_ms_total=sum(entry.response_latency_ms or 0 for entry in entries),
        first_request_epoch_ms=min(times),
        last_request_epoch_ms=max(times),
        log_event_ids_digest=_sha256(line_ids),
        response_bytes=sum(entry.response_length or 0 for entry in entries),
        integration_ms=sum(entry.integration_latency_ms or 0 for entry in entries),
        authorizer_invocations=len(decisions),
        authorizer_ms=sum(decisions.values()),
        log_bytes=sum(size for _, size in lines.values()) + LOG_EVENT_OVERHEAD_BYTES * len(lines),
        active_seconds=len({time_ms // 1000 for time_ms in times}),
    )


def _sha256(value: Sequence[Any]) -> str:
    """Hex SHA-256 of a JSON list: unambiguous, unlike joining strings with a separator."""
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()
