"""AWS's published prices for one region, read from the versioned files shipped beside this module.

The prices are data, not code: each region's file names its sources and the day they
were read, so a figure the model prints can be traced to a page and a date, and a
refresh from the Price List API (:mod:`api_direct.aws_costs.refresh`, ``apid costs
--refresh-prices``) writes a newer table to the user's cache without touching the
arithmetic; :func:`load` prefers it while it is not older than the shipped file, so
a release with newer prices wins over an old refresh. A file that does not match
:class:`PriceTable` is refused whole, in one line: a half-read price table would
give figures that look right and are not.
"""

import json
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from api_direct.contracts import user_cache_dir
from api_direct.errors import InputError

#: The line items every region's file must price: the model reads each of them.
PRICE_KEYS = (
    "lambda_requests",
    "lambda_gb_seconds_x86_64",
    "lambda_gb_seconds_arm64",
    "apigateway_rest_requests",
    "logs_ingested_gb",
    "logs_stored_gb_month",
    "data_transfer_out_gb",
    "dynamodb_read_request_units",
    "dynamodb_write_request_units",
    "sqs_requests",
    "eventbridge_custom_events",
    "kms_key_months",
    "kms_requests",
    "cloudwatch_alarm_months",
    "xray_traces_recorded",
    # What a stack's resources cost by the month, whatever its traffic (aws_costs.stack_costs).
    "cloudwatch_composite_alarm_months",
    "cloudwatch_dashboard_months",
    "secretsmanager_secret_months",
    "route53_hosted_zone_months",
)

#: Free allowances that several lines share: Lambda's GB-seconds are free once a month, whichever architecture.
FREE_POOLS = {"lambda_gb_seconds_x86_64": "lambda_gb_seconds", "lambda_gb_seconds_arm64": "lambda_gb_seconds"}

_PACKAGE = "api_direct.aws_costs"
_FOLDER = "prices"


class Tier(BaseModel):
    """One step of a price: ``price`` per ``per`` units, for the month's volume up to ``up_to`` (``None``: no end)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    up_to: int | None = Field(default=None, gt=0)
    price: Decimal = Field(ge=0)


class Price(BaseModel):
    """What AWS charges for one kind of usage; tiers are by the account's volume in the region over a month."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str = Field(min_length=1)
    per: int = Field(gt=0)
    tiers: tuple[Tier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _tiers_ascend_to_no_end(self) -> "Price":
        bounds = [tier.up_to for tier in self.tiers]
        if bounds[-1] is not None or None in bounds[:-1]:
            raise ValueError("only the last tier may have no upper bound, and it must have none")
        ends = [bound for bound in bounds if bound is not None]
        if ends != sorted(set(ends)):
            raise ValueError("tier bounds must increase")
        return self

    def cost(self, quantity: Decimal, already: Decimal = Decimal(0)) -> Decimal:
        """The exact cost of ``quantity`` units after ``already`` units were billed this month.

        ``already`` is what places usage on the tiers: a day late in a busy month is
        billed at the lower rates its month reached, not the first tier's.
        """
        if quantity < 0 or already < 0:
            raise ValueError("usage cannot be negative")
        total = Decimal(0)
        start, end = already, already + quantity
        lower = Decimal(0)
        for tier in self.tiers:
            upper = None if tier.up_to is None else Decimal(tier.up_to)
            overlap = (end if upper is None else min(end, upper)) - max(start, lower)
            if overlap > 0:
                total += overlap * tier.price / self.per
            if upper is None or end <= upper:
                break
            lower = upper
        return total


class PriceTable(BaseModel):
    """A region's prices file: the prices the model needs, where they came from and when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    region: str = Field(min_length=1)
    currency: Literal["USD"]
    source: tuple[str, ...] = Field(min_length=1)
    retrieved: date
    notes: tuple[str, ...] = ()
    prices: dict[str, Price]
    #: Units of each line (or pool of lines, :data:`FREE_POOLS`) AWS gives free every month; applied on request.
    free_tier: dict[str, Decimal] = {}

    @model_validator(mode="after")
    def _prices_every_line(self) -> "PriceTable":
        missing = [key for key in PRICE_KEYS if key not in self.prices]
        if missing:
            raise ValueError(f"no price for {', '.join(missing)}")
        unknown = sorted(set(self.free_tier) - set(self.prices) - set(FREE_POOLS.values()))
        if unknown:
            raise ValueError(f"a free tier for an unpriced line: {', '.join(unknown)}")
        return self


def regions() -> list[str]:
    """The regions a prices file ships for, sorted."""
    folder = resources.files(_PACKAGE) / _FOLDER
    return sorted(entry.name.removesuffix(".json") for entry in folder.iterdir() if entry.name.endswith(".json"))


def parse(text: str, name: str) -> PriceTable:
    """Read one prices file's ``text``; ``name`` says which file in the one-line refusal."""
    try:
        return PriceTable.model_validate(json.loads(text))
    except json.JSONDecodeError as error:
        raise InputError(f"the prices file {name} is not JSON: {error.msg} at line {error.lineno}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the top level"
        raise InputError(f"the prices file {name} is malformed: {where}: {first['msg']}") from None


def cache_dir() -> Path:
    """Where refreshed tables go: ``$APID_CACHE_DIR/prices``, else ``$XDG_CACHE_HOME/api-direct/prices``, else
    ``~/.cache/api-direct/prices``: the user cache the bundler uses too (:func:`~api_direct.contracts.user_cache_dir`)."""
    return user_cache_dir() / _FOLDER


def cached_file(region: str) -> Path:
    """The user's refreshed table for ``region``, whether or not there is one yet."""
    return cache_dir() / f"{region}.json"


def shipped(region: str) -> PriceTable:
    """The table that ships for ``region``; a region with none is refused in one line that lists the ones there are."""
    if region not in regions():
        raise InputError(f"no AWS prices for region {region!r}; prices ship for {', '.join(regions())}")
    name = f"{region}.json"
    return _for_region(
        parse((resources.files(_PACKAGE) / _FOLDER / name).read_text(encoding="utf-8"), name), region, name
    )


def cached(region: str) -> PriceTable | None:
    """The user's refreshed table for ``region``, None when there is none.

    A damaged one is refused (the same one line as a shipped file's, naming the path and
    the two ways out) rather than skipped: prices that silently went back to an older
    table would be a wrong figure no one asked for.
    """
    try:
        path = cached_file(region)
    except RuntimeError:  # no home directory to find a cache in (a Lambda function's sandbox): no refresh
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(f"cannot read the prices file {path}: {error.strerror}") from None
    try:
        return _for_region(parse(text, str(path)), region, str(path))
    except InputError as error:
        raise InputError(f"{error}; refresh it (`apid costs --refresh-prices`) or delete it") from None


def load(region: str) -> PriceTable:
    """The prices for ``region``: the user's refreshed table when it is not older than the shipped one, else the
    shipped one; a refreshed region that does not ship (``--refresh-prices --region``) has only its refresh."""
    refreshed = cached(region)
    if refreshed is not None and region not in regions():
        return refreshed
    table = shipped(region)
    return refreshed if refreshed is not None and refreshed.retrieved >= table.retrieved else table


def _for_region(table: PriceTable, region: str, name: str) -> PriceTable:
    if table.region != region:
        raise InputError(f"the prices file {name} is for region {table.region!r}, not {region!r}")
    return table
