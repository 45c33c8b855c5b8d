"""The table's stream and the outbox relay, as AWS runs them, for tests on moto in process.

In AWS the relay function runs on its own as outbox items reach the stream; a test
calls :func:`relay_outbox` (an :class:`~tests.control_plane.marketplace.EventLog`
does before it reads) where AWS would have run it by then.
"""

from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config

from api_direct.control_plane.api.bus import ControlPlaneBus
from api_direct.control_plane.api.outbox import is_relayed, relay_batch
from api_direct.local.event_sources import drain_stream
from tests.control_plane.resources import BUS, REGION, TABLE

#: Where each stream's shards were drained to, by stream ARN (moto gives every new table's stream a new one).
_CHECKPOINTS: dict[str, dict[str, str]] = {}


def stream_arn(table: str = TABLE) -> str:
    return str(boto3.client("dynamodb", region_name=REGION).describe_table(TableName=table)["Table"]["LatestStreamArn"])


def relay_outbox(invoke: Callable[[dict[str, Any]], Mapping[str, Any] | None] | None = None, table: str = TABLE) -> int:
    """Run the relay on the stream's records not relayed yet (``invoke``: the relay as deployed, by default onto
    the bus ``BUS``); how many it took."""
    arn = stream_arn(table)
    # moto answers DynamoDB Streams on its regional endpoint only, not the account's (``<account>.streams-ddb``).
    streams = boto3.client("dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled"))
    return drain_stream(streams, arn, invoke or _relay_to_bus, _CHECKPOINTS.setdefault(arn, {}), is_relayed)


def _relay_to_bus(event: dict[str, Any]) -> Mapping[str, Any]:
    """The relay as the stack deploys it: onto the control plane's bus."""
    return relay_batch(event, ControlPlaneBus(boto3.client("events", region_name=REGION), BUS, None))
