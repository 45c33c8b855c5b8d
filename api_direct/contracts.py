"""The names every layer shares: Cognito groups, table keys, environment variables, buses, problem documents.

A construct, the control plane's service, its client and the deploy engine must
agree on these; defining them here, and not in whichever package used them first,
is what lets a construct be imported without the FastAPI service behind it and the
client without the service or the deploy engine. This module imports only the
standard library, so every layer (and every Lambda bundle that ships it) can import
it; ``tests/test_import_graph.py`` holds it to that.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args

# Cognito.

#: The control plane's roles, as Cognito groups: the access token's ``cognito:groups``.
CREATORS = "creators"
CONSUMERS = "consumers"

# The control plane's table.

PK, SK = "pk", "sk"
GSI1, GSI2 = "gsi1", "gsi2"
#: (index name, partition attribute, sort attribute): the stack builds exactly these, the store queries them.
INDEXES = ((GSI1, "gsi1pk", "gsi1sk"), (GSI2, "gsi2pk", "gsi2sk"))
#: A key event waiting in the control plane's outbox: ``pk=<prefix><event id>``, ``sk=EVENT``, written with the change
#: it describes; the table's stream relays it to the bus (``control_plane.api.outbox``), filtered on these keys.
OUTBOX_PREFIX, OUTBOX_SK = "OUTBOX#", "EVENT"

# Environment variables.

#: Where apid keeps what it can make again (bundles, wheels, refreshed prices): ``$APID_CACHE_DIR`` when set.
CACHE_DIR_ENV = "APID_CACHE_DIR"


def user_cache_dir() -> Path:
    """``$APID_CACHE_DIR``, else ``$XDG_CACHE_HOME/api-direct``, else ``~/.cache/api-direct``: one cache per user,
    shared by every project, so identical requirements install once and a price refresh serves them all."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "api-direct"


#: The control plane's settings are ``APID_CP_<FIELD>`` (``APID_CP_TABLE_NAME``);
#: the stack sets them, the app reads them.
CONTROL_PLANE_ENV_PREFIX = "APID_CP_"
#: Where the usage aggregator sends poison records (the usage queue's dead-letter queue; the construct sets it).
DEAD_LETTER_URL_ENV = "USAGE_DEAD_LETTER_URL"
#: The queue usage alerts go through (fired by the aggregator, sent and retried by the alert deliverer); the
#: construct sets it on those two functions.
ALERT_QUEUE_URL_ENV = "ALERT_QUEUE_URL"
#: The usage forwarder's ``[[routes]]`` weights (JSON, :class:`~api_direct.runtime.route_weights.RouteWeights`);
#: ``UsageForwarder`` sets it from the project. Absent: every call is one unit.
ROUTE_WEIGHTS_ENV = "APID_ROUTE_WEIGHTS"
#: What an operator's control plane charges and waits unless told otherwise: the settings' defaults,
#: which the stack writes into the functions' environment so a deployed value is visible in the console.
CONTROL_PLANE_DEFAULTS: dict[str, Any] = {
    "max_openapi_bytes": 256_000,
    "currency": "usd",
    "platform_fee_percent": Decimal("20"),
    # Stripe's standard US pricing (docs/operators/payouts.md): card 2.9 % + 30 cents, Billing 0.7 %.
    "stripe_card_percent": Decimal("2.9"),
    "stripe_card_fixed_cents": 30,
    "stripe_billing_percent": Decimal("0.7"),
    # Stripe's fee on a dispute (a chargeback) in the US: 15 USD.
    "stripe_dispute_fee_cents": 1500,
    "usage_grace_minutes": 120,
    "payout_grace_days": 3,
    "webhooks_allow_loopback": False,
    "price_notice_days": 30,
}
#: The settings' fields in the order the environment lists them (the pydantic model's order).
CONTROL_PLANE_SETTINGS = (
    "account_id",
    "table_name",
    "event_bus_name",
    "user_pool_id",
    "app_client_id",
    "key_forwarding_role_arn",
    "jwks_url",
    "aws_endpoint_url",
    "max_openapi_bytes",
    "stripe_secret_arn",
    "stripe_api_base",
    "currency",
    "platform_fee_percent",
    "stripe_card_percent",
    "stripe_card_fixed_cents",
    "stripe_billing_percent",
    "stripe_dispute_fee_cents",
    "usage_grace_minutes",
    "payout_grace_days",
    "alert_sender",
    "webhooks_allow_loopback",
    "price_notice_days",
)


def control_plane_environment(**settings: Any) -> dict[str, str]:
    """The functions' environment for these settings (the defaults filled in), as the app reads it back.

    ``region`` is not among them: Lambda sets ``AWS_REGION``. A field this module
    does not know is a ``TypeError``, so a renamed setting cannot go unset.
    """
    unknown = set(settings) - set(CONTROL_PLANE_SETTINGS)
    if unknown:
        raise TypeError(f"not control plane settings: {', '.join(sorted(unknown))}")
    values = {**CONTROL_PLANE_DEFAULTS, **settings}
    return {
        f"{CONTROL_PLANE_ENV_PREFIX}{name.upper()}": str(values[name])
        for name in CONTROL_PLANE_SETTINGS
        if values.get(name) is not None
    }


# EventBridge.

#: The control plane's own bus: usage arrives here, key events leave from here.
CONTROL_PLANE_BUS_NAME = "apid-control-plane"
#: ``Source`` of the key events the control plane puts and each API's key bus admits.
CONTROL_PLANE_SOURCE = "api-direct.control-plane"
#: The control plane names the rule forwarding one API's key events ``<prefix><api_id>``: made when the API is
#: published, removed when its listing retires; the stack scopes both permissions by this name.
KEY_RULE_PREFIX = "apid-keys-"
#: The key events' detail-types (``api_direct.runtime.key_sync`` has a class of each name): the key store's
#: rule in a creator's account and the control plane's forwarding rule admit these, so an event key sync can
#: apply is never filtered out on the way (nor one it cannot, let in).
KeyEventType = Literal[
    "KeyCapped", "KeyIssued", "KeyRestored", "KeyRevoked", "KeySuspended", "KeyUncapped", "PlanChanged"
]
KEY_EVENT_TYPES: tuple[str, ...] = get_args(KeyEventType)
#: A ``KeyCapped`` detail carries this (ISO-8601, zoned): the subscription's hard spend cap is reached, and its
#: calls answer 402 until then (the end of the UTC month) or until a ``KeyUncapped`` (the cap raised or removed).
KEY_CAPPED_UNTIL = "capped_until"
#: ``KeyCapped`` and ``KeyUncapped`` details may carry this: why the key is held, one of :data:`CAP_REASONS`
#: (absent: ``spend``, what every older event meant). Each reason is a cap of its own: lifting one leaves the others.
KEY_CAP_REASON = "reason"
#: ``spend``: a hard spend cap (402 until the month ends); ``credit``: a prepaid plan's credit is used up (402 until
#: more is bought; ``capped_until`` optional); ``quota``: a weighted monthly quota is used up (429 until
#: ``capped_until``, with ``Retry-After``).
CapReason = Literal["spend", "credit", "quota"]
CAP_REASONS: tuple[CapReason, ...] = ("spend", "credit", "quota")
#: A ``credit`` ``KeyCapped`` detail may carry this (https): where the consumer buys more, quoted in the 402.
KEY_CAP_BUY_URL = "buy_url"
#: A ``KeyRevoked`` detail may carry this (ISO-8601, zoned): the key works until then (a rotation's grace
#: period) instead of stopping at once. Optional, so older events and older key syncs keep their meaning.
KEY_EXPIRES_AT = "expires_at"
#: Plan events and ``KeyRevoked`` details carry this (``api_direct.runtime.api_keys.usage_id_of``): the one API
#: Gateway key all of a subscription's keys are counted under. Optional: a key without it is counted alone.
KEY_USAGE_ID = "usage_id"
#: A ``KeyRevoked`` detail carries this (``true``) when the subscription ends with it, and only then: its
#: shared API Gateway key goes too, which revoking one key of several must not do.
KEY_ENDS_USAGE = "ends_usage"
#: The longest grace period a rotated key keeps working for: the control plane refuses more, and `apid keys rotate`
#: says so before asking.
MAX_GRACE_SECONDS = 7 * 24 * 3600
#: The key table's DynamoDB TTL attribute (epoch seconds): records of expired keys are deleted some days later.
KEY_TTL_ATTRIBUTE = "expires_ttl"
#: ``Source`` and detail-type of the usage events each API's forwarder puts on the control plane's bus.
USAGE_SOURCE = "api-direct.usage"
USAGE_DETAIL_TYPE = "UsageRecorded"


def api_stack_name(api_id: str, stage: str | None = None) -> str:
    """An API's stack in its creator's account: ``apid-<api>``, or ``apid-<api>-<stage>`` for a named stage."""
    return f"apid-{api_id}-{stage}" if stage else f"apid-{api_id}"


def creator_key_bus_arn(account_id: str, region: str, api_id: str, stage: str | None = None) -> str:
    """The bus ``UserApiStack`` creates for key events: ``<stack>-keys``."""
    return f"arn:aws:events:{region}:{account_id}:event-bus/{api_stack_name(api_id, stage)}-keys"


#: Why the deploy engine asks for the deploy role's credentials: a control plane brokering them admits these and
#: records which one each request gave.
DeployPurpose = Literal[
    "planning",
    "deploying",
    "destroying",
    "reading status",
    "reading logs",
    "checking the link",
    "managing secrets",
    "listing versions",
    "rolling back",
    "reading costs",
]


# Versions of the app function.

#: The alias API Gateway invokes: each deploy moves it to the version it published, a rollback to an older one.
LIVE_ALIAS = "live"
#: Lambda's name for a function's unpublished code: a hotswap points the alias there.
LATEST = "$LATEST"
#: Which release a version runs ("<commit> by <who>"): in its environment, so a new release always publishes.
RELEASE_ENV = "APID_RELEASE"
#: Logical ids of the app's published versions start with this (a hash of its code and settings follows).
APP_VERSION_PREFIX = "AppVersion"


def app_version_logical_id(bundle_hash: str, config_digest: str) -> str:
    """The app version's logical id: new exactly when the function's code or version-locked settings change.

    The stack names its version with it, and a synthesis that patches only the app's
    code into an earlier assembly renames the version with it, so both agree on when
    CloudFormation publishes a version (a version of unchanged code is never asked for:
    Lambda would refuse it).
    """
    digest = hashlib.sha256(f"{bundle_hash}\n{config_digest}".encode()).hexdigest()
    return f"{APP_VERSION_PREFIX}{digest[:12].upper()}"


# Secrets: SecureString parameters in the creator's Parameter Store.

#: Every API's secrets are under this path; the link lets the deploy role and the API stacks' functions
#: reach Parameter Store only below it.
SECRETS_ROOT = "/apid"
#: The unnamed stage's folder: an underscore, so no stage (whose names start with a letter) can share it.
UNNAMED_STAGE_FOLDER = "_default"
#: The app function's variable naming its stage's secrets path; its handler reads what is there at cold start.
SECRETS_PATH_ENV = "APID_SECRETS_PATH"


def secrets_path(api_id: str, stage: str | None = None) -> str:
    """The Parameter Store path of one stage's secrets: ``/apid/<api>/<stage>``, each secret a parameter below it.

    One folder per stage, none inside another, because the right to read a path
    (``GetParametersByPath``) is the right to read everything below it.
    """
    return f"{SECRETS_ROOT}/{api_id}/{stage or UNNAMED_STAGE_FOLDER}"


# Errors on the wire: RFC 9457 problem documents.

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def problem_title(status: int) -> str:
    return _TITLES.get(status, "Error")


def problem_document(status: int, detail: str, type_: str = "about:blank", **extra: Any) -> dict[str, Any]:
    """The body of an error answer, whether the app or API Gateway gives it: clients parse one format."""
    return {"type": type_, "title": problem_title(status), "status": status, "detail": detail, **extra}


def problem_headers(status: int) -> dict[str, str]:
    """The headers that go with a problem document: a 401 names the scheme to retry with."""
    return {"content-type": PROBLEM_JSON, **({"www-authenticate": "Bearer"} if status == 401 else {})}


def problem_body(status: int, detail: str, type_: str = "about:blank", **extra: Any) -> bytes:
    """:func:`problem_document` rendered as the app renders JSON (compact, UTF-8)."""
    document = problem_document(status, detail, type_, **extra)
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


# What the API stack's functions are given, beside the app's own settings: the cost model prices them.

#: How long the stage's access log keeps its lines (a year: the record behind every bill); the functions' own
#: logs keep them for ``[runtime] log_retention_days``.
ACCESS_LOG_RETENTION_DAYS = 365

#: The key authorizer's memory (it runs on arm64): enough for boto3's import to stay off the cold start's path.
AUTHORIZER_MEMORY_MB = 512
#: CloudWatch Logs meters each event's UTF-8 message bytes plus this much: the usage forwarder counts the access
#: log's bytes with it, the cost model prices them.
LOG_EVENT_OVERHEAD_BYTES = 26


# Custom domains.

#: The tag on everything API-Direct makes in a creator's account: its stacks' resources, and a custom domain's
#: certificate, which lives outside any stack and is found again by it.
MANAGED_TAG = "api-direct:managed"


@dataclass(frozen=True)
class CustomDomainTarget:
    """A custom domain the API stack can serve on: its certificate is issued (the deploy engine saw to it,
    outside CloudFormation), and, when the account holds the domain's public hosted zone, that zone."""

    name: str
    certificate_arn: str
    hosted_zone_id: str | None = None
    zone_name: str | None = None


#: The MCP function's environment (:mod:`api_direct.runtime.mcp_server`, set by ``McpEndpoint``): the app's
#: ``live`` alias it asks for the OpenAPI document, the API's name, and ``[mcp] exclude`` as a JSON list.
MCP_APP_FUNCTION_ENV = "APID_APP_FUNCTION"
MCP_API_NAME_ENV = "APID_API_NAME"
MCP_EXCLUDE_ENV = "APID_MCP_EXCLUDE"
