"""EventBridge target that applies the control plane's key events in the creator's account.

The key table is the desired state; API Gateway (one API key per subscription, in
the usage plan of its plan, shared by all of the subscription's keys) is made to
follow it. Each invocation does two things:

1. apply the event to the table with one conditional write
   (:class:`~api_direct.runtime.key_store.KeyTable` refuses stale events and never
   revives a revoked key), then
2. reconcile API Gateway with the record as it now stands, looking every resource
   up before creating or deleting it.

EventBridge may deliver an event twice, late, or out of order, and the function may
die between any two calls. Step 1 makes a repeated or stale event a no-op; step 2
always converges from whatever a crashed run left behind, so a rerun finishes the
job. The construct should give this function a reserved concurrency of 1: two
invocations reconciling the same key at once could interleave.
"""

import functools
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_direct.contracts import (
    CAP_REASONS,
    CONTROL_PLANE_SOURCE,
    KEY_CAP_BUY_URL,
    KEY_CAP_REASON,
    KEY_CAPPED_UNTIL,
    KEY_ENDS_USAGE,
    KEY_EXPIRES_AT,
    KEY_USAGE_ID,
    CapReason,
)
from api_direct.runtime.api_keys import KEY_PREFIX, contains_key, is_key_hash, is_usage_id
from api_direct.runtime.key_check import KeyRecord
from api_direct.runtime.key_store import KeyTable, key_table_from_env

if TYPE_CHECKING:  # the stubs are a dev dependency; the Lambda bundle has boto3 alone
    from mypy_boto3_apigateway.client import APIGatewayClient

logger = Logger(service="apid-key-sync")


class InvalidKeyEvent(ValueError):
    """A control-plane event that must not be applied; its message never quotes a key."""


class UnknownPlan(ValueError):
    """A plan this API has no usage plan for."""


@dataclass(frozen=True)
class KeyEvent(ABC):
    """What every key event carries: which key, and when the control plane decided."""

    key_id: str
    key_hash: str
    at: datetime

    @abstractmethod
    def apply_to(self, table: KeyTable) -> bool:
        """Write the event to the table; whether it changed anything."""


@dataclass(frozen=True)
class _PlanEvent(KeyEvent):
    plan: str
    usage_id: str | None = None

    def apply_to(self, table: KeyTable) -> bool:
        return table.record_plan(self.key_hash, self.key_id, self.plan, self.at, self.usage_id)


@dataclass(frozen=True)
class KeyIssued(_PlanEvent):
    """A consumer got a key on ``plan``."""


@dataclass(frozen=True)
class PlanChanged(_PlanEvent):
    """A consumer's key moved to ``plan``.

    Applied exactly like :class:`KeyIssued`: both say "this key is active on this
    plan as of this time", which is also why either may arrive first.
    """


@dataclass(frozen=True)
class KeyRevoked(KeyEvent):
    """A consumer's key stopped working, for good; or, with ``expires_at``, stops at that time.

    ``expires_at`` is a rotation's grace period: the old key keeps working until
    then. It is optional, so events without it mean what they always did, and a
    key sync that predates it revokes at once (it ignores the field), failing closed.
    """

    expires_at: datetime | None = None
    usage_id: str | None = None
    #: The subscription ends with this key: its shared API Gateway key is deleted too.
    ends_usage: bool = False

    def apply_to(self, table: KeyTable) -> bool:
        if self.expires_at is not None and self.expires_at > self.at:
            return table.expire(self.key_hash, self.key_id, self.expires_at, self.at)
        return table.revoke(self.key_hash, self.key_id, self.at)


@dataclass(frozen=True)
class KeySuspended(KeyEvent):
    """A consumer's payment failed: the key stops working, but may come back."""

    def apply_to(self, table: KeyTable) -> bool:
        return table.suspend(self.key_hash, self.key_id, self.at)


@dataclass(frozen=True)
class KeyRestored(KeyEvent):
    """A suspended consumer paid: the key works again, on the plan it had."""

    def apply_to(self, table: KeyTable) -> bool:
        return table.restore(self.key_hash, self.key_id, self.at)


@dataclass(frozen=True)
class KeyCapped(KeyEvent):
    """A cap holds the subscription's keys until ``capped_until``: its calls are answered without the app.

    ``reason`` says which (:data:`~api_direct.contracts.CAP_REASONS`): a hard spend
    cap (402 until the month's end), used-up prepaid credit (402 until credit is
    bought: no ``capped_until`` needed), a used-up weighted quota (429 until the
    month's end). ``api`` and ``buy_url`` are what a credit cap's 402 quotes.
    """

    capped_until: datetime | None = None
    reason: CapReason = "spend"
    api: str | None = None
    buy_url: str | None = None

    def apply_to(self, table: KeyTable) -> bool:
        return table.cap(self.key_hash, self.key_id, self.capped_until, self.at, self.reason, self.api, self.buy_url)


@dataclass(frozen=True)
class KeyUncapped(KeyEvent):
    """The cap of ``reason`` lifts before its end: a spend cap raised or removed, prepaid credit bought."""

    reason: CapReason = "spend"

    def apply_to(self, table: KeyTable) -> bool:
        return table.uncap(self.key_hash, self.key_id, self.at, self.reason)


# Each event's detail-type is its class name; contracts.KEY_EVENT_TYPES lists the same names (a test holds them).
_EVENTS: Mapping[str, type[KeyEvent]] = MappingProxyType(
    {
        kind.__name__: kind
        for kind in (KeyCapped, KeyIssued, KeyRestored, KeyRevoked, KeySuspended, KeyUncapped, PlanChanged)
    }
)


@dataclass(frozen=True)
class UsagePlans:
    """The API Gateway side: the client, and plan name -> usage plan id of this API."""

    client: "APIGatewayClient"
    ids: Mapping[str, str]

    def id_of(self, plan: str) -> str:
        if plan not in self.ids:
            known = ", ".join(sorted(self.ids)) or "(none)"
            raise UnknownPlan(f"plan {plan!r} has no usage plan in this API; known plans: {known}")
        return self.ids[plan]


def parse_event(event: Mapping[str, Any], plans: UsagePlans) -> KeyEvent | None:
    """The key event an EventBridge event carries, validated; ``None`` if not ours.

    Raises :class:`InvalidKeyEvent` for a detail that lacks a field, has a key hash
    that is not 64 hex, or contains anything shaped like a plaintext key (which
    must never reach this account), and :class:`UnknownPlan` for a plan without a
    usage plan. Nothing is written before this has passed.
    """
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str):
        return None
    kind = _EVENTS.get(detail_type)
    if kind is None or event.get("source") != CONTROL_PLANE_SOURCE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidKeyEvent(f"{detail_type} event has no detail object")
    if contains_key(json.dumps(detail)):
        raise InvalidKeyEvent(
            f"{detail_type} detail contains a plaintext API key ({KEY_PREFIX}...); "
            "the control plane must send only its key_hash. Nothing was stored."
        )
    required = [field.name for field in fields(kind) if field.name not in _TIMES and field.default is MISSING]
    values: dict[str, Any] = {name: _text_field(detail_type, detail, name) for name in required}
    if kind in (KeyCapped, KeyUncapped):
        values.update(_cap_fields(kind, detail_type, detail))
    if not is_key_hash(values["key_hash"]):
        raise InvalidKeyEvent(f"{detail_type} key_hash is not a lowercase hex SHA-256")
    if "plan" in values:
        plans.id_of(values["plan"])
    if detail.get(KEY_EXPIRES_AT) is not None and kind is KeyRevoked:
        values["expires_at"] = _zoned_time(detail_type, KEY_EXPIRES_AT, detail[KEY_EXPIRES_AT])
    if detail.get(KEY_USAGE_ID) is not None and kind in (KeyIssued, PlanChanged, KeyRevoked):
        if not isinstance(detail[KEY_USAGE_ID], str) or not is_usage_id(detail[KEY_USAGE_ID]):
            raise InvalidKeyEvent(f"{detail_type} {KEY_USAGE_ID} is not a usage identifier")
        values["usage_id"] = detail[KEY_USAGE_ID]
    if kind is KeyRevoked:
        values["ends_usage"] = detail.get(KEY_ENDS_USAGE) is True
    return kind(at=_event_time(detail_type, event), **values)


#: Fields that are times, not text: the event's own, and a cap's end.
_TIMES = frozenset({"at", KEY_CAPPED_UNTIL})


def _cap_fields(kind: type[KeyEvent], detail_type: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    """A cap event's reason (``spend`` when absent), and a KeyCapped's end, API and where credit is bought.

    Every reason but ``credit`` needs a zoned end: a spend or quota cap that never
    ended would hold the key past the month it belongs to.
    """
    reason = detail.get(KEY_CAP_REASON, "spend")
    if reason not in CAP_REASONS:
        raise InvalidKeyEvent(f"{detail_type} {KEY_CAP_REASON} must be one of {', '.join(CAP_REASONS)}")
    values: dict[str, Any] = {"reason": reason}
    if kind is not KeyCapped:
        return values
    if reason != "credit" or detail.get(KEY_CAPPED_UNTIL) is not None:
        values[KEY_CAPPED_UNTIL] = _zoned_time(
            detail_type, KEY_CAPPED_UNTIL, _text_field(detail_type, detail, KEY_CAPPED_UNTIL)
        )
    for name in ("api", KEY_CAP_BUY_URL):
        if detail.get(name) is not None:
            values[name] = _text_field(detail_type, detail, name)
    if KEY_CAP_BUY_URL in values and not values[KEY_CAP_BUY_URL].startswith(("https://", "http://")):
        raise InvalidKeyEvent(f"{detail_type} {KEY_CAP_BUY_URL} is not an http(s) URL")
    return values


def _text_field(detail_type: str, detail: Mapping[str, Any], name: str) -> str:
    value = detail.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidKeyEvent(f"{detail_type} detail needs a non-empty string {name!r}")
    return value


def _event_time(detail_type: str, event: Mapping[str, Any]) -> datetime:
    """When the control plane issued the event; this orders events for the same key.

    The detail's ``issued_at`` (microseconds, stamped by the control plane) wins
    over EventBridge's ``time``, which has whole seconds only: a plan change in the
    same second as the subscription would otherwise look stale and be dropped.
    """
    detail = event.get("detail")
    stamp = detail.get("issued_at") if isinstance(detail, dict) and "issued_at" in detail else event.get("time")
    if stamp is None:
        raise InvalidKeyEvent(f"{detail_type} event has no ISO-8601 'issued_at' or 'time'")
    return _zoned_time(detail_type, "issued_at' or 'time", stamp)


def _zoned_time(detail_type: str, name: str, stamp: Any) -> datetime:
    try:
        at = datetime.fromisoformat(str(stamp))
    except ValueError:
        raise InvalidKeyEvent(f"{detail_type} event has no ISO-8601 '{name}'") from None
    if at.tzinfo is None:
        raise InvalidKeyEvent(f"{detail_type} event time {stamp!r} has no time zone")
    return at


def apply(event: KeyEvent, table: KeyTable, plans: UsagePlans) -> None:
    """Apply a validated event to the table, then bring API Gateway in line with it."""
    changed = event.apply_to(table)
    logger.info("key event", kind=type(event).__name__, key_id=event.key_id, changed_table=changed)
    record = table.get(event.key_hash, consistent=True)
    if record is None:
        raise LookupError(f"key {event.key_id} vanished from the key table")
    ended = event.usage_id if isinstance(event, KeyRevoked) and event.ends_usage else None
    reconcile(record, table, plans, ended_usage_id=ended)


def reconcile(record: KeyRecord, table: KeyTable, plans: UsagePlans, ended_usage_id: str | None = None) -> None:
    """Make API Gateway match the record; safe to run any number of times.

    Active: an enabled API key named and valued with the subscription's ``usage_id``
    (the authorizer's ``usageIdentifierKey``), in exactly the plan's usage plan, and
    no API key of the key's own; unless it has no plan yet (a KeyRestored overtook
    its KeyIssued), when there is nothing to bind until the KeyIssued comes. A key
    without a ``usage_id`` (issued before subscriptions shared one) has its own API
    key instead, named ``key_id`` and valued with the key hash. Revoked: no API key of
    its own; the shared one stays for the subscription's other keys, unless the
    revocation ended the subscription (``ended_usage_id``). Suspended: left alone
    (the authorizer already denies it, and keeping the binding lets it be restored;
    a restore then binds it to whatever plan it has by then).
    """
    client = plans.client
    if record.status == "active" and record.plan:
        name, value = (record.usage_id, record.usage_id) if record.usage_id else (record.key_id, record.key_hash)
        api_key_id = _ensure_api_key(client, name, value)
        _bind_to_usage_plan(plans, api_key_id, record.plan)
        if record.usage_id:
            _delete_api_keys(client, record.key_id)  # counted alone before its subscription shared one
        if record.usage_key_id != api_key_id:
            table.set_usage_key_id(record.key_hash, api_key_id)
    elif record.status == "revoked":
        _delete_api_keys(client, record.key_id)
        if ended_usage_id:
            _delete_api_keys(client, ended_usage_id)
        if record.usage_key_id is not None:
            table.set_usage_key_id(record.key_hash, None)


def _delete_api_keys(client: "APIGatewayClient", name: str) -> None:
    for api_key_id in list(_api_key_ids(client, name)):
        try:
            client.delete_api_key(apiKey=api_key_id)
        except client.exceptions.NotFoundException:
            pass


def _api_key_ids(client: "APIGatewayClient", name: str) -> Iterator[str]:
    """Ids of the API keys named exactly ``name`` (``nameQuery`` also matches prefixes)."""
    for page in client.get_paginator("get_api_keys").paginate(nameQuery=name):
        for api_key in page.get("items", []):
            if api_key.get("name") == name:
                yield api_key["id"]


def _ensure_api_key(client: "APIGatewayClient", name: str, value: str) -> str:
    """The id of the API key named ``name``, created with ``value`` if a previous run did not get to it."""
    existing = next(_api_key_ids(client, name), None)
    if existing is not None:
        return existing
    try:
        return client.create_api_key(name=name, value=value, enabled=True)["id"]
    except client.exceptions.ConflictException:
        # Another delivery created it between our lookup and our create.
        existing = next(_api_key_ids(client, name), None)
        if existing is None:
            raise
        return existing


def _bind_to_usage_plan(plans: UsagePlans, api_key_id: str, plan: str) -> None:
    """Leave the API key in the plan's usage plan and in no other usage plan of this API.

    Removal comes first: API Gateway refuses a key in two usage plans of one stage.
    Membership is read per configured plan rather than by listing usage plans, so
    the function needs no access to the account's other usage plans.
    """
    target = plans.id_of(plan)
    client = plans.client
    for usage_plan_id in sorted(set(plans.ids.values()) - {target}):
        if _in_usage_plan(client, usage_plan_id, api_key_id):
            try:
                client.delete_usage_plan_key(usagePlanId=usage_plan_id, keyId=api_key_id)
            except client.exceptions.NotFoundException:
                pass
    if not _in_usage_plan(client, target, api_key_id):
        try:
            client.create_usage_plan_key(usagePlanId=target, keyId=api_key_id, keyType="API_KEY")
        except client.exceptions.ConflictException:
            pass


def _in_usage_plan(client: "APIGatewayClient", usage_plan_id: str, api_key_id: str) -> bool:
    try:
        client.get_usage_plan_key(usagePlanId=usage_plan_id, keyId=api_key_id)
    except client.exceptions.NotFoundException:
        return False
    return True


@functools.cache
def usage_plans_from_env() -> UsagePlans:
    """The API Gateway client and ``USAGE_PLANS`` (JSON: plan name -> usage plan id)."""
    ids = json.loads(os.environ["USAGE_PLANS"])
    if not isinstance(ids, dict) or not all(
        isinstance(name, str) and isinstance(plan_id, str) for name, plan_id in ids.items()
    ):
        raise ValueError("USAGE_PLANS must be a JSON object of plan name -> usage plan id")
    return UsagePlans(boto3.client("apigateway"), ids)


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    """Lambda entry point for one control-plane event."""
    plans = usage_plans_from_env()
    key_event = parse_event(event, plans)
    if key_event is None:
        logger.info("ignored event", detail_type=event.get("detail-type"), source=event.get("source"))
        return
    apply(key_event, key_table_from_env(), plans)
