"""A creator's link requests as ``apid aws link`` and ``apid aws unlink`` send them to the control plane."""

from typing import Any

from fastapi.testclient import TestClient

from tests.control_plane.marketplace import Headers

ACCOUNT = "123456789012"
REGION = "eu-west-1"


def register(api: TestClient, who: Headers, account: str = ACCOUNT, region: str = REGION) -> Any:
    return api.post("/accounts", json={"account_id": account, "region": region}, headers=who)


def link_body(account: str = ACCOUNT, region: str = REGION) -> dict[str, str]:
    """What the creator's AccountLinkStack outputs."""
    return {
        "deploy_role_arn": f"arn:aws:iam::{account}:role/apid-deploy-{region}",
        "execution_role_arn": f"arn:aws:iam::{account}:role/apid-execution-{region}",
        "asset_bucket": f"apid-assets-{account}-{region}",
    }


def confirm(api: TestClient, who: Headers, account: str = ACCOUNT, region: str = REGION) -> Any:
    return api.put(f"/accounts/{account}/{region}", json=link_body(account, region), headers=who)


def link(api: TestClient, who: Headers, account: str = ACCOUNT, region: str = REGION) -> dict[str, Any]:
    """Register and confirm: what ``apid aws link`` does against the control plane."""
    assert register(api, who, account, region).status_code in (200, 201)
    response = confirm(api, who, account, region)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def unlink(api: TestClient, who: Headers, account: str = ACCOUNT, region: str = REGION) -> Any:
    return api.delete(f"/accounts/{account}/{region}", headers=who)
