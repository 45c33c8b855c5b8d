"""The limits a consumer sees on every response: what the authorizer puts in its context for them.

The scheme is the IETF draft's (draft-ietf-httpapi-ratelimit-headers-10):
``RateLimit-Policy`` names each limit once (``"rate";q=10;w=1, "monthly";q=10000;w=2592000``)
and ``RateLimit`` says what is left of the ones the authorizer knows anything
about (``"monthly";r=9500;t=86400``). Not RapidAPI's ``X-RateLimit-*`` trio: that
holds one limit, and a plan here has two (the usage plan's rate and its monthly
quota), each with its own window; the draft's list carries both without
inventing header names, and lets a limit be announced without claiming a
remaining count nobody has (the rate's token bucket lives inside API Gateway).

The authorizer's answer is cached by API Gateway for the authorizer's TTL, so
nothing here may depend on when the response is sent: the context carries the
policy, the remaining count *as of the decision* and the absolute time the
quota resets. The app's adapter (``apid_asgi``) turns the absolute time into the
``t`` seconds when it answers, so ``t`` is exact however old the decision is.

Standard library only: the adapter reads these names without importing this module
(it ships alone in the creator's bundle), and a test holds the two equal.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

#: The authorizer's context names the adapter and the gateway responses read.
POLICY_CONTEXT = "rateLimitPolicy"
REMAINING_CONTEXT = "rateLimit"
RESET_EPOCH_CONTEXT = "quotaResetEpoch"
RESET_DATE_CONTEXT = "quotaResetDate"
THROTTLE_RETRY_CONTEXT = "throttleRetryAfter"

#: The authorizer's environment variable holding every plan's limits, as JSON.
PLAN_LIMITS_ENV = "PLAN_LIMITS"
RATE_POLICY = "rate"
QUOTA_POLICY = "monthly"


@dataclass(frozen=True)
class PlanQuota:
    """One plan's usage-plan limits as the authorizer knows them (from the construct, through its environment)."""

    rate_limit: float
    burst: int
    monthly_quota: int | None = None

    @property
    def throttle_retry_after(self) -> int:
        """Seconds after a throttled call before the token bucket holds one token again (at least 1)."""
        return max(1, math.ceil(1 / self.rate_limit))

    def policy(self, now: datetime) -> str:
        """The ``RateLimit-Policy`` value: the rate per its smallest whole window, and the month's quota."""
        if self.rate_limit >= 1:
            rate = f'"{RATE_POLICY}";q={math.floor(self.rate_limit)};w=1'
        else:
            rate = f'"{RATE_POLICY}";q=1;w={self.throttle_retry_after}'
        if self.monthly_quota is None:
            return rate
        start, end = month_start(now), next_month_start(now)
        return f'{rate}, "{QUOTA_POLICY}";q={self.monthly_quota};w={int((end - start).total_seconds())}'


def plan_quotas(environment: Mapping[str, str]) -> dict[str, PlanQuota]:
    """Every plan's limits from ``PLAN_LIMITS`` (``{}`` when unset, as in an API made before it existed)."""
    raw = environment.get(PLAN_LIMITS_ENV)
    return {name: PlanQuota(**limits) for name, limits in json.loads(raw).items()} if raw else {}


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the 1st of ``now``'s month: when API Gateway's MONTH quota period began."""
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    """Midnight UTC on the 1st of the next month: when a MONTH quota resets."""
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def limits_context(quota: PlanQuota, remaining: int | None, now: datetime) -> dict[str, str]:
    """The authorizer context entries for an allowed key on ``quota``'s plan.

    ``remaining`` is what API Gateway reported left of the month's quota when the
    decision was made, or ``None`` if that is unknown; then no ``RateLimit`` is
    sent, since its ``r`` is required and a guess would be a promise.
    """
    context = {POLICY_CONTEXT: quota.policy(now), THROTTLE_RETRY_CONTEXT: str(quota.throttle_retry_after)}
    if quota.monthly_quota is not None:
        reset = next_month_start(now)
        context[RESET_EPOCH_CONTEXT] = str(int(reset.timestamp()))
        context[RESET_DATE_CONTEXT] = format_datetime(reset, usegmt=True)
        if remaining is not None:
            context[REMAINING_CONTEXT] = f'"{QUOTA_POLICY}";r={max(0, remaining)}'
    return context
