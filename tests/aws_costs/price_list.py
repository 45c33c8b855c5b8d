"""GetProducts answers in the AWS Price List API's real shape, for tests of the prices refresh.

Each ``PriceList`` item is a JSON string (boto3 hands them over unparsed) holding
``product`` (sku, productFamily, attributes with usagetype and regionCode),
``serviceCode``, ``terms.OnDemand.<sku>.<offer term>`` with ``priceDimensions`` keyed
by rate code (beginRange, endRange, "Inf" for no end, unit, pricePerUnit.USD as a
ten-place decimal string), ``version`` and ``publicationDate``: the shape of a
response recorded from the API (:data:`LAMBDA_EDGE_TOKYO`, copied from one).
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.stub import Stubber

from api_direct.aws_costs import refresh
from api_direct.aws_costs.prices import PRICE_KEYS

#: One item of a recorded GetProducts answer (AWSLambda in ap-northeast-1), verbatim but for layout.
LAMBDA_EDGE_TOKYO = {
    "product": {
        "productFamily": "Serverless",
        "attributes": {
            "regionCode": "ap-northeast-1",
            "servicecode": "AWSLambda",
            "groupDescription": "Invocation duration weighted by memory assigned to function, measured in GB-s",
            "usagetype": "APN1-Lambda-Edge-GB-Second",
            "locationType": "AWS Region",
            "location": "Asia Pacific (Tokyo)",
            "servicename": "AWS Lambda",
            "operation": "",
            "group": "AWS-Lambda-Edge-Duration",
        },
        "sku": "JC3XFM9B7WBA85YZ",
    },
    "serviceCode": "AWSLambda",
    "terms": {
        "OnDemand": {
            "JC3XFM9B7WBA85YZ.JRTCKXETXF": {
                "priceDimensions": {
                    "JC3XFM9B7WBA85YZ.JRTCKXETXF.6YS6EN2CT7": {
                        "unit": "Lambda-GB-Second",
                        "endRange": "Inf",
                        "description": "AWS Lambda Edge - Total Compute - Asia Pacific (Tokyo)",
                        "appliesTo": [],
                        "rateCode": "JC3XFM9B7WBA85YZ.JRTCKXETXF.6YS6EN2CT7",
                        "beginRange": "0",
                        "pricePerUnit": {"USD": "0.0000500100"},
                    }
                },
                "sku": "JC3XFM9B7WBA85YZ",
                "effectiveDate": "2021-11-01T00:00:00Z",
                "offerTermCode": "JRTCKXETXF",
                "termAttributes": {},
            }
        }
    },
    "version": "20211116085425",
    "publicationDate": "2021-11-16T08:54:25Z",
}

#: A tier as the API lists it: (beginRange, endRange or None for "Inf", pricePerUnit.USD).
Dimension = tuple[int, int | None, str]


def product(
    service: str, usage_type: str, dimensions: Sequence[Dimension], *, region: str = "", sku: str = "SKU"
) -> dict[str, Any]:
    """One Price List product in the recorded shape, with ``dimensions`` as its on-demand tiers."""
    term = f"{sku}.JRTCKXETXF"
    return {
        "product": {
            "productFamily": "Serverless",
            "attributes": {"regionCode": region, "servicecode": service, "usagetype": usage_type, "operation": ""},
            "sku": sku,
        },
        "serviceCode": service,
        "terms": {
            "OnDemand": {
                term: {
                    "priceDimensions": {
                        f"{term}.RATE{index}": {
                            "unit": "Units",
                            "endRange": "Inf" if end is None else str(end),
                            "description": f"{usage_type} tier {index}",
                            "appliesTo": [],
                            "rateCode": f"{term}.RATE{index}",
                            "beginRange": str(begin),
                            "pricePerUnit": {"USD": usd},
                        }
                        for index, (begin, end, usd) in enumerate(dimensions)
                    },
                    "sku": sku,
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF",
                    "termAttributes": {},
                }
            }
        },
        "version": "20261201000000",
        "publicationDate": "2026-12-01T00:00:00Z",
    }


def request(service: str, usage_type: str, next_token: str | None = None) -> dict[str, Any]:
    """The GetProducts request the refresh makes for one usage type."""
    return {
        "ServiceCode": service,
        "Filters": [{"Type": "TERM_MATCH", "Field": "usagetype", "Value": usage_type}],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
        **({"NextToken": next_token} if next_token else {}),
    }


def answer(*items: Mapping[str, Any], next_token: str | None = None) -> dict[str, Any]:
    return {
        "FormatVersion": "aws_v1",
        "PriceList": [json.dumps(item) for item in items],
        **({"NextToken": next_token} if next_token else {}),
    }


def pricing_client() -> Any:
    """A real boto3 pricing client; with a Stubber activated on it, no call leaves the process."""
    return boto3.client("pricing", region_name=refresh.ENDPOINT_REGION)


@contextmanager
def price_list(
    catalog: Mapping[str, Sequence[Mapping[str, Any]]], region: str, *, paged: bool = False
) -> Iterator[Any]:
    """A stubbed client that answers a refresh of ``region`` from ``catalog`` (usage type -> products), expecting
    exactly the requests a refresh makes, in its order: every line's usage types until one has products.
    ``paged``: one product a page, each page but the last with a NextToken."""
    client = pricing_client()
    with Stubber(client) as stubber:
        for key in PRICE_KEYS:
            source = refresh.SOURCES.get(key)
            for name in refresh.usage_names(source, region) if source else ():
                items = list(catalog.get(name, ()))
                pages = [[item] for item in items] if paged and items else [items]
                for number, page in enumerate(pages):
                    token = f"{name}/{number + 1}" if number + 1 < len(pages) else None
                    asked = request(source.service, name, f"{name}/{number}" if number else None)
                    stubber.add_response("get_products", answer(*page, next_token=token), asked)
                if items:
                    break
        yield client
        stubber.assert_no_pending_responses()
