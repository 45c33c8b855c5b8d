"""The cost model's arithmetic: known usage gives the figures AWS's published prices give by hand.

Every expected figure is computed here from the prices file's own numbers (a rate
divided by its ``per``), so a refreshed file keeps the tests true and a wrong formula
in the model cannot agree with them by construction.
"""

from decimal import Context, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api_direct.aws_costs import model, prices

TABLE = prices.load("us-east-1")
GIB = Decimal(2**30)


def rate(key: str, tier: int = 0) -> Decimal:
    """The price of one unit of ``key`` in its ``tier``."""
    price = TABLE.prices[key]
    return price.tiers[tier].price / price.per


def items(estimate: model.Estimate) -> dict[str, Decimal]:
    return {item.key: item.cost for item in estimate.items}


#: Ten million calls of 50 ms at 512 MB on arm64; the authorizer's cache answers 99%.
CALLS = 10_000_000
USAGE = model.Usage(
    requests=CALLS,
    billed_duration_ms=CALLS * 50,
    memory_mb=512,
    authorizer_invocations=CALLS // 100,
    authorizer_billed_duration_ms=CALLS // 100 * 20,
    authorizer_memory_mb=256,
    key_table_read_units=CALLS // 100,
    table_write_units=CALLS // 1000,
    log_bytes=CALLS * 600,
    response_bytes=CALLS * 2_000,
    usage_events=CALLS // 1000,
    queue_requests=CALLS // 500,
    kms_requests=CALLS // 100,
    traces=CALLS // 20,
)


def test_known_usage_costs_what_the_published_prices_give_by_hand() -> None:
    gb_seconds = Decimal(CALLS) * 50 / 1000 * 512 / 1024 + Decimal(CALLS // 100) * 20 / 1000 * 256 / 1024
    expected = {
        "apigateway_rest_requests": CALLS * rate("apigateway_rest_requests"),
        "lambda_requests": (CALLS + CALLS // 100) * rate("lambda_requests"),
        "lambda_gb_seconds_arm64": gb_seconds * rate("lambda_gb_seconds_arm64"),
        "dynamodb_read_request_units": CALLS // 100 * rate("dynamodb_read_request_units"),
        "dynamodb_write_request_units": CALLS // 1000 * rate("dynamodb_write_request_units"),
        "logs_ingested_gb": CALLS * 600 / GIB * rate("logs_ingested_gb"),
        "data_transfer_out_gb": CALLS * 2_000 / GIB * rate("data_transfer_out_gb"),
        "eventbridge_custom_events": CALLS // 1000 * rate("eventbridge_custom_events"),
        "sqs_requests": CALLS // 500 * rate("sqs_requests"),
        "kms_requests": CALLS // 100 * rate("kms_requests"),
        "xray_traces_recorded": CALLS // 20 * rate("xray_traces_recorded"),
    }
    estimate = model.variable_cost(USAGE, TABLE)
    assert items(estimate) == expected
    assert estimate.total == sum(expected.values())
    assert estimate.per_1000_calls == sum(expected.values()) * 1000 / CALLS


def test_each_function_s_gb_seconds_are_priced_at_its_architecture_s_rate() -> None:
    usage = model.Usage(
        requests=1000,
        billed_duration_ms=1000 * 100,
        memory_mb=1024,
        architecture="x86_64",
        authorizer_invocations=10,
        authorizer_billed_duration_ms=10 * 100,
        authorizer_memory_mb=1024,
    )
    costs = items(model.variable_cost(usage, TABLE))
    assert costs["lambda_gb_seconds_x86_64"] == 100 * rate("lambda_gb_seconds_x86_64")
    assert costs["lambda_gb_seconds_arm64"] == 1 * rate("lambda_gb_seconds_arm64")


def test_a_period_late_in_a_busy_month_is_billed_at_the_tier_the_month_reached() -> None:
    bound = TABLE.prices["apigateway_rest_requests"].tiers[0].up_to
    assert bound is not None
    month_so_far = model.Usage(requests=bound - 3_000_000)
    today = model.Usage(requests=10_000_000)
    costs = items(model.variable_cost(today, TABLE, already=month_so_far))
    expected = 3_000_000 * rate("apigateway_rest_requests", 0) + 7_000_000 * rate("apigateway_rest_requests", 1)
    assert costs["apigateway_rest_requests"] == expected


def test_free_tiers_are_off_unless_asked_for_and_then_only_the_first_units_are_free() -> None:
    usage = model.Usage(requests=1_500_000, response_bytes=150 * 2**30)
    paid = items(model.variable_cost(usage, TABLE))
    free = items(model.variable_cost(usage, TABLE, free_tier=True))
    assert paid["lambda_requests"] == 1_500_000 * rate("lambda_requests")
    assert free["lambda_requests"] == (1_500_000 - TABLE.free_tier["lambda_requests"]) * rate("lambda_requests")
    assert free["data_transfer_out_gb"] == (150 - TABLE.free_tier["data_transfer_out_gb"]) * rate(
        "data_transfer_out_gb"
    )
    # One allowance of GB-seconds for both architectures, not one each.
    both = model.Usage(
        billed_duration_ms=300_000_000,
        memory_mb=1024,
        architecture="x86_64",
        authorizer_billed_duration_ms=300_000_000,
        authorizer_memory_mb=1024,
    )
    lambda_free = items(model.variable_cost(both, TABLE, free_tier=True))
    allowance = TABLE.free_tier["lambda_gb_seconds"]
    assert lambda_free["lambda_gb_seconds_x86_64"] == 0
    assert lambda_free["lambda_gb_seconds_arm64"] == (600_000 - allowance) * rate("lambda_gb_seconds_arm64")
    # A month that already spent the allowance gets none of it again.
    spent = model.Usage(requests=2_000_000)
    again = items(model.variable_cost(usage, TABLE, already=spent, free_tier=True))
    assert again["lambda_requests"] == paid["lambda_requests"]


def test_the_fixed_monthly_cost_is_each_resource_at_its_monthly_price() -> None:
    estimate = model.fixed_monthly_cost(TABLE, {"kms_key_months": 1, "cloudwatch_alarm_months": 4})
    assert items(estimate) == {
        "kms_key_months": rate("kms_key_months"),
        "cloudwatch_alarm_months": 4 * rate("cloudwatch_alarm_months"),
    }
    assert estimate.per_1000_calls is None


def test_the_first_ten_alarms_are_free_only_when_the_free_tier_is_counted() -> None:
    free = model.fixed_monthly_cost(TABLE, {"cloudwatch_alarm_months": 4}, free_tier=True)
    assert free.total == 0


def test_every_line_is_exact_however_odd_the_bytes() -> None:
    usage = model.Usage(requests=7, billed_duration_ms=13, memory_mb=129, log_bytes=1, response_bytes=3)
    costs = items(model.variable_cost(usage, TABLE))
    assert costs["logs_ingested_gb"] * GIB == rate("logs_ingested_gb")
    assert costs["lambda_gb_seconds_arm64"] == Decimal(13 * 129) / (1024 * 1000) * rate("lambda_gb_seconds_arm64")


def test_negative_usage_is_refused() -> None:
    with pytest.raises(ValidationError):
        model.Usage(requests=-1)
    with pytest.raises(ValueError, match="cannot be negative"):
        model.fixed_monthly_cost(TABLE, {"kms_key_months": -1})


@pytest.mark.parametrize(
    ("amount", "places", "shown"),
    [(Decimal("0.005"), 2, "$0.01"), (Decimal("0.004999"), 2, "$0.00"), (Decimal("0.00443738"), 4, "$0.0044")],
)
def test_amounts_are_rounded_half_up_only_for_display(amount: Decimal, places: int, shown: str) -> None:
    assert model.display(amount, places) == shown


counts = st.integers(min_value=0, max_value=10**10)


@settings(max_examples=100, deadline=None)
@given(first=counts, second=counts, duration=st.integers(min_value=0, max_value=900), free_tier=st.booleans())
def test_a_month_costs_the_same_whole_or_in_two_periods(
    first: int, second: int, duration: int, free_tier: bool
) -> None:
    def usage(calls: int) -> model.Usage:
        return model.Usage(requests=calls, billed_duration_ms=calls * duration, response_bytes=calls * 1_000)

    whole = model.variable_cost(usage(first + second), TABLE, free_tier=free_tier).total
    early = model.variable_cost(usage(first), TABLE, free_tier=free_tier).total
    late = model.variable_cost(usage(second), TABLE, already=usage(first), free_tier=free_tier).total
    with localcontext(Context(prec=100)):  # the default 28 digits would round the sum, not the model
        assert early + late == whole
    assert early <= whole
