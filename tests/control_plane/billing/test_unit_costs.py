"""A creator's month in figures (``GET /earnings/costs``, the portal's margin): counters and ledger in moto, the
expected AWS costs worked out here from the prices file's own numbers."""

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_direct.aws_costs import prices
from api_direct.aws_costs.prices import PriceTable
from api_direct.aws_costs.traffic import (
    PLATFORM_LOG_BYTES_PER_INVOCATION,
    TRACED_PERCENT_BEYOND_RESERVOIR,
    Traffic,
)
from api_direct.contracts import AUTHORIZER_MEMORY_MB, PROBLEM_JSON
from api_direct.control_plane.api.listings import creator_listings
from api_direct.control_plane.api.store import PK, SK, Store
from api_direct.control_plane.billing.earnings import PaidInvoice, Refund, record_refund, record_revenue
from api_direct.control_plane.billing.metering import Meter, UsageEvent, counter_key, unattributed_pk, usage_index_pk
from api_direct.control_plane.billing.periods import month_text
from api_direct.control_plane.billing.unit_costs import MonthCosts, month_costs
from tests.control_plane.marketplace import (
    ALICE,
    BOB,
    CAROL,
    Headers,
    creator_key_bus,
    link_account,
    listing_body,
    published,
    table,
)
from tests.control_plane.billing.usage import body, usage_event
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.typed_client import InProcessControlPlane
from tests.control_plane.web.pages import as_user, text

API = "weather-api"
REGION = "us-east-1"
MONTH = "2026-11"
RUNTIME = {"region": REGION, "architecture": "arm64", "memory_mb": 1024, "log_retention_days": 30}
FIXED = {"AWS::CloudWatch::Alarm": 2, "AWS::KMS::Key": 1, "AWS::Lambda::Function": 3}
#: Calls of the pro plan on 2026-11-03, and of nobody's on 2026-11-04.
PRO = Traffic(
    calls=2000,
    integration_ms=150_000,
    response_bytes=4_000_000,
    authorizer_invocations=40,
    authorizer_ms=800,
    log_bytes=1_000_000,
    active_seconds=1500,
    records=4,
)
REJECTED = Traffic(
    calls=30, log_bytes=15_000, authorizer_invocations=30, authorizer_ms=300, active_seconds=30, records=1
)


@pytest.fixture
def store(aws: Callable[[str], Any]) -> Store:
    return Store(table())


@pytest.fixture
def alice(api: TestClient, mint: Mint) -> Headers:
    """Alice lists weather-api in us-east-1 (plans free and pro) with its runtime."""
    headers = bearer(mint(ALICE, "creators"))
    link_account(ALICE, region=REGION)
    published(api, headers, region=REGION, runtime={**RUNTIME, "fixed_resources": FIXED})
    return headers


@pytest.fixture
def carols_key(api: TestClient, alice: Headers, mint: Mint) -> str:
    """Carol on weather-api's pro plan: her key's id."""
    creator_key_bus(API, region=REGION)
    return str(InProcessControlPlane(api, mint(CAROL, "consumers")).subscribe(API, "pro")["key_id"])


def count(store: Store, hour: str, traffic: Traffic, plan: str | None, api_id: str = API) -> None:
    """An hour's counter as metering keeps it: a subscription's (``plan``), or nobody's (``None``)."""
    measured = traffic.model_dump()
    if plan is None:
        store.put({PK: unattributed_pk(api_id), SK: f"HOUR#{hour}", **measured})
        return
    store.put(
        {
            **counter_key(api_id, CAROL, hour, plan),
            "plan": plan,
            "period_start": hour,
            **measured,
            "units": traffic.calls * 2,
            "billable": traffic.calls,
            "gsi2pk": usage_index_pk(api_id),
            "gsi2sk": f"{hour}#{CAROL}#{plan}",
        }
    )


def unit_price(table: PriceTable, key: str, tier: int = 0) -> Decimal:
    price = table.prices[key]
    return price.tiers[tier].price / price.per


def expected_cost(traffic: Traffic, table: PriceTable, memory_mb: int, retention_days: int, tier: int = 0) -> Decimal:
    """What AWS bills ``traffic`` on arm64 at ``memory_mb``, line by line, API Gateway at its ``tier``."""
    invocations = traffic.calls + traffic.authorizer_invocations
    log_bytes = traffic.log_bytes + invocations * PLATFORM_LOG_BYTES_PER_INVOCATION
    beyond = max(traffic.calls - traffic.active_seconds, 0)
    traces = min(traffic.active_seconds, traffic.calls) + math.ceil(beyond * TRACED_PERCENT_BEYOND_RESERVOIR / 100)
    gb_seconds = Decimal(traffic.integration_ms * memory_mb + traffic.authorizer_ms * AUTHORIZER_MEMORY_MB) / 1_024_000
    gib = Decimal(2**30)
    return (
        traffic.calls * unit_price(table, "apigateway_rest_requests", tier)
        + invocations * unit_price(table, "lambda_requests")
        + gb_seconds * unit_price(table, "lambda_gb_seconds_arm64")
        + traffic.authorizer_invocations * unit_price(table, "dynamodb_read_request_units")
        + log_bytes / gib * unit_price(table, "logs_ingested_gb")
        + traffic.response_bytes / gib * unit_price(table, "data_transfer_out_gb")
        + traffic.records * unit_price(table, "eventbridge_custom_events")
        + traces * unit_price(table, "xray_traces_recorded")
        # Stored: the access log's lines a year, Lambda's own for the functions' retention.
        + (traffic.log_bytes * 365 + (log_bytes - traffic.log_bytes) * retention_days)
        / (Decimal(365) / 12)
        / gib
        * unit_price(table, "logs_stored_gb_month")
    )


def six(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.000001"))


def november(store: Store, creator: str = ALICE) -> MonthCosts:
    return month_costs(
        store,
        creator_listings(store, creator),
        MONTH,
        today=date(2026, 12, 5),
        fee_percent=Decimal(20),
        currency="usd",
    )


def test_a_month_per_plan_and_day_adds_up_from_counters_ledger_and_prices(carols_key: str, store: Store) -> None:
    table_ = prices.load(REGION)
    count(store, "2026-11-03T10:00:00Z", PRO, "pro")
    count(store, "2026-11-04T08:00:00Z", REJECTED, None)
    count(store, "2026-10-31T23:00:00Z", PRO, "pro")  # the month before: not counted
    at = datetime(2026, 11, 10, 12, tzinfo=UTC)
    record_revenue(store, PaidInvoice("in_1", 1900, "usd", API, CAROL, stripe_fee=85, billing_fee=13, plan="pro"), at)
    record_revenue(store, PaidInvoice("in_2", 1000, "usd", API, CAROL, stripe_fee=59), at)  # no plan: Carol's
    record_refund(store, Refund("re_1", "in_2", 500), datetime(2026, 11, 20, 9, tzinfo=UTC))

    [weather] = november(store).apis
    assert (weather.api, weather.region, weather.prices_region) == (API, REGION, REGION)
    assert weather.prices_retrieved == table_.retrieved and weather.runtime.memory_mb == 1024
    fixed = 2 * unit_price(table_, "cloudwatch_alarm_months") + unit_price(table_, "kms_key_months")
    assert weather.fixed_monthly == six(fixed)
    free, pro = weather.plans
    assert (free.plan, free.calls, free.loses_money, free.aws_cost_per_1000) == ("free", 0, False, None)
    pro_cost = expected_cost(PRO, table_, 1024, 30)
    rejected_cost = expected_cost(REJECTED, table_, 1024, 30)
    assert (pro.calls, pro.units, pro.billable_units, pro.traffic) == (2000, 4000, 2000, PRO)
    assert (pro.revenue, pro.stripe_fees, pro.platform_fee) == (Decimal("24.00"), Decimal("1.57"), Decimal("4.80"))
    assert pro.aws_cost == six(pro_cost)
    assert pro.margin == six(Decimal("17.63") - pro_cost)
    assert pro.aws_cost_per_1000 == six(pro_cost / 2)
    assert pro.received_per_1000 == six(Decimal("17.63") / 2) and not pro.loses_money
    assert (weather.unattributed.calls, weather.unattributed.traffic) == (30, REJECTED)
    assert weather.unattributed.aws_cost == six(rejected_cost)
    assert weather.totals.calls == 2030
    assert weather.totals.aws_cost == six(pro_cost + rejected_cost + fixed)
    assert weather.totals.margin == six(Decimal("17.63") - pro_cost - rejected_cost - fixed)

    days = {day.day: day for day in weather.days}
    assert len(days) == 30
    share = fixed / 30
    assert (days[date(2026, 11, 3)].calls, days[date(2026, 11, 3)].aws_cost) == (2000, six(pro_cost + share))
    assert days[date(2026, 11, 10)].revenue == Decimal("29.00")  # placed on the day it was paid
    assert days[date(2026, 11, 10)].margin == six(Decimal("29.00") * Decimal("0.8") - Decimal("1.57") - share)
    assert days[date(2026, 11, 20)].margin == six(Decimal("-5.00") * Decimal("0.8") - share)  # a refund
    assert days[date(2026, 11, 1)].margin == six(-share)


def test_the_figures_read_what_metering_counted(carols_key: str, store: Store) -> None:
    """Records through the real aggregator: Carol's on pro, and one nobody is billed for (no key)."""
    hour = "2026-11-03T10:00:00Z"
    counted = []
    for key_id, traffic, record in ((carols_key, PRO, "carol"), ("", REJECTED, "rejected")):
        measured = traffic.model_dump(exclude={"calls", "records"})
        event = usage_event(key_id, calls=traffic.calls, hour=hour, record=record, measured=measured)
        counted.append(Meter(store).apply(UsageEvent.parse(body(event)), datetime(2026, 11, 3, 11, tzinfo=UTC)))
    assert counted == ["applied", "anonymous"]
    [weather] = november(store).apis
    assert (weather.plans[1].traffic, weather.unattributed.traffic) == (
        PRO.model_copy(update={"records": 1}),
        REJECTED,
    )


def test_volume_tiers_are_those_the_month_reached_before_each_day(
    api: TestClient, alice: Headers, store: Store, mint: Mint
) -> None:
    """A listing published without a runtime is priced at the defaults (512 MB, arm64) in its region."""
    published(api, alice, "bulk-api", region=REGION)
    table_ = prices.load(REGION)
    first_tier = table_.prices["apigateway_rest_requests"].tiers[0].up_to
    assert first_tier is not None
    busy, later = Traffic(calls=first_tier), Traffic(calls=1000, integration_ms=50_000, active_seconds=1000)
    count(store, "2026-11-01T00:00:00Z", busy, "pro", "bulk-api")
    count(store, "2026-11-02T00:00:00Z", later, "pro", "bulk-api")
    bulk = next(found for found in november(store).apis if found.api == "bulk-api")
    assert (bulk.runtime.memory_mb, bulk.fixed_monthly) == (512, Decimal("0.000000"))
    days = {day.day: day for day in bulk.days}
    assert days[date(2026, 11, 2)].aws_cost == six(expected_cost(later, table_, 512, 30, tier=1))
    assert days[date(2026, 11, 1)].aws_cost == six(expected_cost(busy, table_, 512, 30))


def test_a_plan_whose_calls_cost_more_than_they_bring_loses_money(alice: Headers, store: Store) -> None:
    count(store, "2026-11-03T10:00:00Z", PRO, "free")
    free = november(store).apis[0].plans[0]
    assert (free.plan, free.revenue, free.loses_money) == ("free", Decimal("0.00"), True)
    assert free.margin == -free.aws_cost and free.received_per_1000 == Decimal(0)


def test_the_endpoint_shows_a_creator_their_own_apis_in_the_designed_shape(
    api: TestClient, alice: Headers, store: Store, mint: Mint
) -> None:
    count(store, "2026-11-03T10:00:00Z", PRO, "pro")
    link_account(BOB, region=REGION)
    bob = bearer(mint(BOB, "creators"))
    published(api, bob, "bobs-api", region=REGION)
    answer = api.get("/earnings/costs", params={"month": MONTH}, headers=alice)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["month"], body["currency"], [found["api"] for found in body["apis"]]) == (MONTH, "USD", [API])
    [weather] = body["apis"]
    assert set(weather) >= {"api", "region", "prices_retrieved", "runtime", "fixed_monthly", "plans"}
    assert set(weather) >= {"unattributed", "totals", "days"}
    pro = weather["plans"][1]
    assert (pro["plan"], pro["calls"], pro["revenue"], pro["loses_money"]) == ("pro", 2000, "0.00", True)
    assert pro["traffic"] == PRO.model_dump() and isinstance(pro["aws_cost"], str)
    assert weather["runtime"]["fixed_resources"] == FIXED
    bobs = InProcessControlPlane(api, mint(BOB, "creators"))
    assert [found["api"] for found in bobs.costs(MONTH)["apis"]] == ["bobs-api"]
    assert bobs.costs()["month"] == month_text(datetime.now(UTC))
    assert InProcessControlPlane(api, mint(ALICE, "creators")).costs(MONTH) == body


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "november", "2026-11-01", "0000-01"])
def test_a_bad_month_is_a_one_line_problem(api: TestClient, alice: Headers, month: str) -> None:
    answer = api.get("/earnings/costs", params={"month": month}, headers=alice)
    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM_JSON)
    assert answer.json()["detail"].startswith("query.month:") and "\n" not in answer.json()["detail"]


def test_only_creators_see_costs(api: TestClient, alice: Headers, mint: Mint) -> None:
    assert api.get("/earnings/costs").status_code == 401
    assert api.get("/earnings/costs", headers=bearer(mint(CAROL, "consumers"))).status_code == 403


def test_a_runtime_in_another_region_than_the_listing_is_refused(api: TestClient, alice: Headers) -> None:
    refused = api.put(
        f"/listings/{API}",
        json=listing_body(region=REGION, runtime={**RUNTIME, "region": "eu-west-1"}),
        headers=alice,
    )
    assert refused.status_code == 422 and "is not the listing's region" in refused.json()["detail"]


def test_the_portal_charts_this_months_margin_and_flags_a_losing_plan(
    api: TestClient, alice: Headers, store: Store, mint: Mint
) -> None:
    today = datetime.now(UTC)
    count(store, today.strftime("%Y-%m-%dT00:00:00Z"), PRO, "free")
    page = as_user(api, mint(ALICE, "creators")).get("/web/portal").text
    words = text(page)
    assert "margin per day this month" in words and 'class="bar margin loss"' in page
    assert "Plan free loses money this month: its 2,000 calls this month cost" in words
    assert "Plan pro loses money" not in words
