"""The per-creator API stack: one creator project, deployed into the creator's account."""

from typing import Any

from aws_cdk import CfnOutput, CliCredentialsStackSynthesizer, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from api_direct.constructs.account_link import LinkNames
from api_direct.constructs.acknowledgments import skip_checkov
from api_direct.constructs.custom_domain import CustomDomain
from api_direct.constructs.fastapi_function import FastApiFunction
from api_direct.constructs.key_store import ApiKeyStore
from api_direct.constructs.live_alias import LiveAlias
from api_direct.constructs.mcp_endpoint import McpEndpoint
from api_direct.constructs.metered_api import MeteredApi, PlanLimits, RouteWeights
from api_direct.constructs.usage_forwarder import UsageForwarder
from api_direct.contracts import RELEASE_ENV, CustomDomainTarget, secrets_path
from api_direct.canary import Canary
from api_direct.project import Project

ASSET_PREFIX = "assets/"
MANAGED_TAG = "api-direct:managed"
#: The link's names with the placeholders the asset publisher fills in at deploy time.
_DEPLOY_TIME_NAMES = LinkNames(account="${AWS::AccountId}", region="${AWS::Region}")
_SYNCHRONOUS_APP = (
    "Only the API's gateway invokes the creator's app, synchronously (Lambda proxy integration), and returns its"
    " answer or error to the consumer; a dead-letter queue only ever receives failed asynchronous invocations."
)


class UserApiStack(Stack):
    """Composes function, key store, metered API and usage forwarder from ``apid.toml``.

    Built to be deployed through an account link: file assets go to the link's
    asset bucket, and every IAM role carries the link's permissions boundary, so
    even a compromised template cannot create a role that escapes it.
    ``retain_data`` keeps the key table when the stack is deleted.

    Without a control plane (``control_plane_account_id`` unset) the creator's own
    account is the one allowed to send key events, and without
    ``control_plane_bus_arn`` nothing is metered: the API still serves keyed,
    rate-limited traffic, which is what a creator trying API-Direct alone needs.

    ``custom_domain`` (its certificate already issued) puts the stage on the
    creator's domain: ``ApiUrl`` is then that domain's URL, and the execute-api URL
    stays reachable as ``GatewayUrl``.

    The gateway invokes the app's ``live`` alias (:class:`LiveAlias`), on the
    version this deploy publishes; ``release`` ("<commit> by <who>") is that
    version's description and the app's ``APID_RELEASE``. ``canary`` shifts each
    new version's traffic gradually through CodeDeploy, rolled back on 5xx errors.

    ``marketplace_origin`` (the origin of the control plane the project is linked
    through) may call the API from a browser: the marketplace's console. CORS
    admits it alone, at the gateway and in the app's responses.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: Project,
        control_plane_account_id: str | None = None,
        control_plane_bus_arn: str | None = None,
        retain_data: bool = False,
        release: str | None = None,
        canary: Canary | None = None,
        custom_domain: CustomDomainTarget | None = None,
        marketplace_origin: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("stack_name", project.stack_name)
        kwargs.setdefault(
            "synthesizer",
            CliCredentialsStackSynthesizer(
                file_assets_bucket_name=_DEPLOY_TIME_NAMES.asset_bucket, bucket_prefix=ASSET_PREFIX
            ),
        )
        config = project.config
        super().__init__(scope, construct_id, description=f"API-Direct API '{config.api.name}'", **kwargs)
        boundary = iam.ManagedPolicy.from_managed_policy_name(
            self, "LinkBoundary", LinkNames.of(self).permissions_boundary
        )
        iam.PermissionsBoundary.of(self).apply(boundary)
        Tags.of(self).add(MANAGED_TAG, "true")

        self.app = FastApiFunction.from_project(self, "App", project)
        self.app.read_secrets_from(secrets_path(config.api.name, project.stage))
        skip_checkov(self.app, {"CKV_AWS_116": _SYNCHRONOUS_APP})
        if release:
            self.app.add_environment(RELEASE_ENV, release)
        self.live = LiveAlias(
            self,
            "AppLive",
            function=self.app,
            settings={
                **project.runtime.model_dump(),
                "environment": project.environment,
                "release": release,
                # A version keeps the environment it was published with: a new origin needs a new version.
                **({"cors_origin": marketplace_origin} if marketplace_origin else {}),
            },
            description=release,
        )
        self.key_store = ApiKeyStore(
            self,
            "Keys",
            control_plane_account_id=control_plane_account_id or self.account,
            removal_policy=RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY,
        )
        self.api = MeteredApi(
            self,
            "Gateway",
            handler=self.live.alias,
            key_store=self.key_store,
            plans=[
                PlanLimits(name=p.name, rate_limit=p.rate_limit, burst=p.burst, monthly_quota=p.monthly_quota)
                for p in config.plans
            ],
            stage_name=config.gateway.stage,
            authorizer_cache_ttl=Duration.seconds(config.gateway.key_cache_seconds),
            description=config.api.description,
            cors_origin=marketplace_origin,
            route_weights=RouteWeights.of(config.routes),
        )
        for name, value in self.api.handler_environment.items():
            self.app.add_environment(name, value)
        self.mcp = (
            McpEndpoint(
                self,
                "Mcp",
                api=self.api,
                app=self.live.alias,
                api_name=config.api.name,
                exclude=config.mcp.exclude,
                rate_limit=config.mcp.rate_limit,
                burst=config.mcp.burst,
            )
            if config.mcp.enabled
            else None
        )
        if canary:
            self.live.shift_gradually(canary, self.api.metric_server_error_rate())
        self.usage_forwarder = (
            UsageForwarder(
                self,
                "Usage",
                access_log_group=self.api.access_log_group,
                control_plane_bus_arn=control_plane_bus_arn,
                api_name=config.api.name,
                route_weights=self.api.route_weights,
            )
            if control_plane_bus_arn
            else None
        )
        self.custom_domain = (
            CustomDomain(
                self,
                "CustomDomain",
                domain_name=custom_domain.name,
                certificate_arn=custom_domain.certificate_arn,
                rest_api=self.api.rest_api,
                stage=self.api.rest_api.deployment_stage,
                hosted_zone_id=custom_domain.hosted_zone_id,
                zone_name=custom_domain.zone_name,
            )
            if custom_domain
            else None
        )
        url = self.custom_domain.url if self.custom_domain else self.api.url
        CfnOutput(self, "ApiUrl", value=url, description="Base URL consumers call")
        if self.custom_domain:
            CfnOutput(self, "GatewayUrl", value=self.api.url, description="The stage's execute-api URL")
            CfnOutput(
                self,
                "DomainTarget",
                value=self.custom_domain.target_domain_name,
                description="Where the custom domain's DNS record points",
            )
        CfnOutput(self, "RestApiId", value=self.api.rest_api.rest_api_id)
        CfnOutput(
            self,
            "KeyBusArn",
            value=self.key_store.event_bus.event_bus_arn,
            description="Bus the control plane sends key events to",
        )
        CfnOutput(self, "AppFunctionName", value=self.app.function_name)
        CfnOutput(self, "AppVersion", value=self.live.version.version, description="The version this deploy made live")
        CfnOutput(self, "AppLogGroupName", value=self.app.log_group.log_group_name)
        CfnOutput(self, "AccessLogGroupName", value=self.api.access_log_group.log_group_name)
