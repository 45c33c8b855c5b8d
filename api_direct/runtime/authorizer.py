"""REQUEST Lambda authorizer of a creator's REST API: is this x-api-key a live key?

API Gateway caches the answer per key (the identity source is the ``x-api-key``
header), so the policy covers every route of the stage, and the key's subscription's
usage id goes back as ``usageIdentifierKey`` so API Gateway applies the throttling
and quota of the plan's usage plan to the subscription, whichever of its keys calls. The plaintext key is never logged, stored or returned.

:func:`~api_direct.runtime.key_check.decide` holds the whole decision without AWS in
it (:mod:`.key_check`), so ``apid dev`` can authorize requests exactly as the deployed API does.
"""

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
    parse_api_gateway_arn,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_direct.runtime.access_log import AUTHORIZER_DECISION
from api_direct.runtime.gateway_responses import (
    CAP_RETRY_AFTER_CONTEXT,
    CAP_STATUS_CONTEXT,
    DENIAL_MESSAGE,
    MISSING_KEY,
    PAYMENT_REQUIRED_CONTEXT,
)
from api_direct.runtime.key_check import Decision, KeyRecord, api_key_of, decide
from api_direct.runtime.key_store import key_table_from_env
from api_direct.runtime.limit_headers import limits_context, plan_quotas
from api_direct.runtime.quota_usage import quota_remaining

ANONYMOUS = "anonymous"

logger = Logger(service="apid-authorizer")


def policy_for(
    method_arn: str, decision: Decision, decision_id: str, limits: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The authorizer response for a decision, covering the whole stage.

    The response is cached per key for every route, so it must not name the route
    that happened to ask first. A rejected caller gets principal ``anonymous`` and
    no key id or plan: the access log must not attribute a rejected request to a
    consumer, whose usage is billed from those logs. Its context carries the
    rejection's message instead, which the ACCESS_DENIED gateway response shows
    (:data:`~api_direct.runtime.gateway_responses.DENIED`). An allowed caller's
    context also carries ``limits`` (:func:`limits_of`), for the response headers.
    Every context names the answer by ``decision_id`` (the invocation's request id):
    API Gateway caches the whole response, so the access log's lines repeat the id
    for each call the cache answered, and the distinct ids count this function's
    invocations for the cost model.
    """
    context: dict[str, str]
    if decision.payment_required is not None:
        # Let through only to be answered 402 (429 for a quota) by the adapter: with no key id or plan, as for a
        # rejection, the access log bills no one for it.
        principal, context = (
            decision.key_id,
            {
                "keyId": "",
                "plan": "",
                PAYMENT_REQUIRED_CONTEXT: decision.payment_required,
                CAP_STATUS_CONTEXT: str(decision.cap_status),
                **({CAP_RETRY_AFTER_CONTEXT: decision.retry_after} if decision.retry_after else {}),
            },
        )
    elif decision.rejection is None:
        principal, context = decision.key_id, {"keyId": decision.key_id, "plan": decision.plan, **(limits or {})}
    else:
        principal = ANONYMOUS
        context = {"keyId": "", "plan": "", DENIAL_MESSAGE: decision.rejection.message}
    context[AUTHORIZER_DECISION] = decision_id
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


def limits_of(method_arn: str, decision: Decision, record: KeyRecord | None, now: datetime) -> dict[str, str]:
    """The context entries behind an allowed caller's RateLimit headers; none for a plan the function does not know.

    The remaining quota is read from API Gateway only on a plan with a quota and a
    key bound to its usage plan: one GetUsage per decision, cached with it.
    """
    quota = plan_quotas(os.environ).get(decision.plan)
    if quota is None or not decision.allowed or decision.payment_required is not None:
        return {}
    remaining = None
    if quota.monthly_quota is not None and record is not None and record.usage_key_id:
        arn = parse_api_gateway_arn(method_arn)
        remaining = quota_remaining(record.usage_key_id, decision.plan, arn.api_id, arn.stage, quota.monthly_quota, now)
    return limits_context(quota, remaining, now)


# log_event=False explicitly: POWERTOOLS_LOGGER_LOG_EVENT=true in the function's
# environment would otherwise log the event, and with it the plaintext key.
@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point: one table read per cache miss (and a usage read on a quota plan), one log line per decision."""
    request = APIGatewayAuthorizerRequestEvent(event)
    looked_up: list[KeyRecord | None] = [None]

    def lookup(key_hash: str) -> KeyRecord | None:
        looked_up[0] = key_table_from_env().get(key_hash)
        return looked_up[0]

    decision = decide(api_key_of(request.get("headers")), lookup)
    logger.info("authorization", reason=decision.reason, key_id=decision.key_id)
    if decision.rejection is MISSING_KEY:
        # The exact message API Gateway turns into a 401 (gateway response UNAUTHORIZED).
        raise Exception("Unauthorized")
    limits = limits_of(request.method_arn, decision, looked_up[0], datetime.now(UTC))
    return policy_for(request.method_arn, decision, context.aws_request_id, limits)
