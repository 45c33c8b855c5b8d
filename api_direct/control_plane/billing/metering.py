"""Usage records in, per-subscription hourly counters out: each record counted exactly once.

A record (``UsageRecorded``, from a creator's usage forwarder) says how many calls
one key made on one plan in one UTC hour, and how many units they count (each call
its route's weight; a record without ``units_by_status``, from an older forwarder,
counts a unit per call). Plans price, include and limit units. The records of a batch that land on the
same counter ``pk=METER#<api>#<consumer>``, ``sk=HOUR#<hour>#<plan>`` with the
same key are applied by one DynamoDB transaction (up to :data:`MARKERS_PER_TRANSACTION`
of them):

1. per record, a marker ``pk=USAGE#<record_id>`` that may not exist yet,
2. one ``ADD`` of their calls, units, billable units (``billable``) and errors (calls
   answered ``4xx`` or ``5xx``) to the counter, on condition that the hour is still open,
   with what the cost model reads (:data:`MEASURED`, and ``records``: how many were applied), and
3. one ``ADD`` of their calls and units to the key's day, ``sk=KEYDAY#<YYYY-MM-DD>#<key_id>``
   in the same partition: what a consumer's export splits per key. Being in the
   same transaction, a key's days add up to exactly what the hours bill; and
4. on a prepaid plan, the debit of their billable units from the subscription's credit
   (:func:`~.credits.debit_op`): debited exactly when counted, never twice.

Every counter is also listed per API in ``gsi2`` (``gsi2pk=USAGE#<api>``,
``gsi2sk=<hour>#<consumer>#<plan>``), so a creator's dashboard reads a range of
days of one API with one query; ``gsi1`` lists only the hours still to close or
report, which is the scheduled run's business.

All happen or none does, so a redelivered, duplicated or retried record (same id:
the forwarder derives it from the log lines it counts) is refused by its marker,
and a crash between any two steps leaves nothing half-counted. The transaction's
cancellation reasons say which markers exist already (those records are
duplicates: the rest are tried again without them) and whether the hour has
closed. A late record is kept as a marker (``outcome=late``) and never billed: a
closed hour has been reported to Stripe and stays as reported. One transaction per
counter rather than per record: a batch of 100 records from ten keys is ten
requests, not a hundred, and each record costs its marker's write, not a marker's
and a counter's. Conditional writes rather than Powertools idempotency on purpose:
its record is written apart from the counter, and a crash between the two would
count a redelivery twice.

Calls nobody is billed for (a record with key id ``""``: the authorizer's rejections,
MCP's requests; and a late record's, its hour already reported) still cost the creator
AWS's money: each such record is counted once too, by a marker and an ``ADD`` of its calls and :data:`MEASURED` to the API's hour,
``pk=COSTS#<api>``, ``sk=HOUR#<hour>`` (:func:`unattributed_pk`), in one transaction.
That item has no state and no index entry: never closed, reported or billed, and not
in the dashboards' calls, which count subscriptions' counters. :func:`traffic_of`
reads either kind of counter as the cost model's ``Traffic``.

Who is billed is decided here, not by the sender: the key (by ``key_id``) names the
consumer, and the API must be listed from the very account that sent the event
(EventBridge sets ``account``; a linked account cannot bill calls to another
creator's API). Records that can never be applied raise :class:`PoisonRecord`,
which the handler sends to the dead-letter queue with its reason.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Annotated, Any, Literal

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from api_direct.aws_costs.traffic import Traffic
from api_direct.control_plane.api.store import CONDITION_FAILED, GSI1, PK, SK, Store, api_pk
from api_direct.control_plane.billing import credits
from api_direct.control_plane.billing.key_use import record_use
from api_direct.control_plane.billing.periods import epoch_seconds, parse_hour
from api_direct.project import API_NAME_PATTERN, PLAN_NAME_PATTERN, PricingPlan, StatusClass, billable_calls
from api_direct.contracts import LOG_EVENT_OVERHEAD_BYTES, USAGE_DETAIL_TYPE, USAGE_SOURCE
from api_direct.runtime.route_weights import MAX_WEIGHT

OPEN, CLOSED, REPORTED = "open", "closed", "reported"
#: Markers outlive any redelivery (SQS keeps messages 14 days at most) by far.
MARKER_DAYS = 90
#: DynamoDB allows 100 operations in a transaction: this many markers, their counter's and their key's day's
#: updates, and a prepaid plan's debit.
MARKERS_PER_TRANSACTION = 97
#: Calls a counter's ``errors`` counts, whatever the plan bills: what a dashboard shows as failing.
ERROR_STATUSES: tuple[StatusClass, ...] = ("4xx", "5xx")
#: Counters' sort keys begin with this and the hour, so a prefix of the hour (a month) selects a period.
HOUR_PREFIX = "HOUR#"
#: A key's calls per UTC day sort under this and the day, so a range of days is one ``BETWEEN``.
KEY_DAY_PREFIX = "KEYDAY#"
#: What a record measures for the cost model beside its calls (``runtime/usage_records.py``), with the most one
#: call can add to each: API Gateway's 10 MB response, Lambda's 15 minutes, a 256 KiB log event, one invocation.
MEASURED: Mapping[str, int] = MappingProxyType(
    {
        "response_bytes": 10 * 1024 * 1024,
        "integration_ms": 900_000,
        "authorizer_invocations": 1,
        "authorizer_ms": 900_000,
        "log_bytes": 256 * 1024 + LOG_EVENT_OVERHEAD_BYTES,
        "active_seconds": 1,
    }
)


class PoisonRecord(ValueError):
    """A record that no retry can apply; the message (one line, no secrets) is why."""


class KeyNotFound(LookupError):
    """The record's key is not in the index yet (it is eventually consistent): retry later."""


class UsageDetail(BaseModel):
    """The forwarder's ``UsageRecord`` (``runtime/usage_forwarder.py``), validated at the edge."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    record_id: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    api: Annotated[str, Field(pattern=API_NAME_PATTERN)]
    key_id: Annotated[str, Field(max_length=64)]
    plan: Annotated[str, Field(pattern=PLAN_NAME_PATTERN)] | Literal[""]
    period_start: str
    calls: Annotated[int, Field(ge=1, le=10**9)]
    status_counts: dict[StatusClass, Annotated[int, Field(ge=0, le=10**9)]]
    #: Per status class, the sum of the calls' route weights; absent from an older forwarder's records.
    units_by_status: dict[StatusClass, Annotated[int, Field(ge=0, le=10**9 * MAX_WEIGHT)]] | None = None
    #: The cost model's measures (:data:`MEASURED`); 0 in an older forwarder's records, which did not measure them.
    response_bytes: Annotated[int, Field(ge=0)] = 0
    integration_ms: Annotated[int, Field(ge=0)] = 0
    authorizer_invocations: Annotated[int, Field(ge=0)] = 0
    authorizer_ms: Annotated[int, Field(ge=0)] = 0
    log_bytes: Annotated[int, Field(ge=0)] = 0
    active_seconds: Annotated[int, Field(ge=0, le=3600)] = 0

    @model_validator(mode="after")
    def _consistent(self) -> "UsageDetail":
        try:
            parse_hour(self.period_start)
        except ValueError:
            raise ValueError(f"period_start {self.period_start!r} is not an hour like 2026-11-25T13:00:00Z") from None
        if sum(self.status_counts.values()) > self.calls:
            raise ValueError("status_counts add up to more than calls")
        for status, units in (self.units_by_status or {}).items():
            if units > self.status_counts.get(status, 0) * MAX_WEIGHT:
                raise ValueError(f"units_by_status[{status}] is more than {MAX_WEIGHT} units a call")
        for name, per_call in MEASURED.items():
            if getattr(self, name) > self.calls * per_call:
                raise ValueError(f"{name} is more than {per_call} a call")
        return self

    @property
    def units_of_status(self) -> Mapping[StatusClass, int]:
        """Units per status class: a unit per call when the record does not say."""
        return self.status_counts if self.units_by_status is None else self.units_by_status

    @property
    def units(self) -> int:
        return sum(self.units_of_status.values())

    @property
    def errors(self) -> int:
        """Calls answered with an :data:`ERROR_STATUSES` class, counted whether or not the plan bills them."""
        return sum(self.status_counts.get(status, 0) for status in ERROR_STATUSES)


class UsageEvent(BaseModel):
    """The EventBridge envelope as SQS delivers it: the sender's account and the detail."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    source: Literal["api-direct.usage"]
    detail_type: Annotated[Literal["UsageRecorded"], Field(alias="detail-type")]
    account: Annotated[str, Field(pattern=r"^\d{12}$")]
    detail: UsageDetail

    @classmethod
    def parse(cls, body: str) -> "UsageEvent":
        """The event in an SQS message body; :class:`PoisonRecord` naming the first problem otherwise."""
        try:
            return cls.model_validate_json(body)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise PoisonRecord(f"not a {USAGE_SOURCE} {USAGE_DETAIL_TYPE} event: {where}: {first['msg']}") from None


@dataclass(frozen=True)
class Attribution:
    """Whose calls these are, and how many of their units are billable on their plan."""

    api_id: str
    consumer: str
    plan: str
    billable: int
    #: The plan is prepaid: the billable units are debited from the subscription's credit as they are counted.
    prepaid: bool = False


#: ``anonymous``: a record of calls nobody is billed for, counted for their cost only.
Outcome = Literal["applied", "duplicate", "late", "anonymous"]


@dataclass(frozen=True)
class CounterGroup:
    """Records of one batch that add to the same counter; ``indexes`` are their places in the batch."""

    indexes: tuple[int, ...]
    records: tuple[tuple[UsageEvent, Attribution], ...]


def counter_key(api_id: str, consumer: str, hour: str, plan: str) -> dict[str, str]:
    return {PK: meter_pk(api_id, consumer), SK: f"{HOUR_PREFIX}{hour}#{plan}"}


def key_day_key(api_id: str, consumer: str, day: str, key_id: str) -> dict[str, str]:
    """The key's calls on one UTC day (``YYYY-MM-DD``), beside the subscription's hourly counters."""
    return {PK: meter_pk(api_id, consumer), SK: f"{KEY_DAY_PREFIX}{day}#{key_id}"}


def meter_pk(api_id: str, consumer: str) -> str:
    return f"METER#{api_id}#{consumer}"


def unattributed_pk(api_id: str) -> str:
    """The API's calls nobody is billed for, per hour (``sk=HOUR#<hour>``): what they cost, apart from any
    subscription's counters."""
    return f"COSTS#{api_id}"


def traffic_of(item: Mapping[str, Any]) -> Traffic:
    """A counter's (a subscription's hour, or an API's unattributed hour) totals as the cost model reads them;
    an attribute it lacks, written before it was counted, is 0."""
    return Traffic(**{name: int(item.get(name, 0)) for name in Traffic.model_fields})


def hours_index_pk(state: str) -> str:
    """Open and closed hours are listed under these in ``gsi1``; reported ones leave the index."""
    return f"HOURS#{state}"


def usage_index_pk(api_id: str) -> str:
    """Every counter of an API, any consumer and plan, is listed under this in ``gsi2``, sorted by hour."""
    return f"USAGE#{api_id}"


def key_id_index_pk(key_id: str) -> str:
    """Keys are found by id (what usage records carry) under this in ``gsi1``."""
    return f"KEYID#{key_id}"


@dataclass(frozen=True)
class KeyOwner:
    """Whose key it is: fixed when the key is issued, so it may be remembered for as long as a process lives."""

    consumer: str
    api_id: str


class KeyOwners:
    """Key id -> :class:`KeyOwner`, bounded, for the life of a process (a warm aggregator serves many batches).

    Finding a key by id is an index query; remembering its owner makes the next
    batch's records of the same key cost none. Only the owner is kept: a key's
    plan can change, so a record that does not name its plan still asks.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._owners: dict[str, KeyOwner] = {}

    def get(self, key_id: str) -> KeyOwner | None:
        return self._owners.get(key_id)

    def remember(self, key_id: str, owner: KeyOwner) -> None:
        if len(self._owners) >= self._capacity:
            del self._owners[next(iter(self._owners))]  # the oldest: insertion order
        self._owners[key_id] = owner


class Meter:
    """Applies usage records to the table; one instance per batch (it caches listings, keys and plans).

    ``owners`` outlives the batch when the caller keeps one (the Lambda handler does).
    """

    def __init__(self, store: Store, owners: KeyOwners | None = None) -> None:
        self._store = store
        self._owners = owners or KeyOwners()
        self._listings: dict[str, Mapping[str, Any] | None] = {}
        self._keys: dict[str, Mapping[str, Any]] = {}
        self._plans: dict[tuple[str, str], Mapping[str, Any] | None] = {}

    def apply(self, event: UsageEvent, now: datetime) -> Outcome:
        """Count one record once, or say why it was not counted (raises for poison and not-yet-known keys)."""
        if not event.detail.key_id:
            return self.apply_unattributed(event, now)
        [group] = self.groups([(event, self.attribute(event))])
        return self.apply_group(group, now)[0]

    def groups(self, records: Sequence[tuple[UsageEvent, Attribution]]) -> Iterator[CounterGroup]:
        """The records by the counter and key they add to, in groups one transaction can apply; indexes into
        ``records``."""
        by_counter: dict[tuple[str, str, str], list[int]] = {}
        for index, (event, who) in enumerate(records):
            key = counter_key(who.api_id, who.consumer, event.detail.period_start, who.plan)
            by_counter.setdefault((key[PK], key[SK], event.detail.key_id), []).append(index)
        for indexes in by_counter.values():
            for start in range(0, len(indexes), MARKERS_PER_TRANSACTION):
                chunk = indexes[start : start + MARKERS_PER_TRANSACTION]
                yield CounterGroup(tuple(chunk), tuple(records[i] for i in chunk))

    def apply_group(self, group: CounterGroup, now: datetime) -> list[Outcome]:
        """Count each record of the group once: one outcome per record, in the group's order.

        A record id seen earlier in the group is a duplicate without asking the
        table (a transaction may not write one item twice). Each failed try drops
        the records whose markers exist; it ends when the rest commit, or when the
        hour has closed and the rest are kept as late.
        """
        outcomes: dict[int, Outcome] = {}
        pending: dict[str, int] = {}
        for position, (event, _) in enumerate(group.records):
            if event.detail.record_id in pending:
                outcomes[position] = "duplicate"
            else:
                pending[event.detail.record_id] = position
        while pending:
            positions = list(pending.values())
            markers = [self._marker(*group.records[p], now) for p in positions]
            reasons = self._store.transact_conditionally(
                [
                    *({"Put": {"Item": m, "ConditionExpression": "attribute_not_exists(pk)"}} for m in markers),
                    self._counter_update([group.records[p] for p in positions]),
                    self._key_day_update([group.records[p] for p in positions]),
                    *self._debit([group.records[p] for p in positions]),
                ],
                answered=range(len(markers) + 1),
            )
            if not reasons:
                for position in positions:
                    outcomes[position] = "applied"
                break
            for position, reason in zip(positions, reasons, strict=False):
                if reason == CONDITION_FAILED:
                    outcomes[position] = "duplicate"
                    del pending[group.records[position][0].detail.record_id]
            if reasons[len(markers)] == CONDITION_FAILED:  # the counter's: its hour has closed
                for position, marker in zip(positions, markers, strict=True):
                    if position not in outcomes:
                        self._keep_late(group.records[position][0], marker)
                        outcomes[position] = "late"
                break
        # Counted or kept as late, the key was used in that hour; duplicates say nothing new.
        details = [group.records[position][0].detail for position in pending.values()]
        for key_id, hour in {(detail.key_id, detail.period_start) for detail in details}:
            record_use(self._store, key_id, hour)
        return [outcomes[position] for position in range(len(group.records))]

    @staticmethod
    def _marker(event: UsageEvent, who: Attribution, now: datetime) -> dict[str, Any]:
        counter = counter_key(who.api_id, who.consumer, event.detail.period_start, who.plan)
        return {
            **_marker_item(event, counter, now),
            "outcome": "applied",
            "units": event.detail.units,
            "billable": who.billable,
        }

    def apply_unattributed(self, event: UsageEvent, now: datetime) -> Outcome:
        """Count a record of calls nobody is billed for once, for its cost: ``anonymous``, or ``duplicate``.

        Its sender is checked as a billed record's is (:meth:`attribute`): an API's costs
        are its creator's figures.
        """
        self._check_sender(event)
        hour = {PK: unattributed_pk(event.detail.api), SK: f"{HOUR_PREFIX}{event.detail.period_start}"}
        counted = self._count_for_cost(event, {**_marker_item(event, hour, now), "outcome": "anonymous"})
        return "anonymous" if counted else "duplicate"

    def _count_for_cost(self, event: UsageEvent, marker: Mapping[str, Any]) -> bool:
        """Add the record's calls to its API's unbilled costs (``COSTS#<api>``) with its ``marker``, once: whether
        this was the first time."""
        detail = event.detail
        hour = {PK: unattributed_pk(detail.api), SK: f"{HOUR_PREFIX}{detail.period_start}"}
        reasons = self._store.transact_conditionally(
            [
                {"Put": {"Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}},
                {
                    "Update": {
                        "Key": hour,
                        "UpdateExpression": f"ADD calls :calls, {_ADD_MEASURED}, records :records"
                        " SET api_id = :api, period_start = :hour",
                        "ExpressionAttributeValues": {
                            ":calls": detail.calls,
                            **_measured_values([event]),
                            ":api": detail.api,
                            ":hour": detail.period_start,
                        },
                    }
                },
            ],
            answered=range(1),
        )
        return not reasons

    @staticmethod
    def _counter_update(records: Sequence[tuple[UsageEvent, Attribution]]) -> dict[str, Any]:
        """The ``ADD`` of the records' calls (units, billable units, errors) to the counter they share,
        if its hour is still open."""
        event, who = records[0]
        hour = event.detail.period_start
        counter = counter_key(who.api_id, who.consumer, hour, who.plan)
        return {
            "Update": {
                "Key": counter,
                "UpdateExpression": f"ADD calls :calls, units :units, billable :billable, errors :errors, {_ADD_MEASURED},"
                " records :records SET api_id = :api,"
                " consumer = :consumer, #plan = :plan, period_start = :hour, #state = if_not_exists(#state, :open),"
                " gsi1pk = if_not_exists(gsi1pk, :open_hours), gsi1sk = :hours_sk, gsi2pk = :usage, gsi2sk = :usage_sk",
                "ConditionExpression": "attribute_not_exists(pk) OR #state = :open",
                "ExpressionAttributeNames": {"#plan": "plan", "#state": "state"},
                "ExpressionAttributeValues": {
                    ":calls": sum(e.detail.calls for e, _ in records),
                    ":units": sum(e.detail.units for e, _ in records),
                    ":billable": sum(w.billable for _, w in records),
                    ":errors": sum(e.detail.errors for e, _ in records),
                    **_measured_values([event for event, _ in records]),
                    ":api": who.api_id,
                    ":consumer": who.consumer,
                    ":plan": who.plan,
                    ":hour": hour,
                    ":open": OPEN,
                    ":open_hours": hours_index_pk(OPEN),
                    ":hours_sk": f"{hour}#{counter[PK]}#{counter[SK]}",
                    ":usage": usage_index_pk(who.api_id),
                    ":usage_sk": f"{hour}#{who.consumer}#{who.plan}",
                },
            }
        }

    @staticmethod
    def _debit(records: Sequence[tuple[UsageEvent, Attribution]]) -> list[dict[str, Any]]:
        """On a prepaid plan, the debit of the records' billable units from the credit (:mod:`.credits`): in the
        transaction that counts them, so it happens exactly when they are counted."""
        _, who = records[0]
        units = sum(w.billable for _, w in records)
        return [credits.debit_op(who.api_id, who.consumer, units)] if who.prepaid and units else []

    @staticmethod
    def _key_day_update(records: Sequence[tuple[UsageEvent, Attribution]]) -> dict[str, Any]:
        """The ``ADD`` of the records' calls and units to their key's day; unconditional: the counter's condition
        decides for the whole transaction."""
        event, who = records[0]
        day = parse_hour(event.detail.period_start).date().isoformat()
        return {
            "Update": {
                "Key": key_day_key(who.api_id, who.consumer, day, event.detail.key_id),
                "UpdateExpression": "ADD calls :calls, units :units SET api_id = :api, key_id = :key, #day = :day",
                "ExpressionAttributeNames": {"#day": "day"},
                "ExpressionAttributeValues": {
                    ":calls": sum(e.detail.calls for e, _ in records),
                    ":units": sum(e.detail.units for e, _ in records),
                    ":api": who.api_id,
                    ":key": event.detail.key_id,
                    ":day": day,
                },
            }
        }

    def attribute(self, event: UsageEvent) -> Attribution:
        detail = event.detail
        self._check_sender(event)
        owner = self._owners.get(detail.key_id) or self._owner_of(self._key(detail.key_id), detail.key_id)
        if owner.api_id != detail.api:
            raise PoisonRecord(f"usage for {detail.api} names key {detail.key_id}, which belongs to {owner.api_id}")
        billable = billable_calls(detail.units_of_status, self._billable_statuses(detail.api, detail.plan))
        plan = detail.plan or self._key(detail.key_id)["plan"]
        return Attribution(detail.api, owner.consumer, plan, billable, self._is_prepaid(detail.api, plan))

    def _check_sender(self, event: UsageEvent) -> None:
        """:class:`PoisonRecord` unless the record's API is listed, from the account that sent it."""
        api = event.detail.api
        listing = self._listing(api)
        if listing is None:
            raise PoisonRecord(f"usage for {api}, which is not listed")
        if listing["account_id"] != event.account:
            raise PoisonRecord(
                f"usage for {api} sent by account {event.account}, not its account {listing['account_id']}"
            )

    def _owner_of(self, key: Mapping[str, Any], key_id: str) -> KeyOwner:
        owner = KeyOwner(key["consumer"], key["api_id"])
        self._owners.remember(key_id, owner)
        return owner

    def _listing(self, api_id: str) -> Mapping[str, Any] | None:
        if api_id not in self._listings:
            self._listings[api_id] = self._store.get(api_pk(api_id), "LISTING")
        return self._listings[api_id]

    def _key(self, key_id: str) -> Mapping[str, Any]:
        """The key's item as it is now (its plan may have changed): asked once per key and batch."""
        if key_id in self._keys:
            return self._keys[key_id]
        items = self._store.table.query(
            IndexName=GSI1, KeyConditionExpression=Key("gsi1pk").eq(key_id_index_pk(key_id)), Limit=1
        ).get("Items", [])
        if not items:
            raise KeyNotFound(f"key {key_id} is not (yet) known to the control plane")
        self._keys[key_id] = items[0]
        return self._keys[key_id]

    def _plan_item(self, api_id: str, plan: str) -> Mapping[str, Any] | None:
        """The plan's item (asked once per plan and batch); ``None`` for a plan since removed from the listing."""
        if (api_id, plan) not in self._plans:
            self._plans[api_id, plan] = self._store.get(api_pk(api_id), f"PLAN#{plan}") if plan else None
        return self._plans[api_id, plan]

    def _billable_statuses(self, api_id: str, plan: str) -> tuple[StatusClass, ...]:
        """The plan's billable statuses; the default (2xx) for a plan since removed from the listing."""
        item = self._plan_item(api_id, plan)
        if item and "billable_statuses" in item:
            return tuple(item["billable_statuses"])
        default: tuple[StatusClass, ...] = PricingPlan.model_fields["billable_statuses"].default
        return default

    def _is_prepaid(self, api_id: str, plan: str) -> bool:
        """Whether the plan sells credit; a plan since removed is not."""
        item = self._plan_item(api_id, plan)
        return bool(item and item.get("prepaid"))

    def _keep_late(self, event: UsageEvent, marker: Mapping[str, Any]) -> None:
        """Remember the late record (once), so it shows in the table, not only in a log line. Its calls were
        served all the same: they count for the API's cost, never billed (the hour went to Stripe as it was)."""
        self._count_for_cost(event, {**marker, "outcome": "late"})


#: The counters' ``ADD`` of :data:`MEASURED`, each from the value of its name.
_ADD_MEASURED = ", ".join(f"{name} :{name}" for name in MEASURED)


def _measured_values(events: Sequence[UsageEvent]) -> dict[str, int]:
    """The values of :data:`_ADD_MEASURED`, summed over ``events``, and ``:records``: how many they are."""
    return {
        **{f":{name}": sum(getattr(event.detail, name) for event in events) for name in MEASURED},
        ":records": len(events),
    }


def _marker_item(event: UsageEvent, counter: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """The record's marker (``pk=USAGE#<record_id>``): it exists once the record is counted in ``counter``."""
    return {
        PK: f"USAGE#{event.detail.record_id}",
        SK: "RECORD",
        "account": event.account,
        "counter_pk": counter[PK],
        "counter_sk": counter[SK],
        "calls": event.detail.calls,
        "received_at": now.isoformat(),
        "expires_at": epoch_seconds(now + timedelta(days=MARKER_DAYS)),
    }
