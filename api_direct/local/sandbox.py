"""``apid sandbox``: the whole product on one machine, from deploy to payout, checked.

An AWS emulator (the patched moto server) and the Stripe fake start on loopback;
then every step runs the product's own code against them, in the order a real
marketplace lives it: the operator deploys the control plane template and
connects Stripe; a creator and a consumer sign up; the creator links an
(emulated) account, deploys the project's API through the deploy role the control
plane assumes, and publishes it with its plans; the consumer finds it, subscribes
and gets a key; calls go through the API's authorizer and app; their access log
becomes usage records, counted, closed and billed as Stripe meter events; Stripe
invoices; the creator onboards to Connect and is paid, less the platform fee.

Where AWS would run one of our functions, :class:`~.lambda_runtime.LocalLambda`
runs it here with the deployed function's environment; where time would pass
(an hour's grace, a billing period, a month), the scheduled functions run as of a
later time (their event's ``time``) and Stripe's test clock moves.

The calls are the app's own: each GET and POST operation of its OpenAPI document,
filled in by :mod:`~.sample_calls` (computed before anything starts, so an app
with nothing to call is refused at once), with a missing key, a wrong key and an
unknown route mixed in. Nothing in the story knows one app's routes.

The result is a :class:`Summary` whose numbers come from where the product keeps
them (meter events and invoices in Stripe, the ledger via ``GET /earnings``,
transfers), each checked against what the calls imply.

Kept (``keep``), the sandbox stays live, as AWS would: the API's stage is served
on a loopback port, and a background thread delivers what CloudWatch Logs,
EventBridge and SQS would (new access-log lines to the usage forwarder, usage
records to the aggregator, key changes to the creator's key sync), so a new
subscriber's key works and calls show in the control plane's counters.
"""

import importlib.util
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

import uvicorn

from api_direct.client import sign_in
from api_direct.contracts import ALERT_QUEUE_URL_ENV
from api_direct.client.control_plane import ControlPlane
from api_direct.client.publishing import export_openapi, publish
from api_direct.bundling.fastapi_code import ADAPTER_MODULE, HANDLER_MODULE, write_handler
from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.outbox import is_relayed
from api_direct.control_plane.api.settings import ENV_PREFIX, ControlPlaneSettings
from api_direct.deploy import operations
from api_direct.deploy.aws import creator_aws
from api_direct.deploy.aws_target import AwsTarget
from api_direct.deploy.executor import Observer
from api_direct.deploy.link import link_through_control_plane
from api_direct.deploy.stacks import resource_counts
from api_direct.deploy.state import load_state, save_state
from api_direct.errors import InputError, OperationFailed, StateError
from api_direct.local import event_sources
from api_direct.local.control_plane import API_HANDLER, deploy_control_plane
from api_direct.local.emulator import running_moto_server
from api_direct.local.agent_calls import AgentRun, agent_run
from api_direct.local.mcp_loopback import LocalInvokeApi, gateway_resolved_here
from api_direct.local.lambda_runtime import DeployedFunction, LocalLambda, environment, stack_functions
from api_direct.local.rest_api import DeployedRestApi, GatewayRules, LocalRestApi, Response
from api_direct.local.rest_proxy import HttpRequest, HttpResponse, failed
from api_direct.local.sample_calls import SampleCall, SampleCalls, sample_calls
from api_direct.local.sandbox_money import Check, Costs, Money, Run, Sent, cost_checks, story_for
from api_direct.local.stripe_server import StripeFake, running_stripe_fake
from api_direct.project import PricingPlan, Project, billable_calls, load_project
from api_direct.runtime.mcp_tools import MCP_PATH, Toolset, tools_of
from api_direct.runtime.route_weights import RouteWeights

REGION = "us-east-1"
CREATOR, CONSUMER = "creator@sandbox.example", "consumer@sandbox.example"
#: Handlers of the functions the sandbox runs, as the constructs configure them.
POST_CONFIRMATION = "api_direct.runtime.post_confirmation.handler"
AGGREGATOR = "api_direct.control_plane.billing.handlers.aggregate_usage"
CLOSER = "api_direct.control_plane.billing.handlers.close_periods"
PAYER = "api_direct.control_plane.billing.handlers.pay_out"
ALERT_DELIVERER = "api_direct.control_plane.billing.handlers.deliver_alerts"
OUTBOX_RELAY = "api_direct.control_plane.api.outbox.relay"
AUTHORIZER = "api_direct.runtime.authorizer.handler"
KEY_SYNC = "api_direct.runtime.key_sync.handler"
FORWARDER = "api_direct.runtime.usage_forwarder.handler"
MCP_SERVER = "api_direct.runtime.mcp_server.handler"
APP = f"{HANDLER_MODULE}.handler"
_SERVER_START_SECONDS = 20.0
#: How often the kept sandbox delivers what AWS's services would have by then.
_DELIVERY_SECONDS = 0.5
#: What API Gateway answers for a URL outside the stage, and for a request its authorizer failed.
_FORBIDDEN = b'{"message":"Forbidden"}'
_INTERNAL_ERROR = b'{"message":"Internal server error"}'
#: The consumer's key the sandbox's wrong-key calls present: well formed, never issued.
WRONG_KEY = "apid_" + "x" * 43
#: Response headers the kept gateway writes itself (http.server adds Date and Server; the length is the body's).
_GATEWAY_OWN_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "date", "server"})


class Narrator(Protocol):
    """How the sandbox tells what it is doing (the CLI renders it with rich)."""

    #: Hears the deploy engine's steps and stack events.
    observer: Observer

    def step(self, title: str) -> AbstractContextManager[None]:
        """One step of the story: shown while it runs, marked done (or failed) after."""

    def detail(self, text: str) -> None:
        """A line about the step running."""


@dataclass(frozen=True)
class Summary:
    calls: int
    #: Billable units metered in Stripe: each billable call counts its route's weight (``[[routes]]``).
    billable: int
    #: Of ``calls``, those an AI agent made as MCP tool calls (each one call to its route).
    mcp_tool_calls: int
    #: Cents, in the control plane's currency: what consumers paid, Stripe kept, the platform kept.
    billed: int
    stripe_fees: int
    fee: int
    payout: int
    currency: str
    #: Dollars, as decimal strings: the control plane's estimate of AWS's bill for the calls, the stack's fixed
    #: monthly cost, and the creator's margin (what consumers paid less every fee and both AWS costs).
    aws_variable_cost: str
    aws_fixed_monthly: str
    margin: str
    seconds: float
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


@dataclass(frozen=True)
class Endpoints:
    """What is left running with ``--keep``, live, for the user to explore."""

    aws: str
    control_plane: str
    stripe: str
    #: The URL API Gateway gave the deployed stage; the emulator cannot serve it (``gateway`` does).
    api_url: str
    #: The deployed stage, served on loopback as API Gateway would: ``curl -H "x-api-key: KEY" <gateway><path>``.
    gateway: str
    #: The first of the app's calls the sandbox made, for a first ``curl`` to try.
    sample: SampleCall
    workdir: Path
    config_home: Path
    password: str
    consumer_key: str
    #: One delivery cycle now, rather than within the next half second; how many lines, records and events.
    deliver: Callable[[], int]
    users: tuple[str, ...] = (CREATOR, CONSUMER)
    #: The stage's MCP endpoint for agents (``<gateway>/mcp``), if the API serves one.
    mcp: str | None = None
    #: Sign up one more user (email, then ``consumers`` or ``creators``) with ``password``, as the story signed up
    #: its two, Cognito's trigger included: what a load of many consumers needs (``bench/load.py``).
    sign_up: Callable[[str, str], None] | None = None

    @property
    def marketplace(self) -> str:
        """The control plane app's web pages for consumers: search, subscribe."""
        return f"{self.control_plane}/web/"

    @property
    def portal(self) -> str:
        """The control plane app's web pages for creators."""
        return f"{self.control_plane}/web/portal"


#: Why a call was made, as the summary's checks name them.
GOOD, NO_KEY, WRONG, UNKNOWN_ROUTE = "good", "missing key", "wrong key", "unknown route"


@dataclass(frozen=True)
class _Made:
    purpose: str
    call: SampleCall
    response: Response


@dataclass
class _Calls:
    made: list[_Made] = field(default_factory=list)
    #: What the agent's tool calls sent to their routes, through the gateway, as the gateway answered.
    routed: list[Response] = field(default_factory=list)
    agent: AgentRun | None = None
    #: What ``/mcp`` answered without a key and with a wrong one.
    mcp_rejections: tuple[int, int] = (0, 0)

    @property
    def responses(self) -> list[Response]:
        return [made.response for made in self.made] + self.routed

    def count(self, purpose: str, statuses: Callable[[int], bool] = lambda status: True) -> int:
        return sum(1 for made in self.made if made.purpose == purpose and statuses(made.response.status))


def run_sandbox(
    project_dir: Path,
    narrator: Narrator,
    *,
    calls: int,
    plan_name: str | None = None,
    keep: Callable[[Endpoints], None] | None = None,
) -> Summary:
    """Run the whole loop; with ``keep``, call it with the endpoints before stopping everything.

    Whatever happens, everything started is stopped and the work folder removed on return.
    """
    if importlib.util.find_spec("moto") is None:
        raise StateError("apid sandbox needs the AWS emulator: pip install 'api-direct[local]' (make install does)")
    # A bad project, or an app with nothing to call, fails before anything starts.
    project = load_project(project_dir)
    plan = _chosen_plan(project.config.plans, plan_name)
    started = time.monotonic()
    openapi = export_openapi(project)
    samples = callable_operations(project, openapi)
    workdir = Path(tempfile.mkdtemp(prefix="apid-sandbox-"))
    try:
        with ExitStack() as stack:
            sandbox = _Sandbox(workdir, narrator, stack)
            summary = sandbox.run(project_dir, calls, plan, started, openapi, samples)
            if keep is not None:
                keep(sandbox.live())
            return summary
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def callable_operations(project: Project, openapi: Mapping[str, Any]) -> SampleCalls:
    """The calls the sandbox can make to the app, from its OpenAPI document; ``InputError`` if there are none."""
    samples = sample_calls(openapi)
    if not samples.calls:
        skipped = "; ".join(str(operation) for operation in samples.skipped) or "it has no operations"
        raise InputError(
            f"apid sandbox has no GET or POST operation of {project.config.api.app} to call, "
            f"from its OpenAPI document: {skipped}"
        )
    return samples


class _Sandbox:
    def __init__(self, workdir: Path, narrator: Narrator, stack: ExitStack) -> None:
        self.workdir = workdir
        self.narrator = narrator
        self.stack = stack
        self.password = f"Sb-{secrets.token_urlsafe(12)}-9a"
        self.config_home = workdir / "config"
        self.log: IO[str] = stack.enter_context((workdir / "lambda.log").open("w"))
        #: Held for every function run once the sandbox is kept: LocalLambda sets os.environ and sys.stdout.
        self.lock = threading.Lock()
        #: Event ids of the access-log lines and recorded key events already delivered: each runs once.
        self.delivered_lines: set[str] = set()
        self.delivered_key_events: set[str] = set()
        #: Where the control plane table's stream was relayed to (shard id -> sequence number), as its mapping keeps.
        self.outbox_checkpoints: dict[str, str] = {}
        #: Epoch seconds of the first usage hour the story has not closed (0: it has closed none).
        self.usage_open_from = 0.0

    # The story, step by step.

    def run(
        self,
        project_dir: Path,
        calls: int,
        plan: PricingPlan,
        started: float,
        openapi: Mapping[str, Any],
        samples: SampleCalls,
    ) -> Summary:
        with self.narrator.step("Start the AWS emulator (moto) and the Stripe fake on 127.0.0.1"):
            self.endpoint = self.stack.enter_context(running_moto_server())
            self.stack.enter_context(environment(self._environment()))
            self.stripe: StripeFake = self.stack.enter_context(running_stripe_fake())
            self.aws = creator_aws(AwsTarget(None, REGION, self.endpoint))
            # The control plane's functions call the Stripe fake, as the app does; never api.stripe.com.
            # Lambda's Invoke API for the functions (the MCP function asks the app for its OpenAPI document).
            self.invoke = LocalInvokeApi(errors=self.log)
            self.stack.enter_context(self.invoke.serving())
            self.runtime = LocalLambda(
                {
                    **self._environment(),
                    "AWS_ENDPOINT_URL_LAMBDA": self.invoke.url,
                    f"{ENV_PREFIX}STRIPE_API_BASE": self.stripe.base_url,
                    f"{ENV_PREFIX}AWS_ENDPOINT_URL": self.endpoint,
                    # Consumers' webhooks here are receivers on this machine.
                    f"{ENV_PREFIX}WEBHOOKS_ALLOW_LOOPBACK": "true",
                },
                self.log,
            )
            self.narrator.detail(f"AWS: {self.endpoint}   Stripe: {self.stripe.base_url}")
        with self.narrator.step("Deploy the control plane template (operator)"):
            deployment = deploy_control_plane(self.aws, self.narrator.observer, self.workdir / "control-plane.out")
            self.control_functions = deployment.functions
        with self.narrator.step("Connect Stripe and serve the control plane API"):
            # What the API function reads from its environment beyond its settings: the queue notices go to.
            api_environment = deployment.functions[API_HANDLER].environment
            self.stack.enter_context(environment({ALERT_QUEUE_URL_ENV: api_environment.get(ALERT_QUEUE_URL_ENV)}))
            self.settings = self._serve_control_plane(deployment.settings, deployment.outputs["StripeSecretArn"])
            self.narrator.detail(f"control plane: {self.control_plane_url}")
        with self.narrator.step(f"Sign up a creator ({CREATOR}) and a consumer ({CONSUMER})"):
            for email, role in ((CREATOR, "creators"), (CONSUMER, "consumers")):
                self._sign_up(email, role)
        project_root = self.workdir / "project"
        shutil.copytree(
            project_dir, project_root, ignore=shutil.ignore_patterns(".apid", "__pycache__", ".pytest_cache")
        )
        project = load_project(project_root)
        with self.narrator.step("Link the creator's AWS account (deploy role trusts only the control plane)"):
            creator = self._login(CREATOR)
            record = link_through_control_plane(self.aws, self.narrator.observer, creator)
            self.creator_account = record.account_id
            save_state(project_root, load_state(project_root).with_link(record))
            self.narrator.detail(f"deploy role {record.deploy_role_arn}")
        with self.narrator.step(f"Deploy {project.config.api.name} through the assumed deploy role"):
            session = operations.open_session(
                project_root, AwsTarget(None, REGION, self.endpoint), self.narrator.observer
            )
            deployed = operations.deploy(session, confirm=lambda _: False)
            aws, stack = operations.deployed_stack(session, "reading status", needed_for="publishing")
            resources = resource_counts(aws.client("cloudformation"), stack.name)
            self.api_url = deployed.outputs["ApiUrl"]
            self.narrator.detail(f"{deployed.status}: {self.api_url}")
        with self.narrator.step(
            f"Publish {project.config.api.name} with plans {', '.join(p.name for p in project.config.plans)}"
        ):
            publish(
                self._client(creator),
                project,
                account_id=record.account_id,
                region=record.region,
                outputs=deployed.outputs,
                openapi=openapi,
                resources=resources,
            )
        story = story_for(plan)
        with self.narrator.step(f"Consumer searches, subscribes to {plan.name} and gets a key (shown once)"):
            consumer = self._client(self._login(CONSUMER))
            term = (project.config.api.tags or (project.config.api.name,))[0]
            found = [item["api_id"] for item in consumer.search_listings(term)["items"]]
            if project.config.api.name not in found:
                raise OperationFailed(f"searching for {term!r} did not find {project.config.api.name}: {found}")
            self.consumer_key = story.subscribe(self, consumer, project.config.api.name)
            self.user_functions = stack_functions(self.aws, project.stack_name)
            self.invoke.route_to(self.runtime, self.user_functions)
            synced = self.sync_keys()
            self.narrator.detail(
                f"search {term!r} found {found}; key sync applied {synced} event(s) in the creator's account"
            )
        self.api = self._rest_api(project_root, project, deployed.outputs, self.user_functions)
        self.samples = samples
        self.made = made = _Calls()
        if (words := story.before_calls_words()) is not None:
            with self.narrator.step(words):
                story.before_calls(self, consumer, project.config.api.name)
        with self.narrator.step(f"Make {calls} calls through the authorizer and the app"):
            self._call(self.api, calls, made)
        if self.api.api.mcp is not None:
            with self.narrator.step("An AI agent lists the API's MCP tools and calls them (the MCP SDK's client)"):
                self.toolset = tools_of(openapi, project.config.mcp.exclude)
                self._call_as_agent(made, self.toolset)
        with self.narrator.step("Forward the access log as usage records and aggregate them"):
            lines, applied = self._forward_usage()
            self.narrator.detail(f"{lines} access-log lines -> {applied} usage record(s) applied")
        hour_end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        with self.narrator.step("Close the hour after its grace window; report it to Stripe as a meter event"):
            closed_at = hour_end + timedelta(minutes=self.settings.usage_grace_minutes + 15)
            report = self.scheduled(CLOSER, closed_at)
            self.usage_open_from = hour_end.timestamp()
            self.narrator.detail(f"sandbox clock {closed_at:%Y-%m-%d %H:%M}Z: {report}")
        with self.narrator.step(story.billing_words()):
            invoices = story.bill(self, closed_at)
            deliveries = [(d.event_type, d.status) for d in self.stripe.deliveries()]
            self.narrator.detail(f"{len(invoices)} invoice(s); webhooks {deliveries}")
        with self.narrator.step("Creator onboards to Stripe Connect and is paid out, less the platform fee"):
            creator_client = self._client(self._login(CREATOR))
            account = creator_client.payout_account()
            self.stripe.complete_onboarding(account["account_id"])
            month_end = (closed_at.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0)
            paid_at = month_end + timedelta(days=self.settings.payout_grace_days, hours=6)
            payout = self.scheduled(PAYER, paid_at)
            earnings = creator_client.earnings()
            self.narrator.detail(f"sandbox clock {paid_at:%Y-%m-%d %H:%M}Z: {payout}")
        with self.narrator.step("Price the calls at AWS's prices against what they earned (the creator's costs)"):
            self.deliver_usage_and_alerts()  # calls a story made after the hour closed are counted for their cost
            costs = cost_checks(
                [creator_client.costs(month) for month in sorted(self.api.sent.months)],
                project.config.api.name,
                self.api.sent,
            )
            self.narrator.detail(
                f"AWS: ${costs.aws_variable_cost} for the calls, ${costs.aws_fixed_monthly} a month fixed;"
                f" margin ${costs.margin}"
            )
        billable = self._billable(made, plan, RouteWeights.of(project.config.routes))
        money = story.money_checks(self, Run(consumer, project.config.api.name, billable, invoices, earnings))
        return self._summary(made, money, costs, earnings, time.monotonic() - started)

    def live(self) -> Endpoints:
        """Keep the marketplace working as AWS would: the API served, and what its services deliver delivered.

        What the story left undelivered is delivered first, so the background
        thread starts idle: a function run redirects sys.stdout, where the endpoints
        are about to be printed.
        """
        self.deliver()
        # The MCP function's tool calls go to the stage's execute-api domain, as deployed: answered here.
        self.stack.enter_context(gateway_resolved_here(self._stage_url, self.api.request))
        gateway = self.stack.enter_context(
            _Gateway(self.api, self.lock, self.log)
        )  # its socket closes once it has stopped
        self._run_until_exit(gateway.serve_forever, "gateway", gateway.shutdown)
        stopped = threading.Event()
        self._run_until_exit(lambda: self._deliver_until(stopped), "delivery", stopped.set)
        return Endpoints(
            aws=self.endpoint,
            control_plane=self.control_plane_url,
            stripe=self.stripe.base_url,
            api_url=self.api_url,
            gateway=gateway.url,
            sample=self.samples.calls[0],
            workdir=self.workdir,
            config_home=self.config_home,
            password=self.password,
            consumer_key=self.consumer_key,
            deliver=self.deliver,
            mcp=f"{gateway.url}{MCP_PATH}" if self.api.api.mcp is not None else None,
            sign_up=self._sign_up_kept,
        )

    def deliver(self) -> int:
        """One cycle: new access-log lines forwarded and aggregated, new key events synced; how many of each, summed."""
        with self.lock:
            lines, applied = self._forward_usage()
            return lines + applied + self.sync_keys()

    # The pieces.

    def _run_until_exit(self, target: Callable[[], None], name: str, stop: Callable[[], None]) -> None:
        """Run ``target`` on a thread until the sandbox stops: then ``stop`` it and wait for it."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.stack.callback(thread.join, 10)
        self.stack.callback(stop)

    def _deliver_until(self, stopped: threading.Event) -> None:
        """Deliver every :data:`_DELIVERY_SECONDS` until stopped; a failed cycle is logged and its rest tried next time.

        As in AWS, where a failed delivery is retried: what a cycle did not mark delivered, the next one sends again.
        """
        while not stopped.wait(_DELIVERY_SECONDS):
            try:
                self.deliver()
            except Exception:  # the thread must outlive one bad cycle; the traceback goes where the functions' logs go
                with self.lock:
                    traceback.print_exc(file=self.log)

    def sync_keys(self) -> int:
        """The control plane's key events: the outbox items new on its table's stream relayed to its bus (as the
        stream's event source mapping runs the relay), then those recorded for the creator's key sync that it has
        not run on yet."""
        relay = self.control_functions[OUTBOX_RELAY]
        event_sources.drain_stream(
            self._table_streams,
            self._table_stream,
            lambda event: self.runtime.invoke(relay, event),
            self.outbox_checkpoints,
            is_relayed,
        )
        return event_sources.deliver_recorded_events(
            self.aws.client("logs"), self.runtime, self.user_functions[KEY_SYNC], self.delivered_key_events
        )

    def deliver_usage_and_alerts(self) -> int:
        """What a story's step leaves for AWS to deliver (usage, alerts it queued), delivered; how many."""
        return sum(self._forward_usage())

    def probe(self, purpose: str) -> int:
        """The app's first call with the consumer's key, recorded as made for ``purpose``; its status."""
        call = self.samples.calls[0]
        request = HttpRequest(
            call.method, call.path, (("x-api-key", self.consumer_key), *call.headers), call.query, call.body
        )
        response = self.api.request(request)
        self.made.made.append(_Made(purpose, call, response))
        return response.status

    def detail(self, text: str) -> None:
        self.narrator.detail(text)

    def emails_sent(self) -> int:
        """The emails the control plane's SES has sent (the emulator counts them as SES's send quota does)."""
        return int(self.aws.client("ses").get_send_quota()["SentLast24Hours"])

    def _forward_usage(self) -> tuple[int, int]:
        """New access-log lines to the usage forwarder, the usage queue to the aggregator, then the alerts it
        fired (and webhook retries now due) to the alert deliverer.

        Returns (lines, records applied).
        """
        lines = event_sources.deliver_log_group(
            self.aws.client("logs"),
            self.api.api.access_log_group,
            self.creator_account,
            self.runtime,
            self.user_functions[FORWARDER],
            self.delivered_lines,
        )
        sqs = self.aws.client("sqs")
        applied = event_sources.drain_queue(sqs, self._usage_queue, self.runtime, self.control_functions[AGGREGATOR])
        event_sources.drain_queue(sqs, self._alert_queue, self.runtime, self.control_functions[ALERT_DELIVERER])
        return lines, applied

    def _environment(self) -> dict[str, str | None]:
        """What every AWS call of this process sees: the emulator, fake credentials, a private config home."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_SESSION_TOKEN": "sandbox",
            "AWS_PROFILE": None,
            "XDG_CONFIG_HOME": str(self.config_home),
            "NO_PROXY": ",".join(filter(None, ["127.0.0.1", os.environ.get("NO_PROXY")])),
        }

    def _serve_control_plane(self, deployed: ControlPlaneSettings, stripe_secret_arn: str) -> ControlPlaneSettings:
        """Put the Stripe keys in the stack's secret (as the operator does) and serve the deployed app's settings."""
        port = _free_port()
        self.control_plane_url = f"http://127.0.0.1:{port}"
        webhook_secret = self.stripe.add_webhook_endpoint(f"{self.control_plane_url}/stripe/webhook")
        self.aws.client("secretsmanager").put_secret_value(
            SecretId=stripe_secret_arn,
            SecretString=json.dumps({"api_key": self.stripe.api_key, "webhook_secret": webhook_secret}),
        )
        settings = deployed.model_copy(
            update={
                "aws_endpoint_url": self.endpoint,
                "stripe_api_base": self.stripe.base_url,
                "jwks_url": f"{self.endpoint}/{deployed.user_pool_id}/.well-known/jwks.json",
                "webhooks_allow_loopback": True,
            }
        )
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="control-plane", daemon=True)
        thread.start()
        self.stack.callback(thread.join, 10)
        self.stack.callback(setattr, server, "should_exit", True)
        deadline = time.monotonic() + _SERVER_START_SECONDS
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise OperationFailed(f"the control plane app did not start on {self.control_plane_url}")
            time.sleep(0.05)
        return settings

    def _sign_up_kept(self, email: str, role: str) -> None:
        """:meth:`_sign_up` once kept: its trigger runs under the lock, as every function then does."""
        with self.lock:
            self._sign_up(email, role)

    def _sign_up(self, email: str, role: str) -> None:
        """``apid signup``'s path, then Cognito's post-confirmation trigger (the deployed function, run here)."""
        sign_in.sign_up(
            self.control_plane_url,
            email,
            self.password,
            role,
            endpoint_url=self.endpoint,
            confirmation_code=lambda: "123456",
        )
        cognito = self.aws.client("cognito-idp")
        user = cognito.admin_get_user(UserPoolId=self.settings.user_pool_id, Username=email)
        self.runtime.invoke(
            self.control_functions[POST_CONFIRMATION],
            event_sources.post_confirmation_event(
                self.settings.user_pool_id, self.settings.app_client_id, user, REGION
            ),
        )

    def _login(self, email: str) -> sign_in.SignedIn:
        return sign_in.login(
            self.control_plane_url, email, self.password, endpoint_url=self.endpoint, mfa_code=lambda: ""
        )

    def _client(self, session: sign_in.SignedIn) -> ControlPlane:
        return sign_in.client_for(session, endpoint_url=self.endpoint)

    def _rest_api(
        self,
        project_root: Path,
        project: Project,
        outputs: Mapping[str, str],
        functions: Mapping[str, DeployedFunction],
    ) -> "_CountedRestApi":
        """The deployed API, its app's handler importable here: the generated handler and adapter
        over the project's source.

        The handler imports the app as in Lambda, into this process; what an earlier
        sandbox (or anything else) imported under the same names is dropped first, and
        the sandbox's own modules are dropped when it stops. The app's lifespan shuts
        down when the process exits, as the adapter arranges (closing its loop sooner
        would leave this thread's current event loop closed for whatever runs next).
        """
        handler = self.workdir / "handler"
        handler.mkdir()
        write_handler(handler, project.config.api.app)
        app_package = project.config.api.app.partition(":")[0].split(".")[0]
        _forget_modules(lambda name, _: name.split(".")[0] in (HANDLER_MODULE, ADAPTER_MODULE, app_package))
        _prepend_path(self.stack, project_root, handler)
        workdir = self.workdir.resolve()
        self.stack.callback(_forget_modules, lambda _, file: file is not None and file.is_relative_to(workdir))
        return _CountedRestApi(
            DeployedRestApi(
                rest_api_id=outputs["RestApiId"],
                stage=project.config.gateway.stage,
                account_id=self.settings.account_id,
                region=REGION,
                authorizer=functions[AUTHORIZER],
                app=functions[APP],
                access_log_group=outputs["AccessLogGroupName"],
                rules=self._gateway_rules(project.stack_name),
                mcp=functions.get(MCP_SERVER),
            ),
            self.runtime,
            self.aws.client("apigateway"),
            self.aws.client("logs"),
            self._gateway_time,
            errors=self.log,
        )

    def _gateway_rules(self, stack_name: str) -> GatewayRules:
        """What the deployed REST API answers itself (binary media types, preflights, gateway responses' headers),
        from the stack's template: moto's ``GetRestApi`` drops ``BinaryMediaTypes``, and serves none of the rest."""
        body = self.aws.client("cloudformation").get_template(StackName=stack_name)["TemplateBody"]
        return GatewayRules.of(json.loads(body) if isinstance(body, str) else body)

    def _gateway_time(self) -> float:
        """When a call happens, to the API's gateway: now, but never in a usage hour the story has closed.

        The story closes the hour of its calls as of a later time; a call made in
        that same real hour once kept would be refused as late (where, in AWS, that
        time would have passed), so it counts in the first hour still open instead.
        """
        return max(time.time(), self.usage_open_from)

    def _call(self, api: LocalRestApi, count: int, made: _Calls) -> None:
        """``count`` calls: the app's operations in turn, with a missing key, a wrong key and an unknown route mixed in.

        Every tenth call from the fourth has no key, from the seventh a wrong one, and from
        the ninth asks, with the consumer's key, for a path none of the app's routes matches.
        """
        samples = self.samples
        self.narrator.detail(
            f"{len(samples.calls)} operation(s) to call: " + ", ".join(call.operation for call in samples.calls)
        )
        for skipped in samples.skipped:
            self.narrator.detail(f"skipped {skipped}")
        if samples.unknown_path is None:
            self.narrator.detail("every path may be one of the app's routes: no unknown-route call")
        first, good = samples.calls[0], 0
        for i in range(count):
            if i % 10 == 3:
                purpose, call, key = NO_KEY, first, None
            elif i % 10 == 6:
                purpose, call, key = WRONG, first, WRONG_KEY
            elif i % 10 == 8 and samples.unknown_path is not None:
                purpose, key = UNKNOWN_ROUTE, self.consumer_key
                call = SampleCall(f"GET {samples.unknown_path}", "GET", samples.unknown_path)
            else:
                purpose, call, key = GOOD, samples.calls[good % len(samples.calls)], self.consumer_key
                good += 1
            headers = call.headers if key is None else (("x-api-key", key), *call.headers)
            request = HttpRequest(call.method, call.path, headers, call.query, call.body)
            made.made.append(_Made(purpose, call, api.request(request)))
        statuses = Counter(response.status for response in made.responses)
        self.narrator.detail("responses by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
        failing: dict[str, Counter[int]] = {}
        for one in made.made:
            if one.purpose == GOOD and not _succeeded(one.response.status):
                failing.setdefault(one.call.operation, Counter())[one.response.status] += 1
        for operation, by_status in failing.items():
            answered = ", ".join(f"{status} ({n}x)" for status, n in sorted(by_status.items()))
            self.narrator.detail(f"{operation} answered {answered} to a call made from its OpenAPI description")

    def _call_as_agent(self, made: _Calls, toolset: Toolset) -> None:
        """The SDK's MCP client at the stage's ``/mcp``: list the tools and call the one of each sample call.

        Each tool call reaches its route through the gateway again, as the deployed MCP
        function's request to the stage's domain does: those requests are recorded as
        calls made, to be billed like the rest. ``/mcp`` without a key and with a
        wrong one are tried too.
        """
        api, base_url = self.api, self._stage_url

        def routed(request: HttpRequest) -> Response:
            response = api.request(request)
            made.routed.append(response)
            return response

        with gateway_resolved_here(base_url, routed):
            made.agent = agent_run(
                base_url, api.request, api.proxy.prefix, self.consumer_key, toolset, self.samples.calls
            )
        self.narrator.detail(
            f"tools/list: {len(made.agent.listed)} tool(s); {len(made.agent.calls)} tool call(s),"
            f" {len(made.agent.failed)} error result(s)"
        )
        for failed_call in made.agent.failed:
            text = " ".join(getattr(block, "text", "") for block in failed_call.result.content)
            self.narrator.detail(f"{failed_call.tool}: {text[:200]}")
        asked = (("content-type", "application/json"), ("accept", "application/json, text/event-stream"))
        without = api.request(HttpRequest("POST", MCP_PATH, asked, "", b"{}"))
        wrong = api.request(HttpRequest("POST", MCP_PATH, (("x-api-key", WRONG_KEY), *asked), "", b"{}"))
        made.mcp_rejections = (without.status, wrong.status)

    @property
    def _stage_url(self) -> str:
        """The stage's URL as API Gateway names it in each event: what the MCP function calls the routes at."""
        return f"https://{self.api.proxy.host}{self.api.proxy.prefix}"

    @cached_property
    def _usage_queue(self) -> str:
        """The queue the aggregator's event source mapping reads: the one the usage rule fills."""
        return self._queue_read_by(AGGREGATOR)

    @cached_property
    def _alert_queue(self) -> str:
        """The queue the alert deliverer's event source mapping reads: the one the aggregator fires alerts to."""
        return self._queue_read_by(ALERT_DELIVERER)

    @cached_property
    def _table_stream(self) -> str:
        """The control plane table's stream, which the outbox relay's event source mapping reads."""
        dynamodb = self.aws.session.client("dynamodb", endpoint_url=self.endpoint)
        return str(dynamodb.describe_table(TableName=self.settings.table_name)["Table"]["LatestStreamArn"])

    @cached_property
    def _table_streams(self) -> Any:
        return self.aws.session.client("dynamodbstreams", endpoint_url=self.endpoint)

    def _queue_read_by(self, handler: str) -> str:
        mappings = self.aws.client("lambda").list_event_source_mappings(
            FunctionName=self.control_functions[handler].name
        )["EventSourceMappings"]
        queue_name = mappings[0]["EventSourceArn"].rsplit(":", 1)[-1]
        return str(self.aws.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"])

    def scheduled(self, handler: str, at: datetime) -> Any:
        function = self.control_functions[handler]
        [rule] = self.aws.client("events").list_rule_names_by_target(TargetArn=function.arn)["RuleNames"]
        rule = f"arn:aws:events:{REGION}:{self.settings.account_id}:rule/{rule}"
        return self.runtime.invoke(function, event_sources.scheduled_event(at, rule, self.settings.account_id, REGION))

    def _billable(self, made: _Calls, plan: PricingPlan, weights: RouteWeights) -> int:
        """The billable units the calls imply: each allowed call its route's weight, counted if its status is billed."""
        allowed: Counter[str] = Counter()
        for response in made.responses:
            if response.key_id:
                allowed[f"{response.status // 100}xx"] += weights.weight_of(response.method, response.resource)
        return billable_calls(allowed, plan.billable_statuses)

    def _summary(
        self, made: _Calls, money: Money, costs: Costs, earnings: Mapping[str, Any], seconds: float
    ) -> Summary:
        months = earnings["months"]
        checks = (
            Check("missing key answered 401", made.count(NO_KEY), made.count(NO_KEY, (401).__eq__)),
            Check("wrong key answered 403", made.count(WRONG), made.count(WRONG, (403).__eq__)),
            Check("unknown route answered 404", made.count(UNKNOWN_ROUTE), made.count(UNKNOWN_ROUTE, (404).__eq__)),
            Check("good calls answered 2xx", made.count(GOOD), made.count(GOOD, _succeeded)),
            *self._agent_checks(made),
            *money.checks,
            *costs.checks,
        )
        return Summary(
            calls=len(made.responses),
            mcp_tool_calls=len(made.agent.calls) if made.agent else 0,
            billable=money.billable,
            billed=money.billed,
            stripe_fees=sum(int(month["stripe_fees"]) for month in months),
            fee=sum(int(month["fee"] or 0) for month in months),
            payout=sum(int(month["payout"] or 0) for month in months),
            currency=self.settings.currency,
            aws_variable_cost=costs.aws_variable_cost,
            aws_fixed_monthly=costs.aws_fixed_monthly,
            margin=costs.margin,
            seconds=seconds,
            checks=checks,
        )

    def _agent_checks(self, made: _Calls) -> tuple[Check, ...]:
        """What the agent's MCP session must have found: every tool listed, every call answered, no way in without a
        key; none when the API has no MCP endpoint."""
        if made.agent is None:
            return ()
        return (
            Check("MCP tools listed, one per operation", len(self.toolset.tools), _listed(self.toolset, made.agent)),
            Check("MCP tool calls answered", len(made.agent.calls), len(made.agent.calls) - len(made.agent.failed)),
            Check("MCP tool calls reached their routes", len(made.agent.calls), len(made.routed)),
            Check("MCP without a key answered 401, with a wrong key 403", (401, 403), made.mcp_rejections),
        )


class _Gateway(ThreadingHTTPServer):
    """API Gateway's front door for the deployed stage, on a free loopback port: ``<url>/<path>`` as in AWS.

    Each request goes through :meth:`LocalRestApi.request` under ``lock``, so its
    authorizer and app run one at a time with every other function the sandbox runs.
    """

    def __init__(self, api: LocalRestApi, lock: threading.Lock, log: IO[str]) -> None:
        super().__init__(("127.0.0.1", 0), _GatewayRequest)
        self.api = api
        self.lock = lock
        self.log = log

    @property
    def url(self) -> str:
        """The stage's base URL, as API Gateway's ``https://<id>.execute-api.<region>.amazonaws.com/<stage>``."""
        return f"http://127.0.0.1:{self.server_port}/{self.api.api.stage}"


class _GatewayRequest(BaseHTTPRequestHandler):
    """One HTTP request to :class:`_Gateway`, passed on as sent: method, path under the stage,
    every header, body bytes."""

    server: _Gateway

    def answer(self) -> None:
        """What API Gateway answers at the stage's URL: the API's response, or ``403 Forbidden`` outside the stage."""
        url = urlsplit(self.path)
        stage = f"/{self.server.api.api.stage}"
        body = self._body()
        if url.path == stage or url.path.startswith(f"{stage}/"):
            request = HttpRequest(
                self.command, url.path.removeprefix(stage) or "/", tuple(self.headers.items()), url.query, body
            )
            with self.server.lock:
                try:
                    response: HttpResponse = self.server.api.request(request)
                except Exception:  # the authorizer raised: API Gateway's 500, the traceback where its logs go
                    traceback.print_exc(file=self.server.log)
                    response = self.server.api.gateway_answer(failed(500, _INTERNAL_ERROR))
        else:
            response = self.server.api.gateway_answer(failed(403, _FORBIDDEN))
        self._send(response)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = answer

    def _body(self) -> bytes:
        """The request's body: ``Content-Length`` bytes, or every chunk of a chunked one."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers, up to the blank line
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, response: HttpResponse) -> None:
        """Every header of the response (repeated ones repeated) and its body; a HEAD's length is the function's."""
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in _GATEWAY_OWN_HEADERS:
                self.send_header(name, value)
        length = response.header("content-length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stage's access log (in its log group, as in AWS) records each request, not the terminal."""


class _CountedRestApi(LocalRestApi):
    """The gateway, with every call its clients make counted on their side (:class:`Sent`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent = Sent()

    def request(self, request: HttpRequest) -> Response:
        response = super().request(request)
        self.sent.count(response.body, datetime.fromtimestamp(self._clock(), UTC))
        return response


def _listed(toolset: Toolset, agent: AgentRun) -> int | tuple[str, ...]:
    """How many tools ``tools/list`` gave, if they are the operations' own; else their names, to show the difference."""
    return len(agent.listed) if set(agent.listed) == {tool.name for tool in toolset.tools} else agent.listed


def _succeeded(status: int) -> bool:
    return 200 <= status < 300


def _forget_modules(forget: Callable[[str, Path | None], bool]) -> None:
    """Drop the imported modules ``forget(name, file)`` picks, so the next import reads them from ``sys.path`` again."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if forget(name, Path(file).resolve() if file else None):
            del sys.modules[name]


def _chosen_plan(plans: tuple[PricingPlan, ...], name: str | None) -> PricingPlan:
    """The plan named, or the first paid one (the sandbox is about money), or the first."""
    if name is not None:
        for plan in plans:
            if plan.name == name:
                return plan
        raise InputError(f"no plan {name!r} in apid.toml: choose one of {', '.join(p.name for p in plans)}")
    return next((plan for plan in plans if plan.is_paid), plans[0])


def _prepend_path(stack: ExitStack, *folders: Path) -> None:
    for folder in folders:
        sys.path.insert(0, str(folder))
        stack.callback(sys.path.remove, str(folder))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
