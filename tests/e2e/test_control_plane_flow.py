"""Creator and consumer through the real CLI, with a real control plane between them.

The control plane app runs under uvicorn on 127.0.0.1, backed by moto_server
(DynamoDB, EventBridge, STS) and moto's Cognito, whose RS256 access tokens the app
verifies against moto's public JWKS, served here. The creator signs in, links
(the control plane issues and keeps the ExternalId), deploys with brokered
credentials, publishes; a consumer subscribes to the paid plan (a Stripe customer
and subscription, in the local Stripe fake) and gets a key shown once. Then the
money: the deployed stack's usage forwarder (its code, its environment, in process
against moto) turns access-log lines into usage records on the control plane's
bus; the aggregator handler applies them from the queue; the hour closes and is
reported as a Stripe meter event; Stripe invoices and calls the control plane's
webhook over HTTP, signed; the creator onboards (`apid payouts setup`) and is paid
once, less the platform fee (`apid earnings`). Finally the creator destroys and unlinks.

Each step is a module-scoped fixture that runs it once, after the steps it requests,
and keeps what the CLI printed and what the control plane, the emulator and Stripe
held right after it; each test asserts on one step. So any test passes alone or in
any order, and the journey still runs once per module.
"""

import json
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import Result

from api_direct.control_plane.billing import handlers
from api_direct.control_plane.billing.earnings import close_and_pay
from api_direct.control_plane.billing.reporting import close_and_report
from api_direct.deploy.state import load_state
from api_direct.local.event_sources import log_subscription_event
from api_direct.runtime import usage_forwarder
from api_direct.runtime.api_keys import hash_key
from tests.example_project import copy_example
from tests.control_plane.billing.usage import sqs_event
from tests.e2e.moto_account import MOTO_ACCOUNT, REGION
from tests.e2e.control_plane_harness import (
    BUS,
    CONSUMER,
    CREATOR,
    TABLE,
    ControlPlane,
    apid,
    control_plane,
    ok,
    stripe_fake,
)
from tests.runtime.access_lines import access_line
from tests.runtime.lambda_context import FakeLambdaContext


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example(tmp_path_factory.mktemp("cp"))


__all__ = ["apid", "control_plane", "stripe_fake"]  # fixtures


def items(control_plane: ControlPlane) -> list[dict[str, Any]]:
    return control_plane.aws("dynamodb").scan(TableName=TABLE)["Items"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def linked_creator(apid: Any, project: Path, control_plane: ControlPlane) -> SimpleNamespace:
    """The creator signed in and linked: ``apid aws link``'s output, the link, the account, the role, the bus."""
    output = ok(apid("--json", "aws", "link", user=CREATOR))
    return SimpleNamespace(
        output=output,
        link=load_state(project).require_link(),
        state_text=(project / ".apid" / "state.json").read_text(),
        accounts=[i for i in items(control_plane) if i["sk"]["S"].startswith("ACCOUNT#")],
        trust=control_plane.aws("iam").get_role(RoleName=f"apid-deploy-{REGION}")["Role"]["AssumeRolePolicyDocument"],
        bus_policy=json.loads(control_plane.aws("events").describe_event_bus(Name=BUS)["Policy"]),
    )


@pytest.fixture(scope="module")
def deployed(apid: Any, control_plane: ControlPlane, linked_creator: SimpleNamespace) -> SimpleNamespace:
    """``apid deploy`` with brokered credentials: its output, the functions, the deployments recorded."""
    output = ok(apid("--json", "deploy", user=CREATOR))
    return SimpleNamespace(
        output=output,
        functions={f["Handler"]: f for f in control_plane.aws("lambda").list_functions()["Functions"]},
        records=[i for i in items(control_plane) if i["sk"]["S"].startswith("DEPLOY#")],
    )


@pytest.fixture(scope="module")
def published_api(apid: Any, control_plane: ControlPlane, deployed: SimpleNamespace) -> SimpleNamespace:
    """``apid publish``, then the listing, the key-routing rule's targets and a search as they were."""
    output = ok(apid("--json", "publish", user=CREATOR))
    events = control_plane.aws("events")
    return SimpleNamespace(
        output=output,
        listing=json.loads(urllib_get(f"{control_plane.url}/listings/weather-api")),
        targets=events.list_targets_by_rule(Rule="apid-keys-weather-api", EventBusName=BUS)["Targets"],
        found=json.loads(urllib_get(f"{control_plane.url}/listings?q=forecast")),
    )


@pytest.fixture(scope="module")
def issued_key(apid: Any, control_plane: ControlPlane, published_api: SimpleNamespace) -> SimpleNamespace:
    """The consumer subscribed to pro (``apid keys create``): the key, and what was listed, stored and sent."""
    created = ok(apid("--json", "keys", "create", "--api", "weather-api", "--plan", "pro", user=CONSUMER))
    return SimpleNamespace(
        created=created,
        listed=ok(apid("--json", "keys", "list", user=CONSUMER)),
        items=items(control_plane),
        delivered=key_sync_deliveries(control_plane),
        subscriptions=list(control_plane.stripe._all("subscription")),
    )


@pytest.fixture(scope="module")
def revoked_key(apid: Any, control_plane: ControlPlane, issued_key: SimpleNamespace) -> SimpleNamespace:
    """The consumer revoked the key (``apid keys revoke``): the keys listed and sent after it."""
    [key] = ok(apid("--json", "keys", "list", user=CONSUMER))["items"]
    ok(apid("--json", "--yes", "keys", "revoke", key["key_id"], user=CONSUMER))
    return SimpleNamespace(
        key=key,
        listed=ok(apid("--json", "keys", "list", user=CONSUMER)),
        delivered=key_sync_deliveries(control_plane),
    )


@pytest.fixture(scope="module")
def consumer_publishes(apid: Any, published_api: SimpleNamespace) -> Result:
    """A consumer trying ``apid publish`` on the deployed project."""
    return apid("publish", user=CONSUMER)  # type: ignore[no-any-return]


@contextmanager
def handler_environment(control_plane: ControlPlane, deployed: SimpleNamespace, moto_endpoint: str) -> Iterator[None]:
    """The environment the usage forwarder and the billing handlers run with in Lambda, caches cleared."""
    forwarder = deployed.functions["api_direct.runtime.usage_forwarder.handler"]["Environment"]["Variables"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        for name, value in {**forwarder, **control_plane.settings.environment(), "AWS_REGION": REGION}.items():
            env.setenv(name, value)
        for cached in (usage_forwarder.events_client, handlers._settings, handlers._store):
            cached.cache_clear()
        yield


@pytest.fixture(scope="module")
def forwarded_usage(
    control_plane: ControlPlane, deployed: SimpleNamespace, revoked_key: SimpleNamespace, moto_endpoint: str
) -> SimpleNamespace:
    """Seven calls on the (since revoked) key: five answered 200, two 404 (not billable on pro); CloudWatch
    delivers the log batch twice to the deployed stack's usage forwarder, and the aggregator Lambda handler
    drains the queue the usage rule filled."""
    started = datetime.now(UTC)
    now_ms = int(started.timestamp() * 1000)
    key_id = revoked_key.key["key_id"]
    lines = [
        {
            "eventId": f"{i:056d}",
            "timestamp": now_ms + i,
            "message": access_line(f"request-{i}", now_ms + i, key_id=key_id, plan="pro", status=200 if i < 5 else 404),
        }
        for i in range(7)
    ]
    with handler_environment(control_plane, deployed, moto_endpoint):
        for _ in range(2):
            usage_forwarder.handler(log_subscription_event("access", MOTO_ACCOUNT, lines), FakeLambdaContext())
        sqs = control_plane.aws("sqs")
        received = sqs.receive_message(QueueUrl=control_plane.usage_queue, MaxNumberOfMessages=10)["Messages"]
        batch = sqs_event(*(message["Body"] for message in received))
        aggregated = handlers.aggregate_usage(batch, FakeLambdaContext())
    return SimpleNamespace(started=started, received=received, aggregated=aggregated)


@pytest.fixture(scope="module")
def reported_usage(
    control_plane: ControlPlane, deployed: SimpleNamespace, forwarded_usage: SimpleNamespace, moto_endpoint: str
) -> SimpleNamespace:
    """The hour closed after its grace and reported to Stripe; the meter events Stripe then held."""
    with handler_environment(control_plane, deployed, moto_endpoint):
        store, billing = handlers._store(), handlers._billing()
        report = close_and_report(store, billing, forwarded_usage.started + timedelta(hours=3), timedelta(hours=2))
    return SimpleNamespace(
        store=store, billing=billing, report=report, meter_events=control_plane.stripe.meter_events()
    )


@pytest.fixture(scope="module")
def invoiced(
    control_plane: ControlPlane, forwarded_usage: SimpleNamespace, reported_usage: SimpleNamespace
) -> SimpleNamespace:
    """Stripe invoices the period (a test clock past the hour) and calls the control plane's webhook."""
    started = forwarded_usage.started
    hour_end = int(started.replace(minute=0, second=0, microsecond=0).timestamp()) + 3600
    invoices = control_plane.stripe.close_billing_period(at=hour_end + 60)
    return SimpleNamespace(invoices=invoices, deliveries=control_plane.stripe.deliveries())


@pytest.fixture(scope="module")
def paid_out(
    apid: Any,
    control_plane: ControlPlane,
    deployed: SimpleNamespace,
    forwarded_usage: SimpleNamespace,
    reported_usage: SimpleNamespace,
    invoiced: SimpleNamespace,
    moto_endpoint: str,
) -> SimpleNamespace:
    """The creator onboards (``apid payouts setup``), the month is paid out, ``apid earnings`` shows it."""
    with handler_environment(control_plane, deployed, moto_endpoint):
        setup = ok(apid("--json", "payouts", "setup", user=CREATOR))
        control_plane.stripe.complete_onboarding(setup["account_id"])
        paid = close_and_pay(
            reported_usage.store,
            reported_usage.billing.gateway,
            control_plane.settings.platform_fee_percent,  # type: ignore[union-attr]
            forwarded_usage.started + timedelta(days=40),
            timedelta(days=3),
        )
        earned = ok(apid("--json", "earnings", user=CREATOR))
    return SimpleNamespace(setup=setup, paid=paid, earned=earned, transfers=control_plane.stripe.transfers())


@pytest.fixture(scope="module")
def torn_down(
    apid: Any,
    project: Path,
    control_plane: ControlPlane,
    paid_out: SimpleNamespace,
    consumer_publishes: Result,
) -> SimpleNamespace:
    """Last, after every step that needs the stack: the creator destroys and unlinks."""
    ok(apid("--json", "destroy", "--yes", user=CREATOR))
    ok(apid("--json", "aws", "unlink", "--yes", user=CREATOR))
    return SimpleNamespace(
        accounts=[i for i in items(control_plane) if i["sk"]["S"].startswith("ACCOUNT#")],
        link=load_state(project).link,
        bus=control_plane.aws("events").describe_event_bus(Name=BUS),
    )


def test_creator_links_through_the_control_plane(linked_creator: SimpleNamespace, control_plane: ControlPlane) -> None:
    linked = linked_creator.output
    assert linked["control_plane"] == control_plane.url and linked["trusted_account_id"] == MOTO_ACCOUNT
    link = linked_creator.link
    assert link.external_id is None and link.usage_bus_arn and link.usage_bus_arn.endswith(f"event-bus/{BUS}")
    [account] = linked_creator.accounts
    external_id = account["external_id"]["S"]
    assert linked_creator.trust["Statement"][0]["Condition"] == {"StringEquals": {"sts:ExternalId": external_id}}
    assert external_id not in linked_creator.state_text
    policy = linked_creator.bus_policy
    assert [s["Principal"] for s in policy["Statement"]] == [{"AWS": f"arn:aws:iam::{MOTO_ACCOUNT}:root"}]


def test_deploy_uses_brokered_credentials_and_meters(deployed: SimpleNamespace) -> None:
    output = deployed.output
    assert output["status"] == "CREATE_COMPLETE" and output["outputs"]["ApiUrl"].startswith("https://")
    forwarder = deployed.functions["api_direct.runtime.usage_forwarder.handler"]
    assert forwarder["Environment"]["Variables"]["CONTROL_PLANE_BUS_ARN"].endswith(f"event-bus/{BUS}")
    assert [(r["action"]["S"], r["status"]["S"]) for r in deployed.records] == [("deploy", "CREATE_COMPLETE")]


def test_publish_weighs_each_plans_receipts_against_the_aws_cost_of_its_calls(published_api: SimpleNamespace) -> None:
    costs, margins = published_api.output["costs"], published_api.output["margins"]
    assert costs["traffic"] == "assumed" and Decimal(costs["per_1000_calls"]["total"]) > 0  # no calls yet
    assert [(m["plan"], m["loses_money"]) for m in margins] == [
        ("free", True),
        ("pro", False),
        ("starter", False),
        ("credits", False),
    ]
    assert published_api.output["warnings"] == [margins[0]["warning"]]


def test_publish_lists_the_api_and_routes_its_keys(published_api: SimpleNamespace) -> None:
    listing = published_api.listing
    assert [p["name"] for p in listing["plans"]] == ["free", "pro", "starter", "credits"]
    assert listing["openapi"]["info"]["title"] == "Weather API"
    targets = published_api.targets
    assert [t["Arn"] for t in targets] == [f"arn:aws:events:{REGION}:{MOTO_ACCOUNT}:event-bus/apid-weather-api-keys"]
    assert [i["api_id"] for i in published_api.found["items"]] == ["weather-api"]


def test_consumer_gets_a_key_shown_once_and_stored_as_a_hash(issued_key: SimpleNamespace) -> None:
    created = issued_key.created
    key = created["api_key"]
    assert re.fullmatch(r"apid_[A-Za-z0-9_-]{43}", key)
    listed = issued_key.listed
    assert [(k["key_id"], k["status"]) for k in listed["items"]] == [(created["key_id"], "active")]
    assert key not in json.dumps(listed)
    assert key not in json.dumps(issued_key.items)
    delivered = issued_key.delivered
    assert [(e["detail-type"], e["detail"]["key_hash"], e["detail"]["plan"]) for e in delivered] == [
        ("KeyIssued", hash_key(key), "pro")
    ]
    assert key not in json.dumps(delivered)
    [subscription] = issued_key.subscriptions
    assert subscription["metadata"]["apid_plan"] == "pro" and subscription["status"] == "active"


def test_consumer_revokes_the_key(revoked_key: SimpleNamespace) -> None:
    assert [k["status"] for k in revoked_key.listed["items"]] == ["revoked"]
    assert [e["detail-type"] for e in revoked_key.delivered] == ["KeyIssued", "KeyRevoked"]


def test_consumer_cannot_publish(consumer_publishes: Result) -> None:
    assert consumer_publishes.exit_code == 4 and "only creators" in consumer_publishes.stderr


def test_usage_flows_from_the_forwarder_to_the_aggregator_once(forwarded_usage: SimpleNamespace) -> None:
    received = forwarded_usage.received
    assert len(received) == 2 and len({json.loads(m["Body"])["detail"]["record_id"] for m in received}) == 1
    assert forwarded_usage.aggregated == {"batchItemFailures": []}


def test_the_closed_hour_goes_to_stripe_as_one_meter_event(reported_usage: SimpleNamespace) -> None:
    """Of the five billable calls, once."""
    assert (reported_usage.report.closed, reported_usage.report.meter_events, reported_usage.report.billed_calls) == (
        1,
        1,
        5,
    )
    [meter_event] = reported_usage.meter_events
    assert meter_event["payload"]["value"] == "5" and meter_event["event_name"] == "apid.weather-api.pro"


def test_stripe_invoices_the_period_and_ends_the_revoked_subscription(invoiced: SimpleNamespace) -> None:
    [invoice] = invoiced.invoices
    assert invoice["amount_paid"] == 1900  # the monthly fee; 5 calls are inside pro's 10000 free ones
    # The consumer revoked the key earlier: billing ended with the period, so Stripe now ends the subscription.
    assert [(d.event_type, d.status) for d in invoiced.deliveries] == [
        ("invoice.paid", 200),
        ("customer.subscription.deleted", 200),
    ]


def test_the_creator_onboards_and_is_paid_once_less_the_fees(
    paid_out: SimpleNamespace, invoiced: SimpleNamespace, control_plane: ControlPlane
) -> None:
    setup = paid_out.setup
    assert setup["onboarding_url"].startswith(control_plane.stripe.base_url) and not setup["transfers_enabled"]
    # 19.00 billed: Stripe's 0.85 on the charge and Billing's 0.13, the platform's 3.80; 14.22 paid out.
    assert (paid_out.paid.paid, paid_out.paid.transferred) == (1, 1422)
    [month] = paid_out.earned["months"]
    assert (month["state"], month["revenue"], month["stripe_fees"], month["fee"], month["payout"]) == (
        "paid",
        1900,
        98,
        380,
        1422,
    )
    assert [t["amount"] for t in paid_out.transfers] == [1422]
    [invoice] = invoiced.invoices
    assert (
        Decimal(str(paid_out.earned["fee_percent"])) == 20
        and paid_out.earned["entries"][0]["invoice_id"] == invoice["id"]
    )


def test_creator_destroys_and_unlinks(torn_down: SimpleNamespace) -> None:
    [account] = torn_down.accounts
    assert account["status"]["S"] == "unlinked" and torn_down.link is None
    assert "Policy" not in torn_down.bus or not json.loads(torn_down.bus["Policy"])["Statement"]


def key_sync_deliveries(control_plane: ControlPlane) -> list[dict[str, Any]]:
    """Events that reached the creator account's key-sync function (see the emulator's Lambda-target patch), once the
    control plane's outbox is relayed."""
    control_plane.relay_outbox()
    [function] = [
        f["FunctionName"]
        for f in control_plane.aws("lambda").list_functions()["Functions"]
        if f["Handler"] == "api_direct.runtime.key_sync.handler"
    ]
    found = control_plane.aws("logs").filter_log_events(logGroupName=f"/emulator/lambda/{function}")["events"]
    return [json.loads(e["message"]) for e in found]


def urllib_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback test server)
        return response.read().decode()  # type: ignore[no-any-return]
