"""CloudWatch Logs subscription target: access-log lines in, usage records out.

Each delivery of the API's access log is aggregated into one usage record per
(API id, key id, plan, UTC hour) and put on the control plane's event bus, which
bills from them. A record's id is derived from the log lines it counts, not from
when or how they arrived: a redelivered or differently batched payload yields the
same ids, and the control plane applies each id once, so retries never bill twice.
That is also why failing loudly is safe here: Lambda's async retry redelivers.
"""

import functools
import hashlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.client import BaseClient

from api_direct.runtime.access_log import AccessLogEntry, parse_access_log_line

USAGE_SOURCE = "api-direct.usage"
USAGE_DETAIL_TYPE = "UsageRecorded"
MAX_ENTRIES_PER_PUT = 10
"""PutEvents accepts at most 10 entries per call."""
PUT_ATTEMPTS = 3
RETRY_DELAY_SECONDS = 0.2

_HOUR_MS = 3_600_000
_STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")

logger = Logger(service="apid-usage-forwarder")


class UsageDeliveryError(RuntimeError):
    """The control-plane bus kept refusing some usage records."""


@dataclass(frozen=True)
class LogLine:
    """One CloudWatch Logs event: its id (unique in the log group) and message."""

    id: str
    message: str


@dataclass(frozen=True)
class UsageRecord:
    """Calls of one key on one plan in one UTC hour, from one set of log lines.

    ``key_id`` is ``""`` for requests the authorizer rejected: counted, never billed.
    """

    record_id: str
    api: str
    api_id: str
    key_id: str
    plan: str
    period_start: str
    calls: int
    status_counts: Mapping[str, int]
    latency_ms_total: int
    first_request_epoch_ms: int
    last_request_epoch_ms: int
    log_event_ids_digest: str

    def detail(self) -> str:
        """The JSON detail of the ``UsageRecorded`` event."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def decode_log_lines(event: Mapping[str, Any]) -> list[LogLine]:
    """The log lines of a subscription delivery (base64 gzip JSON).

    A ``CONTROL_MESSAGE`` (CloudWatch checking that the target is reachable) has none.
    """
    data = CloudWatchLogsEvent(dict(event)).parse_logs_data()
    if data.message_type != "DATA_MESSAGE":
        return []
    return [LogLine(log_event.get_id, log_event.message) for log_event in data.log_events]


def aggregate(api: str, lines: Iterable[LogLine]) -> list[UsageRecord]:
    """Usage records for the access-log lines among ``lines``, in a stable order.

    Lines that are not access-log entries are skipped; a line id seen twice counts once.
    """
    groups: dict[tuple[str, str, str, str], dict[str, AccessLogEntry]] = defaultdict(dict)
    for line in lines:
        entry = parse_access_log_line(line.message)
        if entry is not None:
            group = (entry.api_id, entry.key_id, entry.plan, period_start(entry))
            groups[group][line.id] = entry
    return [
        _record(api, api_id, key_id, plan, start, entries)
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
    entries: Mapping[str, AccessLogEntry],
) -> UsageRecord:
    line_ids = sorted(entries)
    status_counts = dict.fromkeys(_STATUS_CLASSES, 0)
    for entry in entries.values():
        status_class = f"{entry.status // 100}xx"
        if status_class in status_counts:
            status_counts[status_class] += 1
    times = [entry.request_time_epoch_ms for entry in entries.values()]
    return UsageRecord(
        record_id=_sha256([api, key_id, plan, start, line_ids]),
        api=api,
        api_id=api_id,
        key_id=key_id,
        plan=plan,
        period_start=start,
        calls=len(entries),
        status_counts=status_counts,
        latency_ms_total=sum(entry.response_latency_ms or 0 for entry in entries.values()),
        first_request_epoch_ms=min(times),
        last_request_epoch_ms=max(times),
        log_event_ids_digest=_sha256(line_ids),
    )


def _sha256(value: Sequence[Any]) -> str:
    """Hex SHA-256 of a JSON list: unambiguous, unlike joining strings with a separator."""
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()


def put_records(client: BaseClient, bus_arn: str, records: Sequence[UsageRecord]) -> None:
    """Put every record on the bus, 10 per call, retrying entries the bus refused."""
    entries = [
        {
            "EventBusName": bus_arn,
            "Source": USAGE_SOURCE,
            "DetailType": USAGE_DETAIL_TYPE,
            "Detail": record.detail(),
        }
        for record in records
    ]
    for start in range(0, len(entries), MAX_ENTRIES_PER_PUT):
        _put_batch(client, entries[start : start + MAX_ENTRIES_PER_PUT])


def _put_batch(client: BaseClient, entries: list[dict[str, str]]) -> None:
    """PutEvents is not all-or-nothing: resend only the entries that failed."""
    for attempt in range(1, PUT_ATTEMPTS + 1):
        results = client.put_events(Entries=entries)["Entries"]
        failed = [(entry, result) for entry, result in zip(entries, results, strict=False) if "ErrorCode" in result]
        if not failed:
            return
        entries = [entry for entry, _ in failed]
        if attempt < PUT_ATTEMPTS:
            time.sleep(RETRY_DELAY_SECONDS * attempt)
    codes = ", ".join(sorted({result["ErrorCode"] for _, result in failed}))
    raise UsageDeliveryError(
        f"{len(failed)} usage records refused by the control-plane bus after {PUT_ATTEMPTS} attempts ({codes})"
    )


@functools.cache
def events_client(bus_arn: str) -> BaseClient:
    """An EventBridge client in the bus's region (the control plane's may differ from ours)."""
    return boto3.client("events", region_name=bus_arn.split(":")[3])


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    """Lambda entry point for one subscription delivery; logs counts, never log content."""
    bus_arn = os.environ["CONTROL_PLANE_BUS_ARN"]
    lines = decode_log_lines(event)
    records = aggregate(os.environ["API_NAME"], lines)
    put_records(events_client(bus_arn), bus_arn, records)
    logger.info(
        "usage forwarded",
        log_events=len(lines),
        requests=sum(record.calls for record in records),
        records=len(records),
    )
