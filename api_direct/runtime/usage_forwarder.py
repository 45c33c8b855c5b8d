"""CloudWatch Logs subscription target: access-log lines in, usage records out.

Each delivery of the API's access log is aggregated into one usage record per
(API id, key id, plan, UTC hour) and put on the control plane's event bus, which
bills from them. A record's id is derived from the log lines it counts, not from
when or how they arrived: a redelivered or differently batched payload yields the
same ids, and the control plane applies each id once, so retries never bill twice.
That is also why failing loudly is safe here: Lambda's async retry redelivers.
The counting itself is :mod:`.usage_records`, which ``apid dev`` runs too; each call
counts as many units as its route's weight, from :data:`~api_direct.contracts.ROUTE_WEIGHTS_ENV`.
"""

import functools
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_direct.contracts import USAGE_DETAIL_TYPE, USAGE_SOURCE
from api_direct.runtime.route_weights import RouteWeights
from api_direct.runtime.usage_records import LogLine, UsageRecord, aggregate

if TYPE_CHECKING:  # the stubs are a dev dependency; the Lambda bundle has boto3 alone
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

MAX_ENTRIES_PER_PUT = 10
"""PutEvents accepts at most 10 entries per call."""
PUT_ATTEMPTS = 3
RETRY_DELAY_SECONDS = 0.2

logger = Logger(service="apid-usage-forwarder")


class UsageDeliveryError(RuntimeError):
    """The control-plane bus kept refusing some usage records."""


def decode_log_lines(event: Mapping[str, Any]) -> list[LogLine]:
    """The log lines of a subscription delivery (base64 gzip JSON).

    A ``CONTROL_MESSAGE`` (CloudWatch checking that the target is reachable) has none.
    """
    data = CloudWatchLogsEvent(dict(event)).parse_logs_data()
    if data.message_type != "DATA_MESSAGE":
        return []
    return [LogLine(log_event.get_id, log_event.message) for log_event in data.log_events]


def put_records(client: "EventBridgeClient", bus_arn: str, records: Sequence[UsageRecord]) -> None:
    """Put every record on the bus, 10 per call, retrying entries the bus refused."""
    entries: list[PutEventsRequestEntryTypeDef] = [
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


def _put_batch(client: "EventBridgeClient", entries: list["PutEventsRequestEntryTypeDef"]) -> None:
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
def events_client(bus_arn: str) -> "EventBridgeClient":
    """An EventBridge client in the bus's region (the control plane's may differ from ours)."""
    return boto3.client("events", region_name=bus_arn.split(":")[3])


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    """Lambda entry point for one subscription delivery; logs counts, never log content."""
    bus_arn = os.environ["CONTROL_PLANE_BUS_ARN"]
    lines = decode_log_lines(event)
    records = aggregate(os.environ["API_NAME"], lines, RouteWeights.from_environment(os.environ))
    put_records(events_client(bus_arn), bus_arn, records)
    logger.info(
        "usage forwarded",
        log_events=len(lines),
        requests=sum(record.calls for record in records),
        units=sum(sum(record.units_by_status.values()) for record in records),
        records=len(records),
    )
