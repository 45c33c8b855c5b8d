"""Key events: written in the transaction of the change they describe, delivered from the table's stream.

A change to keys (a subscription, a revocation, a plan change, a suspension, a cap)
and its key events commit together or not at all: each event is an outbox item
(``pk=OUTBOX#<event id>``, ``sk=EVENT``) among the change's own writes. Nothing is
sent from the request, so there is no moment where the table says one thing and the
API's account was never told, and nothing to undo when a send fails.

The table's stream (new images) invokes :func:`relay`, which puts each new outbox
item on the control plane's bus, from where the API's rule forwards it to the key bus
in the API's account. A record the bus refuses fails alone (a partial batch
response): Lambda retries from it, halving the batch on error, and after its retries
hands the record to the dead-letter queue. A retry may put an event the bus already
took; that is harmless, because each event carries its ``event_id`` and its
``issued_at`` (microseconds, stamped when the change committed, never when sent),
and the creator's key sync (:mod:`api_direct.runtime.key_sync`) treats an event at
or before what a key already reflects as a no-op.

The item's ``expires_at`` lets TTL delete it once the stream (which keeps records
for 24 hours) can no longer deliver it.
"""

import functools
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_direct.contracts import OUTBOX_PREFIX, OUTBOX_SK, KeyEventType
from api_direct.control_plane.api.bus import ControlPlaneBus
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import PK, SK

logger = Logger(service="apid-outbox")

#: How long an outbox item is kept: past the stream's 24 hours, then TTL deletes it.
OUTBOX_DAYS = 2


@dataclass(frozen=True)
class KeyEvent:
    """A key event to write: what happened (``detail_type``) to which key (``detail``) of which API."""

    detail_type: KeyEventType
    api_id: str
    detail: Mapping[str, str | bool]


def outbox_writes(events: Sequence[KeyEvent], now: datetime | None = None) -> list[dict[str, Any]]:
    """The transaction's ``Put`` of each event, stamped in order.

    Events of one change get ``issued_at`` one microsecond apart, in the order
    given, so the key sync applies them in that order however they arrive.
    """
    at = now or datetime.now(UTC)
    return [
        {
            "Put": {
                "Item": _item(event, at + timedelta(microseconds=index), f"evt_{secrets.token_hex(12)}"),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for index, event in enumerate(events)
    ]


def _item(event: KeyEvent, at: datetime, event_id: str) -> dict[str, Any]:
    return {
        PK: f"{OUTBOX_PREFIX}{event_id}",
        SK: OUTBOX_SK,
        "detail_type": event.detail_type,
        "api_id": event.api_id,
        "detail": {
            **event.detail,
            "api": event.api_id,
            "event_id": event_id,
            "issued_at": at.isoformat(timespec="microseconds"),
        },
        "expires_at": int((at + timedelta(days=OUTBOX_DAYS)).timestamp()),
    }


def is_relayed(record: Mapping[str, Any]) -> bool:
    """Whether a stream record (as the stream gives it) is a new outbox item: what the relay's filter criteria
    (``constructs.key_event_outbox``) let through."""
    keys = record.get("dynamodb", {}).get("Keys", {})
    return (
        record.get("eventName") == "INSERT"
        and str(keys.get(PK, {}).get("S", "")).startswith(OUTBOX_PREFIX)
        and keys.get(SK, {}).get("S") == OUTBOX_SK
    )


def relay_record(record: DynamoDBRecord, bus: ControlPlaneBus) -> None:
    """Put one stream record's event on the bus; a record that is not a new outbox item is passed over.

    Raises when the bus refuses it, which fails this record alone.
    """
    if not is_relayed(record.raw_event) or record.dynamodb is None:
        return
    item = record.dynamodb.new_image
    bus.send(str(item["detail_type"]), _plain(item["detail"]))
    logger.info("key event relayed", detail_type=item["detail_type"], event_id=item["detail"]["event_id"])


def relay_batch(event: Mapping[str, Any], bus: ControlPlaneBus) -> PartialItemFailureResponse:
    """Relay every record of a stream batch; the partial batch response names those to retry."""
    # A batch that failed whole is a response naming every record, as a partial one is, not an error.
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=dict(event), record_handler=lambda record: relay_record(record, bus), processor=processor
    )


def _plain(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The detail as JSON has it: the stream's image gives numbers as ``Decimal``, which details never hold."""
    return {name: value if isinstance(value, str | bool) else str(value) for name, value in detail.items()}


@functools.cache
def _bus() -> ControlPlaneBus:
    settings = ControlPlaneSettings.from_env()
    events = boto3.client("events", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    return ControlPlaneBus(events, settings.event_bus_name, settings.key_forwarding_role_arn)


@logger.inject_lambda_context(clear_state=True)
def relay(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point: a batch of the table's stream records."""
    return relay_batch(event, _bus())
