"""The worked example of docs/creators/costs.md: the sandbox's traffic scaled to ten million calls a month, priced
by the model and by hand from AWS's us-east-1 list prices as published, to the cent.

The hand calculation below does not use the model or its prices file: every price is
typed as AWS's pricing pages state it, and every quantity is worked out with floats,
as a person with a calculator would. It agreeing with the model to the cent checks the
model's reading of each line (units, GB of 2^30 bytes, GB-seconds of 1,024 MB, X-Ray's
sampling, log storage for each group's retention) against an independent reading.
"""

import math

import pytest

from api_direct.aws_costs import prices, stack_costs
from api_direct.aws_costs.model import variable_cost
from api_direct.aws_costs.traffic import RuntimeProfile, Traffic, usage

#: What `apid sandbox` measured for its default run of the example (200 calls, 3 MCP tool calls, and the agent's,
#: the keyless and the wrong-keyed requests: 210 through the gateway), from `GET /earnings/costs`.
SANDBOX = Traffic(
    calls=210,
    integration_ms=359,
    response_bytes=134_867,
    authorizer_invocations=3,
    authorizer_ms=29,
    log_bytes=84_250,
    active_seconds=9,
    records=2,
)
CALLS = 10_000_000
#: A 30-day month's seconds, and those with at least one of ten million calls arriving at random (Poisson): the
#: sandbox's burst of 210 calls in 9 seconds says nothing of how a month's calls spread.
SECONDS = 30 * 24 * 3600
ACTIVE = round(SECONDS * (1 - math.exp(-CALLS / SECONDS)))
MONTH = SANDBOX.scaled(CALLS).model_copy(update={"active_seconds": ACTIVE})
PROFILE = RuntimeProfile(region="us-east-1", architecture="arm64", memory_mb=512, log_retention_days=30)


def by_hand() -> dict[str, float]:
    """Each line from AWS's published us-east-1 prices, with floats."""
    per_call = {name: getattr(SANDBOX, name) / SANDBOX.calls for name in Traffic.model_fields}
    invocations = CALLS * (1 + per_call["authorizer_invocations"])
    gb_seconds = (CALLS * per_call["integration_ms"] * 512 + CALLS * per_call["authorizer_ms"] * 512) / 1024 / 1000
    access_log = CALLS * per_call["log_bytes"]
    lambda_logs = invocations * 330  # START, END and REPORT, 26 bytes of overhead each included
    traces = ACTIVE + 0.05 * (CALLS - ACTIVE)
    gib = 2**30
    return {
        "apigateway_rest_requests": CALLS / 1e6 * 3.50,  # $3.50 per million, first 333 million
        "lambda_requests": invocations / 1e6 * 0.20,  # $0.20 per million
        "lambda_gb_seconds_arm64": gb_seconds * 0.0000133334,  # arm64, first 7.5 billion GB-s
        "dynamodb_read_request_units": CALLS * per_call["authorizer_invocations"] / 1e6 * 0.125,  # on demand
        "dynamodb_write_request_units": 0.0,
        "logs_ingested_gb": (access_log + lambda_logs) / gib * 0.50,  # $0.50 per GB ingested
        "data_transfer_out_gb": CALLS * per_call["response_bytes"] / gib * 0.09,  # first 10 TB
        "eventbridge_custom_events": CALLS * per_call["records"] / 1e6 * 1.00,  # $1.00 per million events
        "sqs_requests": 0.0,
        "kms_requests": 0.0,
        "xray_traces_recorded": traces / 1e6 * 5.00,  # $5.00 per million traces recorded
        # $0.03 per GB-month: the access log's lines kept 365 days, Lambda's 30, a month being 365/12 days.
        "logs_stored_gb_month": (access_log * 365 + lambda_logs * 30) / (365 / 12) / gib * 0.03,
    }


def test_the_model_agrees_with_the_hand_calculation_line_by_line_to_the_cent() -> None:
    table = prices.shipped("us-east-1")
    estimate = variable_cost(usage(MONTH, PROFILE), table)
    model = {item.key: float(item.cost) for item in estimate.items}
    model["logs_stored_gb_month"] = float(stack_costs.stored_logs(MONTH, PROFILE, table).cost)
    hand = by_hand()
    assert model.keys() == hand.keys()
    for key, cost in hand.items():
        # Scaling rounds each total up to a whole unit: a few parts in ten million at most.
        assert model[key] == pytest.approx(cost, abs=0.005), key
    assert sum(model.values()) == pytest.approx(sum(hand.values()), abs=0.01)
