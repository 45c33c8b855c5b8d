"""Items that move through states (usage hours, earnings months), found by state in ``gsi1``.

An item in a state that still needs work is listed under ``gsi1pk=<KIND>#<state>``,
sorted by period (``gsi1sk``), so a scheduled run finds what is due with one query
rather than a scan; the final state leaves the index. Each move is a conditional
update from the state the run saw, so two runs (or a run and a late writer) never
both move the same item, and the index being eventually consistent costs at most a
refused move.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from boto3.dynamodb.conditions import ConditionBase, Key
from botocore.exceptions import ClientError

from api_direct.control_plane.api.store import GSI1, PK, SK, Store


def listed(
    store: Store, index_pk: str, *, below: str | None = None, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Items listed under ``index_pk``, oldest period first; with ``below``, only periods sorting before it."""
    condition: ConditionBase = Key("gsi1pk").eq(index_pk)
    if below is not None:
        condition &= Key("gsi1sk").lt(below)
    arguments: dict[str, Any] = {"IndexName": GSI1, "KeyConditionExpression": condition}
    seen = 0
    while limit is None or seen < limit:
        page = store.table.query(**arguments)
        for item in page.get("Items", []):
            seen += 1
            yield item
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def advance(
    store: Store,
    item: Mapping[str, Any],
    from_state: str,
    to_state: str,
    values: Mapping[str, Any],
    index_pk: str | None,
    *,
    unchanged: Mapping[str, Any] | None = None,
) -> bool:
    """Move ``item`` to ``to_state`` (setting ``values``, listed under ``index_pk`` or unlisted when ``None``).

    ``unchanged`` are attribute values ``values`` were computed from, which must still
    hold. ``False`` if the item was no longer in ``from_state`` or had changed: someone
    else moved or wrote it first.
    """
    condition = "#state = :from" + "".join(f" AND #w{i} = :w{i}" for i in range(len(unchanged or {})))
    names = {"#state": "state", **{f"#w{i}": name for i, name in enumerate(unchanged or {})}}
    assignments: dict[str, Any] = {
        ":to": to_state,
        ":from": from_state,
        **{f":{k}": v for k, v in values.items()},
        **{f":w{i}": value for i, value in enumerate((unchanged or {}).values())},
    }
    update = "SET #state = :to" + "".join(f", {k} = :{k}" for k in values)
    if index_pk is None:
        update += " REMOVE gsi1pk, gsi1sk"
    else:
        update += ", gsi1pk = :index"
        assignments[":index"] = index_pk
    try:
        store.table.update_item(
            Key={PK: item[PK], SK: item[SK]},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=assignments,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True
