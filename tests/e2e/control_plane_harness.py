"""A control plane on loopback for the end-to-end tests: its app under uvicorn, backed by moto_server and a Stripe fake.

The control plane's app runs in a thread on 127.0.0.1, with its table, bus and
Cognito pool (a creator and a consumer, signed in with :data:`PASSWORD`) in the
emulator and its Stripe key in the emulator's Secrets Manager, pointing at a local
Stripe fake. ``apid`` runs the real CLI on the module's ``project`` fixture as a
user, signing in first whenever the user changes. A test module uses the fixtures
by importing them (pytest then finds them there).
"""

import gzip
import importlib.resources
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from click.testing import CliRunner, Result

from api_direct.cli.main import cli
from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.bus import ControlPlaneBus
from api_direct.control_plane.api.outbox import is_relayed, relay_batch
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.local.event_sources import drain_stream
from api_direct.local.stripe_server import StripeFake, running_stripe_fake
from api_direct.runtime import usage_forwarder
from tests.control_plane.resources import create_table, serving_json
from tests.e2e.moto_account import MOTO_ACCOUNT, REGION

PASSWORD = "Correct-Horse-9-Battery"
CREATOR, CONSUMER = "creator@example.com", "consumer@example.com"
TABLE, BUS = "apid-control-plane", "apid-control-plane"


@dataclass(frozen=True)
class ControlPlane:
    url: str
    aws: Any
    settings: ControlPlaneSettings
    stripe: StripeFake
    #: Where the usage rule on the bus delivers (the ``UsageBilling`` construct's queue, made by hand here).
    usage_queue: str
    #: How far the table's stream was relayed (shard id -> sequence number), as the relay's mapping keeps it.
    outbox_checkpoints: dict[str, str] = field(default_factory=dict)

    def relay_outbox(self) -> int:
        """Relay the key events new in the table's outbox to the bus, as the stack's relay function does; how many."""
        stream = self.aws("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        bus = ControlPlaneBus(self.aws("events"), BUS, None)
        return drain_stream(
            self.aws("dynamodbstreams"),
            stream,
            lambda event: relay_batch(event, bus),
            self.outbox_checkpoints,
            is_relayed,
        )


def moto_public_jwks() -> bytes:
    resource = importlib.resources.files("moto.cognitoidp") / "resources" / "jwks-public.json.gz"
    return gzip.decompress(resource.read_bytes())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[StripeFake]:
    with running_stripe_fake() as fake:
        yield fake


def usage_queue(aws: Any) -> str:
    """What ``UsageBilling`` builds on the bus: usage records to a queue the aggregator drains."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="apid-usage")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws("events").put_rule(
        Name="apid-usage",
        EventBusName=BUS,
        EventPattern=json.dumps(
            {"source": [usage_forwarder.USAGE_SOURCE], "detail-type": [usage_forwarder.USAGE_DETAIL_TYPE]}
        ),
    )
    aws("events").put_targets(Rule="apid-usage", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


@pytest.fixture(scope="module")
def control_plane(moto_endpoint: str, stripe_fake: StripeFake) -> Iterator[ControlPlane]:
    aws = lambda service: boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)  # noqa: E731
    cognito = aws("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="apid")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="apid-cli",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    for user, group in ((CREATOR, "creators"), (CONSUMER, "consumers")):
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
        cognito.admin_create_user(UserPoolId=pool_id, Username=user, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=user, Password=PASSWORD, Permanent=True)
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=user, GroupName=group)
    create_table(aws("dynamodb"), TABLE)
    aws("events").create_event_bus(Name=BUS)
    port = free_port()
    webhook_secret = stripe_fake.add_webhook_endpoint(f"http://127.0.0.1:{port}/stripe/webhook")
    secret = aws("secretsmanager").create_secret(
        Name="apid-stripe", SecretString=json.dumps({"api_key": stripe_fake.api_key, "webhook_secret": webhook_secret})
    )
    with serving_json(moto_public_jwks()) as jwks:
        settings = ControlPlaneSettings(
            region=REGION,
            account_id=MOTO_ACCOUNT,
            table_name=TABLE,
            event_bus_name=BUS,
            user_pool_id=pool_id,
            app_client_id=client_id,
            jwks_url=f"{jwks}/{pool_id}/.well-known/jwks.json",
            aws_endpoint_url=moto_endpoint,
            key_forwarding_role_arn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/apid-key-forwarding",
            stripe_secret_arn=secret["ARN"],
            stripe_api_base=stripe_fake.base_url,
        )
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield ControlPlane(f"http://127.0.0.1:{port}", aws, settings, stripe_fake, usage_queue(aws))
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def apid(
    moto_endpoint: str,
    project: Path,
    control_plane: ControlPlane,
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    """Run ``apid`` on the project as ``user`` (``input`` its stdin), signing in first whenever the user changes."""
    config_home = tmp_path_factory.mktemp("xdg")
    signed_in: list[str] = []

    def run(*args: str, user: str, input: str | None = None) -> Result:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("XDG_CONFIG_HOME", str(config_home))
            env.setenv("APID_PASSWORD", PASSWORD)
            if signed_in != [user]:
                login = CliRunner().invoke(
                    cli,
                    [
                        "--endpoint-url",
                        moto_endpoint,
                        "login",
                        "--control-plane",
                        control_plane.url,
                        "--username",
                        user,
                    ],
                )
                assert login.exit_code == 0, login.output
                signed_in[:] = [user]
            return CliRunner().invoke(
                cli, ["--project", str(project), "--endpoint-url", moto_endpoint, *args], input=input
            )

    return run


def ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.stderr or result.output}"
    return json.loads(result.stdout)  # type: ignore[no-any-return]
