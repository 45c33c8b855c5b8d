"""The prices refresh: GetProducts answers (real shape, botocore's Stubber) to a complete table in the user's cache."""

import json
import stat
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from api_direct.aws_costs import prices, refresh
from api_direct.aws_costs.prices import PRICE_KEYS, Price, Tier
from api_direct.errors import InputError, OperationFailed
from tests.aws_costs.price_list import LAMBDA_EDGE_TOKYO, price_list, pricing_client, product

TODAY = date(2026, 12, 5)

#: What the API answers for us-west-2 in these tests: prices per one unit, tiers in units, prefixes as AWS writes them.
OREGON = {
    "USW2-Request": [product("AWSLambda", "USW2-Request", [(0, None, "0.0000002000")], region="us-west-2")],
    "USW2-Lambda-GB-Second": [
        product(
            "AWSLambda",
            "USW2-Lambda-GB-Second",
            [
                (6000000000, 15000000000, "0.0000150000"),
                (0, 6000000000, "0.0000166667"),
                (15000000000, None, "0.0000133334"),
            ],
            region="us-west-2",
        )
    ],
    "USW2-ApiGatewayRequest": [
        product(
            "AmazonApiGateway",
            "USW2-ApiGatewayRequest",
            [
                (0, 333000000, "0.0000035000"),
                (333000000, 1000000000, "0.0000028000"),
                (1000000000, 20000000000, "0.0000023800"),
                (20000000000, None, "0.0000015100"),
            ],
            region="us-west-2",
        )
    ],
    # A zero-priced first tier: the free allowance, which the table's free_tier says.
    "USW2-DataTransfer-Out-Bytes": [
        product(
            "AWSDataTransfer",
            "USW2-DataTransfer-Out-Bytes",
            [(0, 100, "0.0000000000"), (100, 10240, "0.0900000000"), (10240, None, "0.0850000000")],
        )
    ],
    # Two products under one usage type that agree (EventBridge lists one per event kind): one price.
    "USW2-Event-64K-Chunks": [
        product("AWSEvents", "USW2-Event-64K-Chunks", [(0, None, "0.0000010000")], sku="CUSTOM"),
        product("AWSEvents", "USW2-Event-64K-Chunks", [(0, None, "0.0000010000")], sku="PARTNER"),
    ],
    # Standard queues go by the second of their two names here.
    "USW2-Requests-RBP": [product("AWSQueueService", "USW2-Requests-RBP", [(0, None, "0.0000004000")])],
    # KMS writes the region's name, not its code.
    "us-west-2-KMS-Requests": [product("awskms", "us-west-2-KMS-Requests", [(0, None, "0.0000030000")])],
    # Global products: no region prefix.
    "DashboardsUsageHour-Basic": [
        product("AmazonCloudWatch", "DashboardsUsageHour-Basic", [(0, None, "3.0000000000")])
    ],
    "HostedZone": [product("AmazonRoute53", "HostedZone", [(0, 25, "0.5000000000"), (25, None, "0.1000000000")])],
}
ANSWERED = {
    "lambda_requests",
    "lambda_gb_seconds_x86_64",
    "apigateway_rest_requests",
    "data_transfer_out_gb",
    "eventbridge_custom_events",
    "sqs_requests",
    "kms_requests",
    "cloudwatch_dashboard_months",
    "route53_hosted_zone_months",
}


@pytest.fixture(autouse=True)
def user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """This test's own user cache: refreshed tables go here, and nowhere a later test would read them."""
    monkeypatch.setenv("APID_CACHE_DIR", str(tmp_path / "apid"))
    return tmp_path / "apid" / "prices"


@pytest.fixture
def oregon() -> Iterator[refresh.Refresh]:
    with price_list(OREGON, "us-west-2") as client:
        yield refresh.refresh(client, "us-west-2", today=TODAY)


def tiers(*pairs: tuple[int | None, str]) -> tuple[Tier, ...]:
    return tuple(Tier(up_to=up_to, price=Decimal(price)) for up_to, price in pairs)


def test_each_answer_becomes_tiers_per_the_lines_own_units(oregon: refresh.Refresh) -> None:
    table = oregon.table
    assert table.prices["lambda_requests"] == Price(unit="request", per=1000000, tiers=tiers((None, "0.2")))
    assert table.prices["lambda_gb_seconds_x86_64"].tiers == tiers(
        (6000000000, "0.0000166667"), (15000000000, "0.000015"), (None, "0.0000133334")
    )
    assert table.prices["apigateway_rest_requests"].tiers == tiers(
        (333000000, "3.5"), (1000000000, "2.8"), (20000000000, "2.38"), (None, "1.51")
    )
    assert table.prices["data_transfer_out_gb"].tiers == tiers((10240, "0.09"), (None, "0.085"))
    assert table.prices["eventbridge_custom_events"].tiers == tiers((None, "1"))
    assert table.prices["sqs_requests"].tiers == tiers((None, "0.4"))
    assert table.prices["kms_requests"] == Price(unit="request", per=10000, tiers=tiers((None, "0.03")))
    assert table.prices["cloudwatch_dashboard_months"].tiers == tiers((None, "3"))
    assert table.prices["route53_hosted_zone_months"].tiers == tiers((25, "0.5"), (None, "0.1"))


def test_a_line_the_api_does_not_answer_keeps_the_previous_price_and_says_so(oregon: refresh.Refresh) -> None:
    shipped = prices.shipped("us-west-2")
    unanswered = set(PRICE_KEYS) - ANSWERED
    assert set(oregon.kept) == unanswered
    assert all(oregon.table.prices[key] == shipped.prices[key] for key in unanswered)
    assert oregon.kept["logs_ingested_gb"] == "no AmazonCloudWatch product for DataProcessing-Bytes"
    kept_note = next(note for note in oregon.table.notes if note.startswith("Kept from the previous table"))
    assert f"retrieved {shipped.retrieved.isoformat()}" in kept_note and "logs_ingested_gb" in kept_note
    assert oregon.table.source == (refresh.SOURCE, *shipped.source)
    assert oregon.table.retrieved == TODAY
    assert oregon.table.free_tier == shipped.free_tier


def test_changes_name_each_line_whose_price_moved(oregon: refresh.Refresh) -> None:
    shipped = prices.shipped("us-west-2")
    moved = {change.key for change in oregon.changes}
    assert moved == {key for key in ANSWERED if oregon.table.prices[key] != shipped.prices[key]}
    for change in oregon.changes:
        assert change.old == shipped.prices[change.key] and change.new == oregon.table.prices[change.key]


def test_the_refreshed_table_is_written_for_the_user_alone_and_loaded_first(
    oregon: refresh.Refresh, user_cache: Path
) -> None:
    assert oregon.path == user_cache / "us-west-2.json"
    assert stat.S_IMODE(user_cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(oregon.path.stat().st_mode) == 0o600
    assert [entry.name for entry in user_cache.iterdir()] == ["us-west-2.json"]  # no partial file left behind
    assert prices.load("us-west-2") == oregon.table
    assert prices.parse(oregon.path.read_text(), "us-west-2.json") == oregon.table


def test_a_shipped_file_newer_than_the_refresh_wins(user_cache: Path) -> None:
    older = json.loads(refresh.render(prices.shipped("eu-west-1")))
    older["retrieved"] = "2025-01-02"
    older["prices"]["sqs_requests"]["tiers"] = [{"up_to": None, "price": "9.99"}]
    user_cache.mkdir(parents=True)
    (user_cache / "eu-west-1.json").write_text(json.dumps(older))
    assert prices.cached("eu-west-1") is not None
    assert prices.load("eu-west-1") == prices.shipped("eu-west-1")


def test_a_malformed_refresh_is_refused_in_one_line_naming_it(user_cache: Path) -> None:
    user_cache.mkdir(parents=True)
    (user_cache / "us-east-1.json").write_text('{"version": 1}')
    with pytest.raises(InputError) as error:
        prices.load("us-east-1")
    message = str(error.value)
    assert message.startswith(f"the prices file {user_cache / 'us-east-1.json'} is malformed: ")
    assert message.endswith("; refresh it (`apid costs --refresh-prices`) or delete it") and "\n" not in message


def test_a_refresh_replaces_a_malformed_one(user_cache: Path) -> None:
    user_cache.mkdir(parents=True)
    (user_cache / "us-west-2.json").write_text("{")
    with price_list(OREGON, "us-west-2") as client:
        result = refresh.refresh(client, "us-west-2", today=TODAY)
    assert prices.load("us-west-2") == result.table


def test_the_cache_follows_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("APID_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert prices.cached_file("eu-central-1") == tmp_path / "xdg" / "api-direct" / "prices" / "eu-central-1.json"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert prices.cache_dir() == tmp_path / "home" / ".cache" / "api-direct" / "prices"


def test_without_a_home_directory_there_is_no_refresh_to_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APID_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def homeless() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", homeless)
    assert prices.cached("us-east-1") is None
    assert prices.load("us-east-1") == prices.shipped("us-east-1")


def test_a_region_that_does_not_ship_is_refreshed_whole_and_then_loads() -> None:
    usage = {key: refresh.SOURCES[key] for key in PRICE_KEYS}
    catalog = {
        refresh.usage_names(source, "us-east-2")[0]: [product(source.service, "any", [(0, None, "0.0000010000")])]
        for source in usage.values()
    }
    with price_list(catalog, "us-east-2") as client:
        result = refresh.refresh(client, "us-east-2", today=TODAY)
    assert not result.kept and {change.key for change in result.changes} == set(PRICE_KEYS)
    assert all(change.old is None for change in result.changes)
    assert prices.load("us-east-2") == result.table
    assert result.table.free_tier == prices.shipped("us-east-1").free_tier


def test_a_region_that_does_not_ship_must_be_answered_whole() -> None:
    with price_list({}, "us-east-2") as client, pytest.raises(OperationFailed, match="no earlier table has them"):
        refresh.refresh(client, "us-east-2", today=TODAY)
    assert not prices.cached_file("us-east-2").exists()


def test_a_region_whose_usage_prefix_is_unknown_is_refused() -> None:
    with pytest.raises(InputError, match=r"^prices refresh only for regions .*us-west-2"):
        refresh.refresh(pricing_client(), "xx-mars-1", today=TODAY)


def only(usage_type: str, *items: dict[str, object]) -> dict[str, list[dict[str, object]]]:
    return {usage_type: list(items)}


@pytest.mark.parametrize(
    ("items", "why"),
    [
        (
            [
                product("AWSLambda", "USW2-Request", [(0, None, "0.0000002000")], sku="A"),
                product("AWSLambda", "USW2-Request", [(0, None, "0.0000002500")], sku="B"),
            ],
            "AWSLambda products for USW2-Request with different prices",
        ),
        (
            [product("AWSLambda", "USW2-Request", [(0, 10, "0.0000002000"), (20, None, "0.0000001000")])],
            "tiers with a gap or overlap at 10",
        ),
        ([product("AWSLambda", "USW2-Request", [(0, 10, "0.0000002000")])], "tiers that end before the last unit"),
        ([product("AWSLambda", "USW2-Request", [(0, None, "two cents")])], "an unreadable price dimension"),
        ([{"product": {}, "terms": {"OnDemand": {}}}], "0 on-demand terms"),
    ],
)
def test_an_answer_that_cannot_be_read_as_tiers_keeps_the_previous_price(
    items: list[dict[str, object]], why: str
) -> None:
    with price_list(only("USW2-Request", *items), "us-west-2") as client:
        result = refresh.fetch(client, "us-west-2", prices.shipped("us-west-2"), today=TODAY)
    assert result.kept["lambda_requests"].startswith(why)
    assert result.table.prices["lambda_requests"] == prices.shipped("us-west-2").prices["lambda_requests"]


def test_a_recorded_answer_reads_as_its_tier() -> None:
    with price_list(only("APN1-Lambda-GB-Second", LAMBDA_EDGE_TOKYO), "ap-northeast-1") as client:
        result = refresh.fetch(client, "ap-northeast-1", prices.shipped("ap-northeast-1"), today=TODAY)
    assert result.table.prices["lambda_gb_seconds_x86_64"].tiers == tiers((None, "0.00005001"))


def test_every_page_is_read() -> None:
    """The second page's product differs from the first's: only a refresh that read both can see it."""
    pages = only(
        "USW2-Request",
        product("AWSLambda", "USW2-Request", [(0, None, "0.0000002000")], sku="A"),
        product("AWSLambda", "USW2-Request", [(0, None, "0.0000003000")], sku="B"),
    )
    with price_list(pages, "us-west-2", paged=True) as client:
        result = refresh.fetch(client, "us-west-2", prices.shipped("us-west-2"), today=TODAY)
    assert result.kept["lambda_requests"] == "AWSLambda products for USW2-Request with different prices"


def test_every_line_has_a_price_list_source() -> None:
    """A line added to the table without one would never be refreshed, only ever kept."""
    assert set(refresh.SOURCES) == set(PRICE_KEYS)


def test_a_second_refresh_names_the_price_list_once() -> None:
    for _ in range(2):
        with price_list(OREGON, "us-west-2") as client:
            result = refresh.refresh(client, "us-west-2", today=TODAY)
    assert result.table.source.count(refresh.SOURCE) == 1
    assert not result.changes  # the same answers as the first refresh


def test_a_price_reads_in_one_line() -> None:
    assert refresh.describe(prices.shipped("us-east-1").prices["apigateway_rest_requests"]) == (
        "3.5 / 2.8 / 2.38 / 1.51 per 1,000,000 request"
    )
    assert refresh.describe(None) == "none"


def test_progress_names_each_line() -> None:
    lines: list[str] = []
    with price_list(OREGON, "us-west-2") as client:
        refresh.fetch(client, "us-west-2", prices.shipped("us-west-2"), today=TODAY, progress=lines.append)
    assert lines == [f"pricing {key}" for key in PRICE_KEYS]
