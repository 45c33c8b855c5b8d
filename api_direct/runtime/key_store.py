"""The key table in the creator's account: consumer keys by hash, never in plaintext.

Schema: partition key ``key_hash`` (S, :func:`api_direct.runtime.api_keys.hash_key`
of the key); attributes ``key_id`` (S), ``plan`` (S, empty until a KeyIssued or
PlanChanged is applied), ``status`` (S: ``active``, ``revoked`` or ``suspended``),
``usage_key_id`` (S, id of the API Gateway API key that binds the consumer to its
plan's usage plan), ``capped_until`` (S, until when the subscription's hard spend
cap holds the key; absent when none does) and ``cap_at`` (S, time of the KeyCapped
or KeyUncapped last applied), the same pair for each other cap reason
(:data:`~api_direct.runtime.key_check.CAP_ATTRIBUTES`: ``credit_capped_until`` and
``credit_cap_at``, ``quota_capped_until`` and ``quota_cap_at``), ``cap_api`` and
``buy_url`` (S, what a credit cap's 402 quotes), ``usage_id`` (S, the subscription's shared usage identifier: that
API key's name and value; absent for keys counted alone), ``updated_at`` (S, time of the plan event last applied, or of
the revocation; empty until either is) and ``suspension_at`` (S, time of the
KeySuspended or KeyRestored last applied; absent until one is), ``expires_at`` (S,
when a key rotated out with a grace period stops working; absent otherwise) and
``expires_ttl`` (N, epoch seconds: the table's TTL attribute, which deletes the
record some time after its expiry, see :data:`TOMBSTONE_DAYS`).

The authorizer only reads it; key_sync is the only writer. Every write is one
conditional DynamoDB update, so the table itself enforces the rules that make
out-of-order and repeated events safe: revoked is terminal, and an event older than
the one already applied changes nothing.

"Older" is judged per concern, each with its own clock. Plan events (which plan)
compare with ``updated_at``; suspension events (whether the key may be used) compare
with ``suspension_at``. One shared clock would lose events: a KeyRestored delivered
before the KeySuspended it follows finds the key active and, if it did not record
its time, the late KeySuspended would then look newer than anything applied and
suspend a key the consumer has paid for. Likewise a suspension must not move
``updated_at``, or the KeyIssued it overtook would look stale and never set a plan.
"""

import functools
import os
from collections.abc import Mapping
from datetime import datetime, timedelta, UTC
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from api_direct.contracts import KEY_EXPIRES_AT, KEY_TTL_ATTRIBUTE, CapReason
from api_direct.runtime.key_check import CAP_ATTRIBUTES, UNTIL_LIFTED, KeyRecord, KeyStatus

if TYPE_CHECKING:  # the stubs are a dev dependency; the Lambda bundle has boto3 alone
    from mypy_boto3_dynamodb.service_resource import Table


def stored_time(at: datetime) -> str:
    """How ``updated_at`` is written: UTC, fixed width, microseconds.

    The table compares times as strings in its condition expressions; that only
    orders them correctly when every stored time has exactly this shape.
    """
    if at.tzinfo is None:
        raise ValueError(f"time {at.isoformat()} has no time zone; event times are UTC")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: How long an expired key's record outlives its expiry before TTL may delete it: longer than EventBridge
#: retries a delivery (24 hours at most), so a late KeyIssued still finds the record and cannot revive it.
TOMBSTONE_DAYS = 2


# Placeholders for every attribute written, since "status" (and others) are
# DynamoDB reserved words.
_NAMES = {
    "#hash": "key_hash",
    "#id": "key_id",
    "#plan": "plan",
    "#status": "status",
    "#at": "updated_at",
    "#usage": "usage_key_id",
    "#shared": "usage_id",
    "#capped": CAP_ATTRIBUTES["spend"][0],
    "#captime": CAP_ATTRIBUTES["spend"][1],
    "#creditcapped": CAP_ATTRIBUTES["credit"][0],
    "#credittime": CAP_ATTRIBUTES["credit"][1],
    "#quotacapped": CAP_ATTRIBUTES["quota"][0],
    "#quotatime": CAP_ATTRIBUTES["quota"][1],
    "#capapi": "cap_api",
    "#buyurl": "buy_url",
    "#suspension": "suspension_at",
    "#expires": KEY_EXPIRES_AT,
    "#ttl": KEY_TTL_ATTRIBUTE,
}


class KeyTable:
    """The key table, wrapped so callers deal in :class:`KeyRecord` and rules, not items."""

    def __init__(self, table: "Table") -> None:
        self.table = table

    def get(self, key_hash: str, consistent: bool = False) -> KeyRecord | None:
        """The record for a hash, or ``None``: one GetItem.

        ``consistent`` is for reading back a write just made; the authorizer does not
        need it (its answers are cached for minutes anyway) and pays half for that.
        """
        item = self.table.get_item(Key={"key_hash": key_hash}, ConsistentRead=consistent).get("Item")
        return KeyRecord.from_item(item) if item else None

    def record_plan(self, key_hash: str, key_id: str, plan: str, at: datetime, usage_id: str | None = None) -> bool:
        """Create the key as active on ``plan``, or move it to ``plan``, as of ``at``; with its subscription's ``usage_id``.

        Changes nothing (and returns ``False``) when the key is revoked or already
        reflects an event at or after ``at``: that makes a duplicate or late event a
        no-op, so a late KeyIssued cannot resurrect a revoked key or undo a plan change.
        A suspended key stays suspended: whether it may be used is for :meth:`suspend`
        and :meth:`restore` to say, so a plan change during an unpaid invoice does
        not unlock it.
        """
        shared = ", #shared = :shared" if usage_id else ""
        return self._update(
            key_hash,
            "SET #id = if_not_exists(#id, :id), #plan = :plan, #status = if_not_exists(#status, :active), #at = :at"
            + shared,
            "attribute_not_exists(#hash) OR (#at < :at AND #status <> :revoked)",
            {
                ":id": key_id,
                ":plan": plan,
                ":active": "active",
                ":revoked": "revoked",
                ":at": stored_time(at),
                **({":shared": usage_id} if usage_id else {}),
            },
        )

    def revoke(self, key_hash: str, key_id: str, at: datetime) -> bool:
        """Mark the key revoked, for good; ``False`` if it already was.

        Works on a hash the table has never seen, leaving a tombstone: a KeyIssued
        delivered after its KeyRevoked then finds the key revoked.
        """
        return self._update(
            key_hash,
            "SET #id = if_not_exists(#id, :id), #plan = if_not_exists(#plan, :none), #status = :revoked, #at = :at",
            "attribute_not_exists(#hash) OR #status <> :revoked",
            {":id": key_id, ":none": "", ":revoked": "revoked", ":at": stored_time(at)},
        )

    def expire(self, key_hash: str, key_id: str, expires_at: datetime, at: datetime) -> bool:
        """Let the key work until ``expires_at`` and no longer (a rotation's grace period).

        The key stays ``active`` (its binding to the usage plan too) and the
        authorizer refuses it from ``expires_at`` on. An expiry only ever moves
        earlier: a repeated or late event changes nothing, and revoked stays revoked.
        On a hash never seen it leaves an active record with an empty plan, which
        its KeyIssued then fills in, keeping the expiry.
        """
        return self._update(
            key_hash,
            "SET #id = if_not_exists(#id, :id), #plan = if_not_exists(#plan, :none),"
            " #at = if_not_exists(#at, :none), #status = if_not_exists(#status, :active),"
            " #expires = :expires, #ttl = :ttl",
            "attribute_not_exists(#hash) OR (#status <> :revoked"
            " AND (attribute_not_exists(#expires) OR #expires > :expires))",
            {
                ":id": key_id,
                ":none": "",
                ":active": "active",
                ":revoked": "revoked",
                ":expires": stored_time(expires_at),
                ":ttl": int((expires_at + timedelta(days=TOMBSTONE_DAYS)).timestamp()),
            },
        )

    def cap(
        self,
        key_hash: str,
        key_id: str,
        until: datetime | None,
        at: datetime,
        reason: CapReason = "spend",
        api: str | None = None,
        buy_url: str | None = None,
    ) -> bool:
        """Hold the key to a cap of ``reason`` until ``until`` (``None``: until uncapped); ``False`` if stale or revoked.

        Each reason's cap has a clock of its own (``cap_at`` for a spend cap), for the
        reason suspensions do: a KeyUncapped overtaken by the KeyCapped it follows must
        still win; and one reason's events never order or lift another's (credit
        bought does not lift a spend cap). The key stays ``active``: the authorizer
        lets it through to be answered 402 (429 for a quota).
        """
        capped, _ = _CAP_PLACEHOLDERS[reason]
        change = f"SET {capped} = :until"
        values = {":until": UNTIL_LIFTED if until is None else stored_time(until)}
        for placeholder, value in (("#capapi", api), ("#buyurl", buy_url)):
            if value is not None:
                change += f", {placeholder} = {placeholder.replace('#', ':')}"
                values[placeholder.replace("#", ":")] = value
        return self._set_cap(key_hash, key_id, reason, change, at, values)

    def uncap(self, key_hash: str, key_id: str, at: datetime, reason: CapReason = "spend") -> bool:
        """Let the key go from its cap of ``reason`` (raised, removed, credit bought); ``False`` if stale or revoked."""
        return self._set_cap(key_hash, key_id, reason, f"REMOVE {_CAP_PLACEHOLDERS[reason][0]} SET", at, {})

    def _set_cap(
        self, key_hash: str, key_id: str, reason: CapReason, change: str, at: datetime, values: Mapping[str, str]
    ) -> bool:
        """Apply a cap decision iff it is newer than the last one of its reason and the key is not revoked.

        ``plan``, ``updated_at`` and ``status`` are created if missing, never changed,
        as for a suspension: a cap that overtakes its KeyIssued leaves a record the
        KeyIssued then completes.
        """
        clock = _CAP_PLACEHOLDERS[reason][1]
        assignments = (
            "#id = if_not_exists(#id, :id), #plan = if_not_exists(#plan, :none),"
            f" #at = if_not_exists(#at, :none), #status = if_not_exists(#status, :active), {clock} = :at"
        )
        expression = f"{change} {assignments}" if change.endswith("SET") else f"{change}, {assignments}"
        return self._update(
            key_hash,
            expression,
            f"attribute_not_exists(#hash) OR (#status <> :revoked AND (attribute_not_exists({clock}) OR {clock} < :at))",
            {
                ":id": key_id,
                ":none": "",
                ":active": "active",
                ":revoked": "revoked",
                ":at": stored_time(at),
                **values,
            },
        )

    def suspend(self, key_hash: str, key_id: str, at: datetime) -> bool:
        """Stop the key working until a newer :meth:`restore`; ``False`` if stale or revoked.

        Works on a hash the table has never seen, as :meth:`revoke` does: a
        KeySuspended that overtakes its KeyIssued leaves a suspended record with an
        empty plan, which the KeyIssued then fills in (keeping it suspended) instead
        of the suspension being lost.
        """
        return self._set_suspension(key_hash, key_id, "suspended", at)

    def restore(self, key_hash: str, key_id: str, at: datetime) -> bool:
        """Make a suspended key work again, on its plan; ``False`` if stale or revoked.

        On a key that is already active this still records ``at``, so that an older
        KeySuspended delivered after it is recognised as stale. On a hash never seen
        it leaves an active record with an empty plan for the same reason: the
        record only becomes usable once its KeyIssued fills in the plan.
        """
        return self._set_suspension(key_hash, key_id, "active", at)

    def _set_suspension(self, key_hash: str, key_id: str, status: KeyStatus, at: datetime) -> bool:
        """Apply a suspension decision iff it is newer than the last one and the key is not revoked.

        ``plan`` and ``updated_at`` are created empty if missing, never changed:
        they belong to the plan events, and an empty ``updated_at`` sorts before
        every event time, so any plan event still applies.
        """
        return self._update(
            key_hash,
            "SET #id = if_not_exists(#id, :id), #plan = if_not_exists(#plan, :none),"
            " #at = if_not_exists(#at, :none), #status = :status, #suspension = :at",
            "attribute_not_exists(#hash) OR (#status <> :revoked"
            " AND (attribute_not_exists(#suspension) OR #suspension < :at))",
            {
                ":id": key_id,
                ":none": "",
                ":status": status,
                ":revoked": "revoked",
                ":at": stored_time(at),
            },
        )

    def set_usage_key_id(self, key_hash: str, usage_key_id: str | None) -> None:
        """Record (or, with ``None``, forget) the API Gateway API key of an existing record."""
        if usage_key_id is None:
            expression, values = "REMOVE #usage", None
        else:
            expression, values = "SET #usage = :usage", {":usage": usage_key_id}
        if not self._update(key_hash, expression, "attribute_exists(#hash)", values):
            raise LookupError(f"key table has no record for key hash {key_hash}")

    def _update(
        self,
        key_hash: str,
        expression: str,
        condition: str,
        values: Mapping[str, str | int] | None,
    ) -> bool:
        """One conditional UpdateItem; whether the condition held."""
        # DynamoDB rejects placeholders the expressions do not use.
        names = {name: _NAMES[name] for name in _NAMES if name in expression or name in condition}
        arguments: dict[str, Any] = {
            "Key": {"key_hash": key_hash},
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            arguments["ExpressionAttributeValues"] = dict(values)
        try:
            self.table.update_item(**arguments)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True


#: Per cap reason, the placeholders of its end and its clock in :data:`_NAMES`.
_CAP_PLACEHOLDERS: Mapping[CapReason, tuple[str, str]] = {
    "spend": ("#capped", "#captime"),
    "credit": ("#creditcapped", "#credittime"),
    "quota": ("#quotacapped", "#quotatime"),
}


@functools.cache
def key_table_from_env() -> KeyTable:
    """The table named by ``KEY_TABLE_NAME``.

    Created on first use rather than at import, so importing a handler costs no boto3
    setup (tests can set the environment first), and kept for the container's life.
    """
    return KeyTable(boto3.resource("dynamodb").Table(os.environ["KEY_TABLE_NAME"]))
