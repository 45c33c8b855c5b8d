"""An AI agent asks for a plan, its person confirms it, and only then does the agent get a key.

The agent (through the marketplace's MCP endpoint, :mod:`.mcp_marketplace`) is never
signed in and never pays: :func:`ask` records a pending request and gives the agent a
``confirm_url`` for its person, the request's id, and a one-time claim token. The
person, signed in on the marketplace's pages, reviews the plan and its price and
confirms; confirming subscribes them exactly as the API page's Subscribe button does
(a paid plan starts its Stripe subscription then, on their card). The agent then
presents the id and the claim token (:func:`claim`) and gets a new named key on that
subscription, once.

One item per request, ``pk=AGENTREQ#<request_id>``, ``sk=AGENTREQ``, holding the API,
the plan, the claim token's SHA-256 (never the token), its ``status`` and, once
confirmed, the ``consumer``. Each step of ``status`` is a conditional write:

``pending`` → ``confirming`` (the person's subscribe is under way) → ``confirmed`` → ``claimed``

A failed subscribe (a declined card) puts ``confirming`` back to ``pending``, so the
person may try again. ``claimed`` is written in the very transaction that writes the
agent's key (:func:`~.named_keys.issue_named_key`): two fetches racing get one key.
``expires_at`` (epoch seconds) ends the request after :data:`REQUEST_LIFETIME`; the
table's TTL deletes it some time later, so every read checks the time itself.

Abuse: anyone may ask, so asking is bounded per source address
(:data:`MAX_REQUESTS_PER_HOUR`, a counter per address hash and UTC hour, also expired
by TTL). A claim token is 256 random bits: guessing one is hopeless, and a wrong one
is refused exactly like an unknown request.
"""

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError
from fastapi import Response

from api_direct.control_plane.api import named_keys, subscriptions
from api_direct.control_plane.api.accounts import timestamp
from api_direct.control_plane.api.auth import Principal
from api_direct.control_plane.api.plan_choice import choose_plan
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import Services
from api_direct.control_plane.api.store import PK, SK, Store, update_op
from api_direct.control_plane.api.subscriptions import IssuedKey, SubscribeIn
from api_direct.control_plane.billing.periods import epoch_seconds

Status = Literal["pending", "confirming", "confirmed", "claimed"]
PENDING, CONFIRMING, CONFIRMED, CLAIMED = "pending", "confirming", "confirmed", "claimed"
REQUEST_SK = "AGENTREQ"
REQUEST_PREFIX = "AGENTREQ#"
LIMIT_PREFIX = "AGENTLIMIT#"
#: How long a person has to confirm, and the agent to fetch its key.
REQUEST_LIFETIME = timedelta(hours=24)
#: Requests one source address may make in a UTC hour.
MAX_REQUESTS_PER_HOUR = 20
#: ``areq_`` and 96 random bits: unguessable, though it is the claim token that guards the key.
REQUEST_ID_PATTERN = r"areq_[0-9a-f]{24}"
#: What the agent's key is named on the subscription (``agent-`` and the request's first hex digits).
AGENT_KEY_PREFIX = "agent-"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentRequest:
    """A request as the table holds it, less the claim token's hash."""

    request_id: str
    api_id: str
    plan: str
    status: Status
    expires_at: datetime
    consumer: str | None

    @property
    def key_name(self) -> str:
        return f"{AGENT_KEY_PREFIX}{self.request_id.removeprefix('areq_')[:8]}"

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> "AgentRequest":
        return cls(
            request_id=item["request_id"],
            api_id=item["api_id"],
            plan=item["plan"],
            status=item["status"],
            expires_at=datetime.fromtimestamp(int(item["expires_at"]), UTC),
            consumer=item.get("consumer"),
        )


@dataclass(frozen=True)
class Asked:
    request: AgentRequest
    #: The plaintext of the one-time claim token: returned to the agent, never stored.
    claim_token: str


class NotConfirmed(Exception):
    """The person has not confirmed the request yet: the agent asks again later."""


def ask(services: Services, api_id: str, plan: str, source: str) -> Asked:
    """Record a pending request for ``plan`` of ``api_id``; 404/422 for an unknown API or a plan nobody new may
    pick (deprecated, or private: an agent has no invite), 410 while the API retires, 429 past the bound."""
    choose_plan(services.store, api_id, plan)
    now = datetime.now(UTC)
    _count_request(services.store, source, now)
    request_id = f"areq_{secrets.token_hex(12)}"
    claim_token = secrets.token_urlsafe(32)
    item = {
        **request_key(request_id),
        "request_id": request_id,
        "api_id": api_id,
        "plan": plan,
        "status": PENDING,
        "claim_hash": _digest(claim_token),
        "created_at": timestamp(),
        "expires_at": epoch_seconds(now + REQUEST_LIFETIME),
    }
    services.store.put_new(item, conflict="a request of that id exists already; ask again")
    return Asked(AgentRequest.of(item), claim_token)


def open_request(store: Store, request_id: str, consumer: str) -> AgentRequest:
    """The request a person may still confirm: 404 unknown, 410 expired, 409 already confirmed (by anyone)."""
    item = _item(store, request_id)
    if item is None:
        raise Problem(404, "there is no such agent request; ask your agent for a new confirmation link")
    request = AgentRequest.of(item)
    if request.expired(datetime.now(UTC)):
        raise Problem(410, "this agent request has expired; ask your agent to subscribe again for a new link")
    if request.status != PENDING and not (request.status == CONFIRMING and request.consumer == consumer):
        raise Problem(409, "this agent request was already confirmed; your agent can fetch its key")
    return request


def current_plan(store: Store, consumer: str, request: AgentRequest) -> str | None:
    """The plan the consumer already subscribes to on the request's API, if any.

    On the requested plan, confirming adds the agent's key to that subscription; on
    another plan the person must change it first (:func:`confirm` refuses).
    """
    try:
        return str(subscriptions.active_subscription(store, consumer, request.api_id)["plan"])
    except Problem:  # not subscribed (404)
        return None


def confirm(
    services: Services, request_id: str, user: Principal, response: Response, checkout_session: str | None = None
) -> tuple[AgentRequest, IssuedKey | None]:
    """The person's yes: subscribe them (unless they already are, on that plan) and mark the request confirmed.

    Returns the request, and the subscription's first key when this made the
    subscription (the person sees it once, as after subscribing on the API's page);
    ``None`` when they already subscribed. Anything the subscribe refuses (a declined card: 402) leaves the
    request pending; so does a plan with a free trial without ``checkout_session``, the Checkout Session where
    the person saved its card (the 402 names :mod:`.trial_checkout`): an agent never starts a trial without one.
    """
    store = services.store
    request = open_request(store, request_id, user.sub)
    plan = current_plan(store, user.sub, request)
    if plan is not None and plan != request.plan:
        raise Problem(
            409,
            f"you subscribe to {request.api_id} on plan {plan}, not {request.plan}: change the plan on your"
            " dashboard first, or ask your agent for the plan you have",
        )
    key = request_key(request_id)
    if request.status == PENDING:
        store.transact(
            [update_op(key, set_={"status": CONFIRMING, "consumer": user.sub}, when={"status": PENDING})],
            conflict="this agent request was confirmed meanwhile; your agent can fetch its key",
        )
    issued = None
    if plan is None:
        try:
            issued = subscriptions.subscribe(
                SubscribeIn(api_id=request.api_id, plan=request.plan, checkout_session=checkout_session),
                user,
                services,
                response,
            )
        except Exception:
            _reopen(store, key)
            raise
    store.transact(
        [
            update_op(
                key,
                set_={"status": CONFIRMED, "confirmed_at": timestamp()},
                when={"status": CONFIRMING, "consumer": user.sub},
            )
        ],
        conflict="the agent request changed meanwhile; reload the page",
    )
    return request, issued


def claim(services: Services, request_id: str, claim_token: str) -> tuple[AgentRequest, IssuedKey]:
    """The agent's key, once: :class:`NotConfirmed` until its person confirmed; 403 for a wrong token,
    410 once expired or already fetched."""
    item = _item(services.store, request_id)
    if item is None or not hmac.compare_digest(item["claim_hash"], _digest(claim_token)):
        raise Problem(403, "refused: no request has that id and claim token; ask again with subscribe")
    request = AgentRequest.of(item)
    if request.expired(datetime.now(UTC)):
        raise Problem(410, f"refused: request {request_id} expired; ask again with subscribe")
    if request.status == CLAIMED:
        raise Problem(
            410,
            f"refused: the key of request {request_id} was already fetched, and a key is shown only once;"
            " ask again with subscribe for another",
        )
    if request.status != CONFIRMED or request.consumer is None:
        raise NotConfirmed()
    key = request_key(request_id)
    api_key, key_item = named_keys.issue_named_key(
        services,
        request.consumer,
        request.api_id,
        request.key_name,
        with_writes=[
            update_op(
                key,
                set_={"status": CLAIMED, "claimed_at": timestamp()},
                when={"status": CONFIRMED, "claim_hash": item["claim_hash"]},
            )
        ],
    )
    return request, IssuedKey.model_validate({**key_item, "api_key": api_key})


def request_key(request_id: str) -> dict[str, str]:
    return {PK: f"{REQUEST_PREFIX}{request_id}", SK: REQUEST_SK}


def _reopen(store: Store, key: Mapping[str, str]) -> None:
    """Back to pending after a failed subscribe; the subscribe's error is what the person sees."""
    try:
        store.transact(
            [update_op(key, set_={"status": PENDING}, remove=["consumer"], when={"status": CONFIRMING})],
            conflict="the agent request changed meanwhile",
        )
    except (Problem, ClientError):
        # It stays confirming for this consumer, who may confirm again; it expires in any case.
        logger.exception("could not reopen an agent request after its subscribe failed")


def _item(store: Store, request_id: str) -> dict[str, Any] | None:
    """The request's item; ``None`` for an id no request could have (never a read of an odd key)."""
    if not re.fullmatch(REQUEST_ID_PATTERN, request_id):
        return None
    key = request_key(request_id)
    return store.get(key[PK], key[SK])


def _count_request(store: Store, source: str, now: datetime) -> None:
    """Count a request against its source address's hour; 429 once the hour has :data:`MAX_REQUESTS_PER_HOUR`.

    The address is kept as a hash, and the counter expires an hour after its hour.
    """
    hour = now.replace(minute=0, second=0, microsecond=0)
    try:
        store.table.update_item(
            Key={PK: f"{LIMIT_PREFIX}{_digest(source)}", SK: f"HOUR#{hour:%Y-%m-%dT%H}"},
            UpdateExpression="ADD #requests :one SET #expires = :expires",
            ConditionExpression="attribute_not_exists(#requests) OR #requests < :most",
            ExpressionAttributeNames={"#requests": "requests", "#expires": "expires_at"},
            ExpressionAttributeValues={
                ":one": 1,
                ":most": MAX_REQUESTS_PER_HOUR,
                ":expires": epoch_seconds(hour + timedelta(hours=2)),
            },
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise Problem(
            429,
            f"at most {MAX_REQUESTS_PER_HOUR} subscribe requests an hour come from one address;"
            f" try again after {hour + timedelta(hours=1):%H:%M} UTC",
        ) from None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
