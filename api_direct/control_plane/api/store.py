"""The control plane's one DynamoDB table: every entity, and the key that finds it.

One table (``pk``/``sk``) with two generic indexes; each access pattern below is one
``GetItem`` or one ``Query``, never a scan:

| access pattern | key |
| --- | --- |
| a creator's accounts, any status | ``pk=CREATOR#<sub>``, ``sk=ACCOUNT#<account>#<region>`` (all: ``sk`` begins ``ACCOUNT#``) |
| who holds an account in a region (one creator at a time) | ``pk=ACCOUNT#<account>#<region>``, ``sk=OWNER`` (conditional put; deleted on unlink) |
| which creator linked an account (usage attribution) | ``gsi1pk=ACCOUNT#<account>``, ``gsi1sk=REGION#<region>`` (pending and linked only: unlink drops these keys) |
| an ExternalId is never reused | ``pk=EXTERNALID#<id>``, ``sk=EXTERNALID`` (conditional put) |
| a creator's deployments of an API, newest first | ``pk=CREATOR#<sub>``, ``sk=DEPLOY#<api_id>#<time>#<id>`` |
| a listing, its plans (in the creator's order: ``position``; per-plan ``subscribers``), its OpenAPI document, reviews | ``pk=API#<api_id>``, ``sk`` = ``LISTING`` / ``PLAN#<name>`` / ``OPENAPI`` (compact JSON string: search never reads it) / ``REVIEW#<consumer>`` |
| an API's reviews, newest first (cursor names no consumer) | ``gsi1pk=API#<api_id>``, ``gsi1sk`` begins ``REVIEW#<time>#<random id>`` |
| all listings (search, newest first) | ``gsi1pk=LISTINGS``, ``gsi1sk=<published_at>#<api_id>`` |
| a creator's listings | ``gsi2pk=CREATOR#<sub>``, ``gsi2sk=LISTING#<api_id>`` |
| a consumer's subscriptions (each holds its current ``key_id`` and ``key_hash``) | ``pk=CONSUMER#<sub>``, ``sk`` begins ``SUB#`` |
| an API's subscribers | ``gsi1pk=API#<api_id>``, ``gsi1sk`` begins ``SUB#`` |
| a key by hash | ``pk=KEY#<hash>``, ``sk=KEY`` |
| a consumer's keys | ``gsi2pk=CONSUMER#<sub>``, ``gsi2sk`` begins ``KEY#`` |
| a subscription's hourly usage counter (calls, billable, errors; see ``billing/metering.py``) | ``pk=METER#<api_id>#<consumer>``, ``sk=HOUR#<hour>#<plan>`` (a month: ``sk`` begins ``HOUR#<YYYY-MM>``) |
| a subscription's calls per key and UTC day (written with the hour's counter, in its transaction) | ``pk=METER#<api_id>#<consumer>``, ``sk=KEYDAY#<YYYY-MM-DD>#<key_id>`` (``BETWEEN`` two days) |
| a subscription's alert settings (thresholds, webhook and its signing secret, spend cap; see ``billing/alerting.py``) | ``pk=CONSUMER#<sub>``, ``sk=ALERTS#<api_id>`` |
| an alert fired (once per subscription, month, limit and threshold: conditional put) | ``pk=METER#<api_id>#<consumer>``, ``sk=ALERT#<YYYY-MM>#<kind>#<limit>#<threshold>`` |
| an API's usage over a range of days, every consumer and plan | ``gsi2pk=USAGE#<api_id>``, ``gsi2sk=<hour>#<consumer>#<plan>`` (``BETWEEN`` two dates) |
| an AI agent's subscription request (see ``agent_requests.py``; TTL ``expires_at``) | ``pk=AGENTREQ#<request_id>``, ``sk=AGENTREQ`` |
| agents' subscription requests per source address and hour (its SHA-256; TTL ``expires_at``) | ``pk=AGENTLIMIT#<hash>``, ``sk=HOUR#<YYYY-MM-DDTHH>`` |
| a paid invoice (see ``billing/earnings.py``) | ``pk=INVOICE#<id>``, ``sk=PAID`` |
| a creator's paid invoices (the ledger) | ``gsi2pk=LEDGER#<sub>``, ``gsi2sk=<month>#<invoice_id>`` |
| a consumer's paid invoices | ``gsi1pk=INVOICES#<sub>``, ``gsi1sk=<month>#<invoice_id>`` |

Search ranks the listings of one ``LISTINGS`` query in memory: fine for a
marketplace of thousands of APIs; an inverted index or OpenSearch is the step
after that.
"""  # noqa: E501 (Markdown table rows cannot wrap)

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from boto3.dynamodb.conditions import ConditionBase, Key
from botocore.exceptions import ClientError

from api_direct.contracts import GSI1 as GSI1  # the table's keys are the contracts'; the store's users read them here
from api_direct.contracts import GSI2 as GSI2
from api_direct.contracts import INDEXES, PK, SK
from api_direct.control_plane.api.problems import Problem

LISTINGS = "LISTINGS"
#: A transaction's cancellation code for an operation whose condition did not hold.
CONDITION_FAILED = "ConditionalCheckFailed"


def creator_pk(sub: str) -> str:
    return f"CREATOR#{sub}"


def consumer_pk(sub: str) -> str:
    return f"CONSUMER#{sub}"


def consumer_of(pk: str) -> str:
    """The consumer whose partition ``pk`` is (:func:`consumer_pk`'s inverse)."""
    return pk.removeprefix("CONSUMER#")


def api_pk(api_id: str) -> str:
    return f"API#{api_id}"


def key_pk(key_hash: str) -> str:
    return f"KEY#{key_hash}"


def account_gsi(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


class Store:
    """Thin, typed-enough access to the table; conflicts become 409 problems."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={PK: pk, SK: sk}, ConsistentRead=True).get("Item")

    def put(self, item: Mapping[str, Any]) -> None:
        self.table.put_item(Item=dict(item))

    def put_new(self, item: Mapping[str, Any], conflict: str) -> None:
        """Create ``item`` only if no item has its key; else 409 with ``conflict`` as the detail."""
        try:
            self.table.put_item(Item=dict(item), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Problem(409, conflict) from None
            raise

    def delete(self, pk: str, sk: str) -> None:
        self.table.delete_item(Key={PK: pk, SK: sk})

    def query(
        self, pk: str, sk_prefix: str = "", *, index: str | None = None, newest_first: bool = False
    ) -> Iterator[dict[str, Any]]:
        """All items of a partition (of the table or an index), following pagination."""
        pk_name, sk_name = _key_names(index)
        condition: ConditionBase = Key(pk_name).eq(pk)
        if sk_prefix:
            condition &= Key(sk_name).begins_with(sk_prefix)
        return self._pages(condition, index, newest_first)

    def query_between(self, pk: str, low: str, high: str, *, index: str | None = None) -> Iterator[dict[str, Any]]:
        """The items of a partition whose sort key is from ``low`` to ``high``, both included, in key order.

        For periods no one prefix covers (the last 30 days): bounds may be shorter
        than the keys, as ``2026-11-01`` is below every key of that day's hours.
        """
        pk_name, sk_name = _key_names(index)
        return self._pages(Key(pk_name).eq(pk) & Key(sk_name).between(low, high), index, newest_first=False)

    def _pages(self, condition: Any, index: str | None, newest_first: bool) -> Iterator[dict[str, Any]]:
        """Every item the query finds, page after page."""
        arguments: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": not newest_first}
        if index is not None:
            arguments["IndexName"] = index
        while True:
            page = self.table.query(**arguments)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def transact(self, operations: Sequence[Mapping[str, Any]], conflict: str) -> None:
        """All or nothing (``TransactWriteItems`` with the resource's item format); a failed condition is a 409."""
        try:
            reasons = self.transact_conditionally(operations, answered=range(len(operations)))
        except ClientError as error:
            if error.response["Error"]["Code"] in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                raise Problem(409, conflict) from None
            raise
        if reasons:
            raise Problem(409, conflict)

    def transact_conditionally(self, operations: Sequence[Mapping[str, Any]], answered: Collection[int]) -> list[str]:
        """Run the transaction: ``[]`` if it committed, else each operation's cancellation code
        (``"None"`` for those whose condition held), so the caller can tell which condition failed.

        Only a failed condition of an operation in ``answered`` (indexes into
        ``operations``) is answered this way; any other cancellation (another
        condition, a conflicting transaction, throttling) raises the ``ClientError``.
        """
        client = self.table.meta.client
        try:
            client.transact_write_items(
                TransactItems=[
                    {kind: {"TableName": self.table.name, **body} for kind, body in op.items()} for op in operations
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]
            if not any(reasons[index] == CONDITION_FAILED for index in answered if index < len(reasons)):
                raise
            return reasons
        return []


def _key_names(index: str | None) -> tuple[str, str]:
    """The partition and sort attributes of the table (``None``) or of one of its indexes."""
    return (PK, SK) if index is None else next((p, s) for i, p, s in INDEXES if i == index)


def update_op(
    key: Mapping[str, str],
    *,
    set_: Mapping[str, Any] | None = None,
    add: Mapping[str, int] | None = None,
    remove: Iterable[str] = (),
    when: Mapping[str, Any] | None = None,
    exists: bool = False,
) -> dict[str, Any]:
    """One ``Update`` of a transaction, every name and value a placeholder (``name``, ``status``
    and ``region`` are reserved words). ``when`` are equalities the item must hold; ``exists``
    refuses to create the item, as ``Update`` otherwise would.
    """
    expression = _Expression()
    actions = {
        "SET": [f"{expression.name(k)} = {expression.value(v)}" for k, v in (set_ or {}).items()],
        "ADD": [f"{expression.name(k)} {expression.value(v)}" for k, v in (add or {}).items()],
        "REMOVE": [expression.name(k) for k in remove],
    }
    update = " ".join(f"{action} {', '.join(parts)}" for action, parts in actions.items() if parts)
    return {"Update": expression.attach({"Key": dict(key), "UpdateExpression": update}, when, exists)}


def check_op(key: Mapping[str, str], *, when: Mapping[str, Any] | None = None, exists: bool = True) -> dict[str, Any]:
    """A ``ConditionCheck``: the transaction fails unless the item exists and holds ``when``."""
    return {"ConditionCheck": _Expression().attach({"Key": dict(key)}, when, exists)}


class _Expression:
    """Collects the ``#n``/``:v`` placeholders of one operation."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def attach(self, operation: dict[str, Any], when: Mapping[str, Any] | None, exists: bool) -> dict[str, Any]:
        conditions = (["attribute_exists(pk)"] if exists else []) + [
            f"{self.name(k)} = {self.value(v)}" for k, v in (when or {}).items()
        ]
        if conditions:
            operation["ConditionExpression"] = " AND ".join(conditions)
        if self.names:
            operation["ExpressionAttributeNames"] = self.names
        if self.values:
            operation["ExpressionAttributeValues"] = self.values
        return operation
