"""Creator and consumer through the real CLI, with a real control plane between them.

The control plane app runs under uvicorn on 127.0.0.1, backed by moto_server
(DynamoDB, EventBridge, STS) and moto's Cognito, whose RS256 access tokens the app
verifies against moto's public JWKS, served here. The creator signs in, links
(the control plane issues and keeps the ExternalId), deploys with brokered
credentials, publishes; a consumer subscribes and gets a key shown once; the
creator destroys and unlinks.
"""

import gzip
import importlib.resources
import json
import re
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from click.testing import CliRunner, Result

from api_direct.cli.main import cli
from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.deploy.state import load_state
from api_direct.runtime.api_keys import hash_key
from tests.conftest import EXAMPLE_DIR
from tests.control_plane.resources import create_table, serving_json
from tests.e2e.conftest import MOTO_ACCOUNT, REGION

PASSWORD = "Correct-Horse-9-Battery"
CREATOR, CONSUMER = "creator@example.com", "consumer@example.com"
TABLE, BUS = "apid-control-plane", "apid-control-plane"


@dataclass(frozen=True)
class ControlPlane:
    url: str
    aws: Any


def moto_public_jwks() -> bytes:
    resource = importlib.resources.files("moto.cognitoidp") / "resources" / "jwks-public.json.gz"
    return gzip.decompress(resource.read_bytes())


@pytest.fixture(scope="module")
def control_plane(moto_endpoint: str) -> Iterator[ControlPlane]:
    aws = lambda service: boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)  # noqa: E731
    cognito = aws("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="apid")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="apid-cli", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    for user, group in ((CREATOR, "creators"), (CONSUMER, "consumers")):
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
        cognito.admin_create_user(UserPoolId=pool_id, Username=user, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=user, Password=PASSWORD, Permanent=True)
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=user, GroupName=group)
    create_table(aws("dynamodb"), TABLE)
    aws("events").create_event_bus(Name=BUS)
    with serving_json(moto_public_jwks()) as jwks:
        settings = ControlPlaneSettings(
            region=REGION, account_id=MOTO_ACCOUNT, table_name=TABLE, event_bus_name=BUS, user_pool_id=pool_id,
            app_client_id=client_id, jwks_url=f"{jwks}/{pool_id}/.well-known/jwks.json", aws_endpoint_url=moto_endpoint,
            key_forwarding_role_arn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/apid-key-forwarding",
        )
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield ControlPlane(f"http://127.0.0.1:{port}", aws)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("cp") / "weather_api"
    shutil.copytree(EXAMPLE_DIR, target, ignore=shutil.ignore_patterns(".apid", "__pycache__", ".pytest_cache"))
    return target


@pytest.fixture(scope="module")
def apid(moto_endpoint: str, project: Path, control_plane: ControlPlane, bundle_cache_dir: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Any:
    config_home = tmp_path_factory.mktemp("xdg")

    def run(*args: str, user: str | None = None) -> Result:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("APID_CACHE_DIR", str(bundle_cache_dir))
            env.setenv("XDG_CONFIG_HOME", str(config_home))
            env.setenv("APID_PASSWORD", PASSWORD)
            if user:
                login = CliRunner().invoke(cli, ["--endpoint-url", moto_endpoint, "login", "--control-plane",
                                                 control_plane.url, "--username", user])
                assert login.exit_code == 0, login.output
            return CliRunner().invoke(cli, ["--project", str(project), "--endpoint-url", moto_endpoint, *args])

    return run


def ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.stderr or result.output}"
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def items(control_plane: ControlPlane) -> list[dict[str, Any]]:
    return control_plane.aws("dynamodb").scan(TableName=TABLE)["Items"]  # type: ignore[no-any-return]


def test_creator_links_through_the_control_plane(apid: Any, project: Path, control_plane: ControlPlane) -> None:
    linked = ok(apid("--json", "aws", "link", user=CREATOR))
    assert linked["control_plane"] == control_plane.url and linked["trusted_account_id"] == MOTO_ACCOUNT
    link = load_state(project).require_link()
    assert link.external_id is None and link.usage_bus_arn and link.usage_bus_arn.endswith(f"event-bus/{BUS}")
    [account] = [i for i in items(control_plane) if i["sk"]["S"].startswith("ACCOUNT#")]
    external_id = account["external_id"]["S"]
    trust = control_plane.aws("iam").get_role(RoleName=f"apid-deploy-{REGION}")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"sts:ExternalId": external_id}}
    assert external_id not in (project / ".apid" / "state.json").read_text()
    policy = json.loads(control_plane.aws("events").describe_event_bus(Name=BUS)["Policy"])
    assert [s["Principal"] for s in policy["Statement"]] == [{"AWS": f"arn:aws:iam::{MOTO_ACCOUNT}:root"}]


def test_deploy_uses_brokered_credentials_and_meters(apid: Any, control_plane: ControlPlane) -> None:
    deployed = ok(apid("--json", "deploy"))
    assert deployed["status"] == "CREATE_COMPLETE" and deployed["outputs"]["ApiUrl"].startswith("https://")
    functions = {f["Handler"]: f for f in control_plane.aws("lambda").list_functions()["Functions"]}
    forwarder = functions["api_direct.runtime.usage_forwarder.handler"]
    assert forwarder["Environment"]["Variables"]["CONTROL_PLANE_BUS_ARN"].endswith(f"event-bus/{BUS}")
    records = [i for i in items(control_plane) if i["sk"]["S"].startswith("DEPLOY#")]
    assert [(r["action"]["S"], r["status"]["S"]) for r in records] == [("deploy", "CREATE_COMPLETE")]


def test_publish_lists_the_api_and_routes_its_keys(apid: Any, control_plane: ControlPlane) -> None:
    ok(apid("--json", "publish"))
    listing = json.loads(urllib_get(f"{control_plane.url}/listings/weather-api"))
    assert [p["name"] for p in listing["plans"]] == ["free", "pro"]
    assert listing["openapi"]["info"]["title"] == "Weather API"
    targets = control_plane.aws("events").list_targets_by_rule(Rule="apid-keys-weather-api", EventBusName=BUS)["Targets"]
    assert [t["Arn"] for t in targets] == [f"arn:aws:events:{REGION}:{MOTO_ACCOUNT}:event-bus/apid-weather-api-keys"]
    found = json.loads(urllib_get(f"{control_plane.url}/listings?q=forecast"))
    assert [i["api_id"] for i in found["items"]] == ["weather-api"]


def test_consumer_gets_a_key_shown_once_and_stored_as_a_hash(apid: Any, control_plane: ControlPlane) -> None:
    created = ok(apid("--json", "keys", "create", "--api", "weather-api", "--plan", "free", user=CONSUMER))
    key = created["api_key"]
    assert re.fullmatch(r"apid_[A-Za-z0-9_-]{43}", key)
    listed = ok(apid("--json", "keys", "list"))
    assert [(k["key_id"], k["status"]) for k in listed["items"]] == [(created["key_id"], "active")]
    assert key not in json.dumps(listed)
    assert key not in json.dumps(items(control_plane))
    delivered = key_sync_deliveries(control_plane)
    assert [(e["detail-type"], e["detail"]["key_hash"], e["detail"]["plan"]) for e in delivered] == [
        ("KeyIssued", hash_key(key), "free")
    ]
    assert key not in json.dumps(delivered)


def test_consumer_revokes_the_key(apid: Any, control_plane: ControlPlane) -> None:
    [key] = ok(apid("--json", "keys", "list"))["items"]
    ok(apid("--json", "--yes", "keys", "revoke", key["key_id"]))
    assert [k["status"] for k in ok(apid("--json", "keys", "list"))["items"]] == ["revoked"]
    assert [e["detail-type"] for e in key_sync_deliveries(control_plane)] == ["KeyIssued", "KeyRevoked"]


def test_consumer_cannot_publish(apid: Any) -> None:
    refused = apid("publish")
    assert refused.exit_code == 4 and "only creators" in refused.stderr


def test_creator_destroys_and_unlinks(apid: Any, project: Path, control_plane: ControlPlane) -> None:
    ok(apid("--json", "destroy", "--yes", user=CREATOR))
    ok(apid("--json", "aws", "unlink", "--yes"))
    [account] = [i for i in items(control_plane) if i["sk"]["S"].startswith("ACCOUNT#")]
    assert account["status"]["S"] == "unlinked" and load_state(project).link is None
    assert "Policy" not in control_plane.aws("events").describe_event_bus(Name=BUS) or not json.loads(
        control_plane.aws("events").describe_event_bus(Name=BUS)["Policy"]
    )["Statement"]


def key_sync_deliveries(control_plane: ControlPlane) -> list[dict[str, Any]]:
    """Events that reached the creator account's key-sync function (see the emulator's Lambda-target patch)."""
    [function] = [f["FunctionName"] for f in control_plane.aws("lambda").list_functions()["Functions"]
                  if f["Handler"] == "api_direct.runtime.key_sync.handler"]
    found = control_plane.aws("logs").filter_log_events(logGroupName=f"/emulator/lambda/{function}")["events"]
    return [json.loads(e["message"]) for e in found]


def urllib_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback test server)
        return response.read().decode()  # type: ignore[no-any-return]
