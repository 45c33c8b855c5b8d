"""From what an API measured to what AWS meters: a period's :class:`Traffic` as the model's :class:`Usage`.

The usage forwarder records, per usage record, totals read off the access log (see
``runtime/usage_records.py``): the calls, API Gateway's integration latency (the app
function's billed duration, bounded above: it adds the invoke's few milliseconds of
overhead), the response bytes, the authorizer's invocations (one per distinct decision:
a cached decision is logged again with the same id) and their latency, the access log's
own bytes, and the distinct seconds that had a call (what X-Ray's default sampling rule
keys on). Those totals add up across records, keys, plans and days, so one
:class:`Traffic` describes any slice of an API's usage; :func:`usage` turns it into the
model's line quantities with the function sizes of the API's :class:`RuntimeProfile`.

What no log line says is an explicit constant here, and docs/creators/costs.md names
each as an error bar: the lines Lambda writes itself per invocation, CloudWatch Logs'
per-event overhead, one read request unit per authorizer lookup, and X-Ray's default
sampling rule. Nothing here reads the app's own log lines, which the model leaves out.
"""

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from api_direct.aws_costs.model import Usage
from api_direct.contracts import AUTHORIZER_MEMORY_MB, LOG_EVENT_OVERHEAD_BYTES

Architecture = Literal["arm64", "x86_64"]

#: What Lambda logs itself on every invocation (START, END and REPORT lines, each an event), in bytes with overhead.
PLATFORM_LOG_BYTES_PER_INVOCATION = 330
#: X-Ray's default sampling rule records the first request each second and this share (per 100) of the rest.
TRACED_PERCENT_BEYOND_RESERVOIR = 5


class RuntimeProfile(BaseModel):
    """The sizes AWS bills an API's functions at: the app's settings in apid.toml, the authorizer's fixed ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = Field(min_length=1)
    architecture: Architecture = "arm64"
    memory_mb: int = Field(default=512, ge=128, le=10240)
    log_retention_days: int = Field(default=30, ge=1)
    authorizer_memory_mb: int = Field(default=AUTHORIZER_MEMORY_MB, ge=128, le=10240)
    authorizer_architecture: Architecture = "arm64"


class Traffic(BaseModel):
    """Totals of a period's calls as the usage forwarder measured them; they add up across any slice."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calls: NonNegativeInt = 0
    #: The sum of API Gateway's integration latency: the app function's time, each call's rounded up.
    integration_ms: NonNegativeInt = 0
    response_bytes: NonNegativeInt = 0
    authorizer_invocations: NonNegativeInt = 0
    authorizer_ms: NonNegativeInt = 0
    #: The access log's lines, each's UTF-8 bytes plus :data:`LOG_EVENT_OVERHEAD_BYTES`.
    log_bytes: NonNegativeInt = 0
    #: Distinct UTC seconds with at least one call, summed over records (so a second two keys share counts twice).
    active_seconds: NonNegativeInt = 0
    #: Usage records the forwarder sent: one EventBridge event each, to the control plane's bus.
    records: NonNegativeInt = 0

    def __add__(self, other: "Traffic") -> "Traffic":
        return Traffic(**{name: getattr(self, name) + getattr(other, name) for name in Traffic.model_fields})

    def scaled(self, calls: int) -> "Traffic":
        """This traffic's shape at ``calls`` calls: every total in proportion, rounded up (never below what it
        measured per call). What an estimate at a plan's volume uses when it has only a sample."""
        if not self.calls:
            raise ValueError("no calls to scale from")
        return Traffic(
            **{name: -(-getattr(self, name) * calls // self.calls) for name in Traffic.model_fields if name != "calls"},
            calls=calls,
        )


#: What the model assumes of 1,000 calls of an API that has measured none: 100 ms each, 2 KiB responses,
#: the authorizer's cache answering 95% of calls (its misses 20 ms), an access-log line of about 500 bytes,
#: every call in a second of its own, one usage record.
ASSUMED_PER_1000 = Traffic(
    calls=1000,
    integration_ms=100_000,
    response_bytes=2_048_000,
    authorizer_invocations=50,
    authorizer_ms=1_000,
    log_bytes=1000 * (500 + LOG_EVENT_OVERHEAD_BYTES),
    active_seconds=1000,
    records=1,
)


def traces(traffic: Traffic) -> int:
    """Traces X-Ray's default rule records: one a second with calls, and 5% of the calls beyond, rounded up."""
    beyond = max(traffic.calls - traffic.active_seconds, 0)
    reservoir = min(traffic.active_seconds, traffic.calls)
    return reservoir + math.ceil(beyond * TRACED_PERCENT_BEYOND_RESERVOIR / 100)


def usage(traffic: Traffic, profile: RuntimeProfile) -> Usage:
    """The usage AWS meters for ``traffic`` on functions of ``profile``'s sizes."""
    invocations = traffic.calls + traffic.authorizer_invocations
    return Usage(
        requests=traffic.calls,
        billed_duration_ms=traffic.integration_ms,
        memory_mb=profile.memory_mb,
        architecture=profile.architecture,
        authorizer_invocations=traffic.authorizer_invocations,
        authorizer_billed_duration_ms=traffic.authorizer_ms,
        authorizer_memory_mb=profile.authorizer_memory_mb,
        authorizer_architecture=profile.authorizer_architecture,
        key_table_read_units=traffic.authorizer_invocations,
        log_bytes=traffic.log_bytes + invocations * PLATFORM_LOG_BYTES_PER_INVOCATION,
        response_bytes=traffic.response_bytes,
        usage_events=traffic.records,
        traces=traces(traffic),
    )
