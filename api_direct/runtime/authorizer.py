"""REQUEST Lambda authorizer of a creator's REST API: is this x-api-key a live key?

API Gateway caches the answer per key (the identity source is the ``x-api-key``
header), so the policy covers every route of the stage, and the key's hash goes back
as ``usageIdentifierKey`` so API Gateway applies the throttling and quota of the
key's usage plan. The plaintext key is never logged, stored or returned.

:func:`decide` holds the whole decision without AWS in it, so ``apid dev`` can
authorize requests exactly as the deployed API does.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
    parse_api_gateway_arn,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_direct.runtime.api_keys import hash_key, is_well_formed
from api_direct.runtime.gateway_responses import (
    DENIAL_MESSAGE,
    INVALID_KEY,
    MISSING_KEY,
    SUSPENDED_KEY,
    GatewayRejection,
)
from api_direct.runtime.key_store import KeyRecord, key_table_from_env

API_KEY_HEADER = "x-api-key"
ANONYMOUS = "anonymous"

logger = Logger(service="apid-authorizer")


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

    @property
    def allowed(self) -> bool:
        return self.rejection is None


def decide(api_key: str | None, lookup: Callable[[str], KeyRecord | None]) -> Decision:
    """Allow an active key; reject a missing, malformed, unknown or inactive one.

    ``lookup`` maps a key hash to its record (:meth:`KeyTable.get` in Lambda). It is
    not called for a malformed key, so garbage costs no read.

    A suspended key gets its own message, since its holder can fix it (by paying);
    a revoked one looks like an unknown one, since nothing can be done about either.
    An active record without a plan (a KeyRestored applied before its KeyIssued) is
    rejected like an unknown key: the key is not issued here yet, and API Gateway
    would refuse its usage identifier anyway (INVALID_API_KEY, the same 403).
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
    return Decision(reason="active", key_id=record.key_id, plan=record.plan, usage_identifier_key=key_hash)


def api_key_of(headers: Mapping[str, str] | None) -> str | None:
    """The ``x-api-key`` header, whatever case the client (or a proxy) gave its name."""
    for name, value in (headers or {}).items():
        if name.lower() == API_KEY_HEADER:
            return value
    return None


def policy_for(method_arn: str, decision: Decision) -> dict[str, Any]:
    """The authorizer response for a decision, covering the whole stage.

    The response is cached per key for every route, so it must not name the route
    that happened to ask first. A rejected caller gets principal ``anonymous`` and
    no key id or plan: the access log must not attribute a rejected request to a
    consumer, whose usage is billed from those logs. Its context carries the
    rejection's message instead, which the ACCESS_DENIED gateway response shows
    (:data:`~api_direct.runtime.gateway_responses.DENIED`).
    """
    context: dict[str, str]
    if decision.rejection is None:
        principal, context = decision.key_id, {"keyId": decision.key_id, "plan": decision.plan}
    else:
        principal = ANONYMOUS
        context = {"keyId": "", "plan": "", DENIAL_MESSAGE: decision.rejection.message}
    arn = parse_api_gateway_arn(method_arn)
    response = APIGatewayAuthorizerResponse(
        principal_id=principal,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context=context,
        usage_identifier_key=decision.usage_identifier_key,
        partition=arn.partition,
    )
    if decision.allowed:
        response.allow_all_routes()
    else:
        response.deny_all_routes()
    return response.asdict()


# log_event=False explicitly: POWERTOOLS_LOGGER_LOG_EVENT=true in the function's
# environment would otherwise log the event, and with it the plaintext key.
@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point: one table read per cache miss, one log line per decision."""
    request = APIGatewayAuthorizerRequestEvent(event)
    decision = decide(api_key_of(request.get("headers")), key_table_from_env().get)
    logger.info("authorization", reason=decision.reason, key_id=decision.key_id)
    if decision.rejection is MISSING_KEY:
        # The exact message API Gateway turns into a 401 (gateway response UNAUTHORIZED).
        raise Exception("Unauthorized")
    return policy_for(request.method_arn, decision)
