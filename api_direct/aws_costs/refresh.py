"""Today's AWS prices for a region, read from the AWS Price List API into the user's cache.

The shipped tables are read from AWS's pricing pages on the day a release is made;
AWS changes prices between releases, and a creator in a region whose prices were
not all confirmed wants today's. ``pricing:GetProducts`` answers with AWS's own
products: each a JSON document whose on-demand term lists price dimensions, one per
volume tier (``beginRange`` to ``endRange``, ``pricePerUnit.USD`` for one unit). This
module picks, for every line of :data:`~api_direct.aws_costs.prices.PRICE_KEYS`, the
product AWS bills that line under (:data:`SOURCES`: a service and a usage type, which
AWS prefixes with a code for the region) and turns its dimensions into tiers priced
per the table's ``per`` units (the API prices one request; the table, a million).

A line the API does not answer, or answers in a shape this module does not read
(no product, several that disagree, tiers with gaps), keeps the previous table's
price, and the new table's notes say which and why: a refresh never drops a line,
and never guesses one. Free tiers stay the previous table's (AWS's free-tier page,
not the Price List, is their source), and a zero-priced first tier the API lists is
that allowance, so it is left out of the tiers. The table is checked whole
(:class:`~api_direct.aws_costs.prices.PriceTable`) before it is written, readable by
the user alone, where :func:`~api_direct.aws_costs.prices.load` looks first.

The client is passed in (a boto3 ``pricing`` client on the API's us-east-1 endpoint,
with whatever credentials the caller holds): this layer makes no AWS session of its
own, and a test passes botocore's Stubber.
"""

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, Protocol

from api_direct.aws_costs import prices
from api_direct.aws_costs.prices import PRICE_KEYS, Price, PriceTable, Tier
from api_direct.errors import InputError, OperationFailed

#: The Price List API answers only in us-east-1 (and ap-south-1), whatever region it prices.
ENDPOINT_REGION = "us-east-1"
SOURCE = "https://pricing.us-east-1.amazonaws.com/ (AWS Price List API, pricing:GetProducts)"


class PricingClient(Protocol):
    """What this module calls on boto3's ``pricing`` client."""

    def get_products(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Source:
    """Where AWS prices one line: ``service``'s product billed under the first of ``usage_types`` it has.

    Usage types are written without the region's prefix. ``global`` products (Route 53,
    CloudWatch dashboards) have one price for every region and no prefix.
    """

    service: str
    usage_types: tuple[str, ...]
    scope: Literal["region", "global"] = "region"


#: Each line of the table and the product it is priced from.
SOURCES: dict[str, Source] = {
    "lambda_requests": Source("AWSLambda", ("Request",)),
    "lambda_gb_seconds_x86_64": Source("AWSLambda", ("Lambda-GB-Second",)),
    "lambda_gb_seconds_arm64": Source("AWSLambda", ("Lambda-GB-Second-ARM",)),
    "apigateway_rest_requests": Source("AmazonApiGateway", ("ApiGatewayRequest",)),
    "logs_ingested_gb": Source("AmazonCloudWatch", ("DataProcessing-Bytes",)),
    "logs_stored_gb_month": Source("AmazonCloudWatch", ("TimedStorage-ByteHrs",)),
    "data_transfer_out_gb": Source("AWSDataTransfer", ("DataTransfer-Out-Bytes",)),
    "dynamodb_read_request_units": Source("AmazonDynamoDB", ("ReadRequestUnits",)),
    "dynamodb_write_request_units": Source("AmazonDynamoDB", ("WriteRequestUnits",)),
    # Standard queues: "Requests-Tier1" in most regions' lists, "Requests-RBP" in some.
    "sqs_requests": Source("AWSQueueService", ("Requests-Tier1", "Requests-RBP")),
    "eventbridge_custom_events": Source("AWSEvents", ("Event-64K-Chunks",)),
    "kms_key_months": Source("awskms", ("KMS-Keys",)),
    "kms_requests": Source("awskms", ("KMS-Requests",)),
    "cloudwatch_alarm_months": Source("AmazonCloudWatch", ("CW:AlarmMonitorUsage",)),
    "xray_traces_recorded": Source("AWSXRay", ("XRay-TracesStored",)),
    "cloudwatch_composite_alarm_months": Source("AmazonCloudWatch", ("CW:CompositeAlarmMonitorUsage",)),
    "cloudwatch_dashboard_months": Source("AmazonCloudWatch", ("DashboardsUsageHour-Basic",), scope="global"),
    "secretsmanager_secret_months": Source("AWSSecretsManager", ("AWSSecretsManager-Secrets",)),
    "route53_hosted_zone_months": Source("AmazonRoute53", ("HostedZone",), scope="global"),
}

#: The code AWS puts before a region's usage types (``USW2-Request``). KMS writes the region's name instead
#: (``eu-west-1-KMS-Keys``), and many us-east-1 usage types have no prefix at all.
USAGE_PREFIXES = {
    "us-east-1": "USE1",
    "us-east-2": "USE2",
    "us-west-1": "USW1",
    "us-west-2": "USW2",
    "ca-central-1": "CAN1",
    "sa-east-1": "SAE1",
    "eu-west-1": "EU",
    "eu-west-2": "EUW2",
    "eu-west-3": "EUW3",
    "eu-central-1": "EUC1",
    "eu-north-1": "EUN1",
    "eu-south-1": "EUS1",
    "ap-northeast-1": "APN1",
    "ap-northeast-2": "APN2",
    "ap-northeast-3": "APN3",
    "ap-southeast-1": "APS1",
    "ap-southeast-2": "APS2",
    "ap-south-1": "APS3",
    "ap-east-1": "APE1",
    "me-south-1": "MES1",
    "af-south-1": "AFS1",
}
_BARE_REGION = "us-east-1"


@dataclass(frozen=True)
class Change:
    """A line whose price the refresh changed (``old`` None: the region had no table before)."""

    key: str
    old: Price | None
    new: Price


@dataclass(frozen=True)
class Refresh:
    """A refreshed table, what changed against the previous one, and the lines kept from it (with why)."""

    table: PriceTable
    changes: tuple[Change, ...]
    kept: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None


class _Unanswered(Exception):
    """The API had no product for a line, or none this module can read as tiers; the message says which."""


def refresh(
    client: PricingClient,
    region: str,
    *,
    today: date | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> Refresh:
    """Fetch ``region``'s prices, write them to the user's cache and return what changed.

    The previous table is the one :func:`~api_direct.aws_costs.prices.load` reads now (an
    earlier refresh, else the shipped file); a region with neither must be answered whole,
    and takes its units and free tiers from us-east-1's table.
    """
    if region not in USAGE_PREFIXES:
        raise InputError(
            f"prices refresh only for regions whose Price List usage types are known: {', '.join(sorted(USAGE_PREFIXES))}"
        )
    previous: PriceTable | None
    try:
        previous = prices.load(region)
    except InputError:  # no table yet, or a damaged refresh that this one replaces
        previous = prices.shipped(region) if region in prices.regions() else None
    result = fetch(client, region, previous, today=today or datetime.now(UTC).date(), progress=progress)
    return Refresh(result.table, result.changes, result.kept, save(result.table))


def fetch(
    client: PricingClient,
    region: str,
    previous: PriceTable | None,
    *,
    today: date,
    progress: Callable[[str], None] = lambda line: None,
) -> Refresh:
    """The table the Price List API gives for ``region`` today, lines it does not answer kept from ``previous``."""
    units = previous or prices.shipped(_BARE_REGION)
    answered: dict[str, Price] = {}
    kept: dict[str, str] = {}
    for key in PRICE_KEYS:
        progress(f"pricing {key}")
        unit, per = units.prices[key].unit, units.prices[key].per
        try:
            answered[key] = Price(unit=unit, per=per, tiers=_answer(client, SOURCES.get(key), region, per))
        except _Unanswered as why:
            kept[key] = str(why)
    notes = _notes(today, answered, kept, previous, units)
    if kept:
        if previous is None:
            raise OperationFailed(
                f"the Price List API did not price {', '.join(kept)} in {region}, and no earlier table has them"
            )
        answered.update({key: previous.prices[key] for key in kept})
    table = PriceTable(
        version=1,
        region=region,
        currency="USD",
        source=tuple(dict.fromkeys((SOURCE, *(previous.source if kept and previous else ())))),
        retrieved=today,
        notes=notes,
        prices={key: answered[key] for key in PRICE_KEYS},
        free_tier=units.free_tier,
    )
    changes = tuple(
        Change(key, old, price)
        for key, price in table.prices.items()
        if (old := previous.prices.get(key) if previous else None) != price
    )
    return Refresh(table, changes, kept)


def save(table: PriceTable) -> Path:
    """Write ``table`` where :func:`~api_direct.aws_costs.prices.load` looks first: the folder readable by the user
    alone, the file replaced whole (a reader never sees half of it)."""
    path = prices.cached_file(table.region)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(render(table))
    os.replace(partial, path)
    return path


def render(table: PriceTable) -> str:
    """``table`` as a prices file, in the shipped files' shape (prices as decimal strings, no exponents)."""
    data = table.model_dump(mode="json")
    for price in data["prices"].values():
        for tier in price["tiers"]:
            tier["price"] = _plain(Decimal(tier["price"]))
    data["free_tier"] = {key: int(value) if value == int(value) else value for key, value in table.free_tier.items()}
    return json.dumps(data, indent=2) + "\n"


def describe(price: Price | None) -> str:
    """One line for a price: each tier's rate, per ``per`` units (``3.50 / 2.80 / 2.38 / 1.51 per 1,000,000 request``)."""
    if price is None:
        return "none"
    return f"{' / '.join(_plain(tier.price) for tier in price.tiers)} per {price.per:,} {price.unit}"


def _answer(client: PricingClient, source: Source | None, region: str, per: int) -> tuple[Tier, ...]:
    """The tiers of the product ``source`` names in ``region``; several products that agree count as one."""
    if source is None:
        raise _Unanswered("no Price List product is known for it")
    for name in usage_names(source, region):
        found = {_tiers(product, per) for product in _products(client, source.service, name)}
        if len(found) > 1:
            raise _Unanswered(f"{source.service} products for {name} with different prices")
        if found:
            return found.pop()
    raise _Unanswered(f"no {source.service} product for {' or '.join(source.usage_types)}")


def usage_names(source: Source, region: str) -> list[str]:
    """The usage types ``source`` may go by in ``region``, asked in this order until one has products."""
    if source.scope == "global":
        return list(source.usage_types)
    names: list[str] = []
    for usage in source.usage_types:
        names += [f"{USAGE_PREFIXES[region]}-{usage}", f"{region}-{usage}"]
        if region == _BARE_REGION:
            names.append(usage)
    return names


def _products(client: PricingClient, service: str, usage_type: str) -> list[Mapping[str, Any]]:
    request: dict[str, Any] = {
        "ServiceCode": service,
        "Filters": [{"Type": "TERM_MATCH", "Field": "usagetype", "Value": usage_type}],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    found: list[Mapping[str, Any]] = []
    while True:
        page = client.get_products(**request)
        found += [json.loads(item) if isinstance(item, str) else item for item in page.get("PriceList", [])]
        if not page.get("NextToken"):
            return found
        request["NextToken"] = page["NextToken"]


def _on_demand(product: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The price dimensions of ``product``'s one on-demand term, lowest tier first."""
    try:
        terms = list(product["terms"]["OnDemand"].values())
        if len(terms) != 1:
            raise _Unanswered(f"{len(terms)} on-demand terms")
        return sorted(terms[0]["priceDimensions"].values(), key=lambda dimension: Decimal(dimension["beginRange"]))
    except (KeyError, TypeError, AttributeError, InvalidOperation):
        raise _Unanswered("a product without on-demand price dimensions") from None


def _tiers(product: Mapping[str, Any], per: int) -> tuple[Tier, ...]:
    """``product``'s dimensions as tiers priced per ``per`` units; contiguous from 0 to no end, or unanswered."""
    tiers: list[Tier] = []
    start = Decimal(0)
    try:
        for dimension in _on_demand(product):
            begin, end = Decimal(dimension["beginRange"]), dimension["endRange"]
            if begin != start:
                raise _Unanswered(f"tiers with a gap or overlap at {_plain(start)}")
            up_to = None if end == "Inf" else Decimal(end)
            if up_to is not None and up_to != up_to.to_integral_value():
                raise _Unanswered(f"a tier ending at {end}, not a whole number of units")
            price = Decimal(dimension["pricePerUnit"]["USD"]) * per
            if not tiers and price == 0 and up_to is not None:
                start = up_to  # a free allowance: the table's free_tier says it
                continue
            tiers.append(Tier(up_to=None if up_to is None else int(up_to), price=price.normalize()))
            if up_to is None:
                return tuple(tiers)
            start = up_to
    except (KeyError, TypeError, InvalidOperation, ValueError) as error:
        raise _Unanswered(f"an unreadable price dimension ({type(error).__name__})") from None
    raise _Unanswered("tiers that end before the last unit" if tiers else "no priced tier")


def _notes(
    today: date, answered: Mapping[str, Price], kept: Mapping[str, str], previous: PriceTable | None, units: PriceTable
) -> tuple[str, ...]:
    notes = [
        f"Read from the AWS Price List API (pricing:GetProducts, on-demand terms) on {today.isoformat()}:"
        f" {', '.join(answered)}. The API prices one unit; each price here is per the line's `per` units.",
    ]
    if kept and previous is not None:
        reasons = "; ".join(f"{key} ({why})" for key, why in kept.items())
        notes.append(
            f"Kept from the previous table (retrieved {previous.retrieved.isoformat()}), the API did not answer: "
            f"{reasons}."
        )
    notes.append(
        f"Free tiers are the {units.region} table's of {units.retrieved.isoformat()} (AWS's free-tier page is their"
        " source); a zero-priced first tier the API lists is that allowance and is left out of the tiers."
    )
    notes.append("GB means 2^30 bytes, as AWS bills data transfer and logs.")
    return tuple(notes)


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: ``0.2``, ``3.5``, ``100``."""
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
