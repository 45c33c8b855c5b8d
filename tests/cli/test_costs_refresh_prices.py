"""``apid costs --refresh-prices``: today's prices through the link's deploy role, what changed, one line if denied.

The link is really deployed into moto (so the deploy role is assumed as in a real
refresh); the Price List API, which moto does not serve, is a real boto3 client under
botocore's Stubber, answering in the API's recorded shape.
"""

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from api_direct.aws_costs import prices
from api_direct.deploy import price_list as deploy_price_list
from api_direct.deploy.aws import Aws
from api_direct.errors import AccessError
from tests.aws_costs.price_list import price_list, pricing_client, product
from tests.cli_aws import REGION, aws, linked, run
from tests.errors import one_line_error

__all__ = ["aws", "linked"]  # fixtures

#: us-east-1's REST requests at a new price, in one tier; every other line unanswered (kept).
DEARER_REST = {
    "USE1-ApiGatewayRequest": [product("AmazonApiGateway", "USE1-ApiGatewayRequest", [(0, None, "0.0000037")])]
}


@pytest.fixture(autouse=True)
def user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("APID_CACHE_DIR", str(tmp_path / "apid"))
    return tmp_path / "apid" / "prices"


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[list[Aws]]:
    """The Price List answers ``DEARER_REST`` for the region the test names (us-east-1 unless parametrized);
    the identities the client was made for are recorded."""
    region = getattr(request, "param", REGION)
    identities: list[Aws] = []
    with price_list(
        {name.replace("USE1", prefix(region)): items for name, items in DEARER_REST.items()}, region
    ) as client:

        def stubbed(aws: Aws) -> Any:
            identities.append(aws)
            return client

        monkeypatch.setattr(deploy_price_list, "pricing_client", stubbed)
        yield identities


def prefix(region: str) -> str:
    return {"us-east-1": "USE1", "eu-west-1": "EU"}[region]


def test_the_link_lets_the_deploy_role_read_prices(aws: Any, linked: Path) -> None:
    iam = aws("iam")
    role = f"apid-deploy-{REGION}"
    documents = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    assert any(
        statement.get("Sid") == "ReadPrices" and statement["Action"] == "pricing:GetProducts"
        for document in documents
        for statement in document["Statement"]
    )


def test_a_refresh_prints_each_changed_price_and_every_estimate_then_uses_it(
    linked: Path, answered: list[Aws], user_cache: Path
) -> None:
    shipped = prices.shipped(REGION)
    result = run(linked, "costs", "--refresh-prices")
    assert result.exit_code == 0, result.output
    assert "apigateway_rest_requests: 3.5 / 2.8 / 2.38 / 1.51 per 1,000,000 request -> 3.7 per 1,000,000 request" in (
        result.stdout
    )
    assert f"Prices for {REGION} from the AWS Price List API" in result.stdout
    assert "kept, the API did not answer: lambda_requests" in result.stdout
    assert f"{REGION}: pricing lambda_requests" in result.stderr  # progress, line by line
    refreshed = prices.load(REGION)
    assert refreshed != shipped and refreshed == prices.cached(REGION)
    assert refreshed.prices["apigateway_rest_requests"].tiers[0].price == Decimal("3.7")
    assert (user_cache / f"{REGION}.json").exists()
    [identity] = answered
    assert identity.session.get_credentials().access_key != "testing"  # the deploy role's, not the creator's


def test_json_lists_the_changes_and_the_lines_kept(linked: Path, answered: list[Aws]) -> None:
    result = run(linked, "--json", "costs", "--refresh-prices")
    assert result.exit_code == 0, result.output
    [refreshed] = json.loads(result.stdout)["prices"]
    assert refreshed["region"] == REGION and refreshed["path"].endswith(f"prices/{REGION}.json")
    [change] = refreshed["changes"]
    assert change["key"] == "apigateway_rest_requests"
    assert change["new"]["tiers"] == [{"up_to": None, "price": "3.7"}]
    assert change["old"] == prices.shipped(REGION).prices["apigateway_rest_requests"].model_dump(mode="json")
    assert set(refreshed["kept"]) == set(prices.PRICE_KEYS) - {"apigateway_rest_requests"}


@pytest.mark.parametrize("answered", ["eu-west-1"], indirect=True)
def test_region_refreshes_another_region_than_the_linked_one(linked: Path, answered: list[Aws]) -> None:
    result = run(linked, "costs", "--refresh-prices", "--region", "eu-west-1")
    assert result.exit_code == 0, result.output
    assert "Prices for eu-west-1" in result.stdout
    assert prices.load("eu-west-1").prices["apigateway_rest_requests"].tiers[0].price == Decimal("3.7")
    assert prices.cached(REGION) is None


def test_without_pricing_get_products_it_refuses_in_one_line(linked: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = pricing_client()
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "get_products", "AccessDeniedException", "not authorized to perform pricing:GetProducts"
        )
        monkeypatch.setattr(deploy_price_list, "pricing_client", lambda aws: client)
        refused = run(linked, "costs", "--refresh-prices")
    one_line_error(refused, AccessError.exit_code, "pricing:GetProducts", "`apid aws link` again")
    assert prices.cached(REGION) is None


def test_the_pricing_client_acts_as_the_given_identity_on_the_price_lists_endpoint() -> None:
    identity = Aws.from_credentials("AKIAEXAMPLE", "secret", "token", region="eu-west-1", endpoint_url=None)
    client = deploy_price_list.pricing_client(identity)
    assert client.meta.region_name == "us-east-1"
    assert client._request_signer._credentials.access_key == "AKIAEXAMPLE"
