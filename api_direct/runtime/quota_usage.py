"""What is left of a key's monthly quota, as API Gateway itself counts it (GetUsage).

API Gateway's usage plan is the counter that refuses a call (QUOTA_EXCEEDED), so
the remaining count the headers show is read from it rather than counted a second
time somewhere that could disagree. One GetUsage call per authorizer decision (a
cache miss), never per request: its answer is as old as the cached decision.
A failed read costs the consumer the ``RateLimit`` header, never the call.
"""

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from api_direct.runtime.limit_headers import month_start

if TYPE_CHECKING:  # the stubs are a dev dependency; the Lambda bundle has boto3 alone
    from mypy_boto3_apigateway import APIGatewayClient

logger = Logger(service="apid-authorizer")


@functools.cache
def apigateway_client() -> "APIGatewayClient":
    """One client for the container's life, made on first use so importing the handler costs nothing."""
    return boto3.client("apigateway")


def remaining_from_usage(usage: dict[str, Any], usage_key_id: str, quota: int) -> int:
    """The last day's ``remaining`` of GetUsage's ``items``: ``{keyId: [[used, remaining], ...]}``, a row a day.

    A key with no row has not been used this period, so its whole quota is left.
    """
    days = usage.get("items", {}).get(usage_key_id) or []
    return int(days[-1][1]) if days else quota


@functools.lru_cache(maxsize=256)
def usage_plan_of(usage_key_id: str, plan: str, api_id: str, stage: str) -> str | None:
    """The id of the usage plan that binds the key to this API's stage (GetUsagePlans by key).

    Read, not configured: the authorizer cannot be told the ids, since the usage
    plans depend (through the stage and its methods) on the authorizer itself.
    Cached for the container's life per key *and plan*: a plan change moves the
    key to another usage plan, and arrives as a new plan in the decision.
    """
    plans = apigateway_client().get_usage_plans(keyId=usage_key_id)["items"]
    for usage_plan in plans:
        if any(s.get("apiId") == api_id and s.get("stage") == stage for s in usage_plan.get("apiStages", [])):
            return usage_plan["id"]
    logger.warning("no usage plan of this stage holds the key", plan=plan)
    return None


def quota_remaining(usage_key_id: str, plan: str, api_id: str, stage: str, quota: int, now: datetime) -> int | None:
    """What API Gateway says is left of ``quota`` for the key this month; ``None`` if it could not say."""
    try:
        usage_plan_id = usage_plan_of(usage_key_id, plan, api_id, stage)
        if usage_plan_id is None:
            return None
        usage = apigateway_client().get_usage(
            usagePlanId=usage_plan_id,
            keyId=usage_key_id,
            startDate=month_start(now).date().isoformat(),
            endDate=now.date().isoformat(),
        )
    except (BotoCoreError, ClientError) as error:
        logger.warning("quota usage unavailable", plan=plan, error=str(error))
        return None
    return remaining_from_usage(dict(usage), usage_key_id, quota)
