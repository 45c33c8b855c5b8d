"""The authorizer's decision on a key, without AWS in it: allow an active key, reject any other.

The deployed authorizer (:mod:`.authorizer`) answers API Gateway from :func:`decide`
with a lookup in the key table; ``apid dev`` calls the same :func:`decide` with a
lookup that knows one local key, in the creator's own interpreter, where neither
boto3 nor Powertools need be installed. Standard library only.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from types import MappingProxyType
from typing import Any, Literal, cast

from api_direct.contracts import CAP_REASONS, CapReason
from api_direct.runtime.api_keys import hash_key, is_well_formed
from api_direct.runtime.gateway_responses import INVALID_KEY, MISSING_KEY, SUSPENDED_KEY, GatewayRejection

API_KEY_HEADER = "x-api-key"

KeyStatus = Literal["active", "revoked", "suspended"]

#: Per cap reason, the key table's attributes of its end and of its own clock (the time of the KeyCapped or
#: KeyUncapped of that reason last applied). A spend cap keeps the names it had before there were reasons.
CAP_ATTRIBUTES: Mapping[CapReason, tuple[str, str]] = MappingProxyType(
    {
        "spend": ("capped_until", "cap_at"),
        "credit": ("credit_capped_until", "credit_cap_at"),
        "quota": ("quota_capped_until", "quota_cap_at"),
    }
)
#: The end a credit cap is stored with: it holds until credit is bought (a KeyUncapped), not until a date.
UNTIL_LIFTED = "9999-12-31T23:59:59.999999Z"
#: The statuses a cap is answered with by the app's adapter: API Gateway has no 402 of its own.
CAP_STATUS: Mapping[CapReason, int] = MappingProxyType({"spend": 402, "credit": 402, "quota": 429})


@dataclass(frozen=True)
class KeyRecord:
    """One consumer key as the table holds it."""

    key_hash: str
    key_id: str
    plan: str
    status: KeyStatus
    updated_at: str
    usage_key_id: str | None = None
    suspension_at: str | None = None
    #: When a rotated-out key stops working (UTC, the table's time format); ``None`` for a key without an end.
    expires_at: str | None = None
    #: Until when the subscription's hard spend cap holds the key (UTC, the table's time format); ``None``: not capped.
    capped_until: str | None = None
    #: Until when a used-up prepaid credit holds it (:data:`UNTIL_LIFTED` until credit is bought); ``None``: not.
    credit_capped_until: str | None = None
    #: Until when a used-up weighted monthly quota holds it (the month's end); ``None``: not.
    quota_capped_until: str | None = None
    #: The API the key is for, and where more credit is bought, as the last KeyCapped said (for the 402's message).
    cap_api: str | None = None
    buy_url: str | None = None
    #: The subscription's shared usage identifier (:func:`~api_direct.runtime.api_keys.usage_id_of`); ``None``
    #: for a key issued by a control plane that predates it, which API Gateway then counts on its own.
    usage_id: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "KeyRecord":
        """The record of a DynamoDB item (as the boto3 resource API returns it)."""
        return cls(
            key_hash=item["key_hash"],
            key_id=item["key_id"],
            plan=item["plan"],
            status=cast(KeyStatus, item["status"]),
            updated_at=item["updated_at"],
            usage_key_id=item.get("usage_key_id"),
            suspension_at=item.get("suspension_at"),
            expires_at=item.get("expires_at"),
            usage_id=item.get("usage_id"),
            capped_until=item.get(CAP_ATTRIBUTES["spend"][0]),
            credit_capped_until=item.get(CAP_ATTRIBUTES["credit"][0]),
            quota_capped_until=item.get(CAP_ATTRIBUTES["quota"][0]),
            cap_api=item.get("cap_api"),
            buy_url=item.get("buy_url"),
        )

    def capped(self, now: datetime) -> bool:
        """Whether a cap (of any reason) holds the key now; a dated one lets go by itself at its end."""
        return self.cap(now) is not None

    def cap(self, now: datetime) -> tuple[CapReason, str] | None:
        """The first cap holding the key now (in :data:`CAP_REASONS` order) and its end; ``None`` if none does."""
        ends = {"spend": self.capped_until, "credit": self.credit_capped_until, "quota": self.quota_capped_until}
        for reason in CAP_REASONS:
            until = ends[reason]
            if until is not None and datetime.fromisoformat(until) > now:
                return reason, until
        return None

    def expired(self, now: datetime) -> bool:
        """Whether a rotation's grace period is over: the key is refused from ``expires_at`` on."""
        return self.expires_at is not None and datetime.fromisoformat(self.expires_at) <= now


@dataclass(frozen=True)
class Decision:
    """The outcome for one key.

    ``rejection`` is ``None`` when the key is allowed; otherwise it is the response
    the caller gets. ``reason`` is for logs and safe to log, as is ``key_id``.
    """

    reason: str
    rejection: GatewayRejection | None = None
    key_id: str = ""
    plan: str = ""
    usage_identifier_key: str | None = None
    #: Set when the key is allowed only to be answered by the app's adapter (a cap holds it): what to tell the caller.
    payment_required: str | None = None
    #: Why, and the status the adapter answers with: 402 (spend, credit) or 429 (quota).
    cap_reason: CapReason | None = None
    cap_status: int = 402
    #: A 429's ``Retry-After`` (an HTTP-date: right however long the decision stays cached).
    retry_after: str | None = None

    @property
    def allowed(self) -> bool:
        return self.rejection is None


def decide(api_key: str | None, lookup: Callable[[str], KeyRecord | None], now: datetime | None = None) -> Decision:
    """Allow an active key; reject a missing, malformed, unknown or inactive one.

    ``lookup`` maps a key hash to its record (:meth:`KeyTable.get` in Lambda). It is
    not called for a malformed key, so garbage costs no read.

    A suspended key gets its own message, since its holder can fix it (by paying);
    a revoked one looks like an unknown one, since nothing can be done about either.
    An active record without a plan (a KeyRestored applied before its KeyIssued) is
    rejected like an unknown key: the key is not issued here yet, and API Gateway
    would refuse its usage identifier anyway (INVALID_API_KEY, the same 403).
    A key past the end of its rotation's grace period (``expires_at``) is refused
    like a revoked one: it was, with a delay. A key a cap holds (a hard spend cap,
    used-up prepaid credit, a used-up weighted quota) is allowed with
    ``payment_required``: API Gateway has no 402 of its own (nor a 429 for a quota
    it does not count), so the app's adapter answers it without running the app.

    An allowed key is counted under its subscription's usage identifier, so all of
    a subscription's keys share the plan's rate and quota instead of each having it.
    """
    if not api_key:
        return Decision(reason="missing", rejection=MISSING_KEY)
    if not is_well_formed(api_key):
        return Decision(reason="malformed", rejection=INVALID_KEY)
    key_hash = hash_key(api_key)
    record = lookup(key_hash)
    if record is None:
        return Decision(reason="unknown", rejection=INVALID_KEY)
    if record.status == "active" and not record.plan:
        return Decision(reason="unissued", rejection=INVALID_KEY, key_id=record.key_id)
    if record.status == "suspended":
        return Decision(reason="suspended", rejection=SUSPENDED_KEY, key_id=record.key_id)
    if record.status != "active":
        return Decision(reason=record.status, rejection=INVALID_KEY, key_id=record.key_id)
    now = now or datetime.now(UTC)
    if record.expired(now):
        return Decision(reason="expired", rejection=INVALID_KEY, key_id=record.key_id)
    allowed = Decision(
        reason="active", key_id=record.key_id, plan=record.plan, usage_identifier_key=record.usage_id or key_hash
    )
    cap = record.cap(now)
    if cap is None:
        return allowed
    cap_reason, until = cap
    return replace(
        allowed,
        reason="capped",
        payment_required=cap_message(cap_reason, until, record),
        cap_reason=cap_reason,
        cap_status=CAP_STATUS[cap_reason],
        retry_after=_http_date(until) if cap_reason == "quota" else None,
    )


def cap_message(reason: CapReason, until: str, record: KeyRecord) -> str:
    """What a capped caller reads: why, and the way out."""
    if reason == "credit":
        api = f" for {record.cap_api}" if record.cap_api else ""
        where = record.buy_url or "the API's page in the marketplace (your dashboard lists your subscriptions)"
        return f"The prepaid credit{api} is used up: calls are refused until you buy more at {where}."
    if reason == "quota":
        return f"The monthly quota of your plan is used up: calls are refused until {_utc_minute(until)}."
    return spend_cap_message(until)


def spend_cap_message(capped_until: str) -> str:
    """What a capped caller reads in the 402: why, and both ways out."""
    return (
        "The hard monthly spend cap of this subscription is reached: calls are refused until the cap is raised or "
        f"removed, or until {_utc_minute(capped_until)}, when the month ends."
    )


def _utc_minute(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _http_date(stamp: str) -> str:
    return format_datetime(datetime.fromisoformat(stamp).astimezone(UTC), usegmt=True)


def api_key_of(headers: Mapping[str, str] | None) -> str | None:
    """The ``x-api-key`` header, whatever case the client (or a proxy) gave its name."""
    for name, value in (headers or {}).items():
        if name.lower() == API_KEY_HEADER:
            return value
    return None
