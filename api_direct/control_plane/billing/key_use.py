"""When each key was last used, as far as the usage records say: the hour of its latest record.

The control plane never sees a call, only the usage records a creator's forwarder
sends, one per key, plan and UTC hour. So "last used" is an hour (the start of the
latest hour a record names), and it is as late as the records are: it moves when a
record arrives, not when the call is made.

One item per key (``pk=LASTUSED#<key_id>``, ``sk=KEY``), raised only ever forwards, so records arriving out of
order or twice never move it back. It is written after the records are counted and
is not part of the billing transaction: it informs, it does not bill.
"""

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from api_direct.control_plane.api.store import PK, SK, Store


def last_used_key(key_id: str) -> dict[str, str]:
    return {PK: f"LASTUSED#{key_id}", SK: "KEY"}


def record_use(store: Store, key_id: str, hour: str) -> None:
    """Move the key's last use to ``hour`` unless a later hour is already recorded."""
    try:
        store.table.update_item(
            Key=last_used_key(key_id),
            UpdateExpression="SET last_used = :hour",
            ConditionExpression="attribute_not_exists(last_used) OR last_used < :hour",
            ExpressionAttributeValues={":hour": hour},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def last_used(store: Store, key_id: str) -> str | None:
    """The hour of the key's latest usage record, or ``None`` if no record has named it yet."""
    key = last_used_key(key_id)
    item: Mapping[str, Any] | None = store.get(key[PK], key[SK])
    return None if item is None else str(item["last_used"])
