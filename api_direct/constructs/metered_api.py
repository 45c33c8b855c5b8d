"""The public face of a creator's API: a REST API that checks keys, limits plans and logs usage."""

import json
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, ArnFormat, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from api_direct.contracts import ACCESS_LOG_RETENTION_DAYS, AUTHORIZER_MEMORY_MB
from api_direct.constructs.acknowledgments import skip_checkov
from api_direct.constructs.fastapi_function import RETENTION_BY_DAYS
from api_direct.constructs.key_store import ApiKeyStore
from api_direct.constructs.runtime_function import RuntimeFunction
from api_direct.runtime.access_log import access_log_format_json
from api_direct.runtime import cors
from api_direct.runtime.asgi_lambda import BINARY_MEDIA_TYPES, CORS_EXPOSE_HEADERS, CORS_ORIGIN_ENV
from api_direct.runtime.gateway_responses import BY_GATEWAY_RESPONSE_TYPE, CONTENT_TYPE
from api_direct.runtime.limit_headers import PLAN_LIMITS_ENV
from api_direct.runtime.route_weights import RouteWeights, gateway_resources

__all__ = ["MeteredApi", "PlanLimits", "RouteWeights"]  # RouteWeights: the type of its route_weights prop

API_KEY_HEADER = "x-api-key"
#: API Gateway's least throttle on a weighted method: a rate of 0 or a burst of 0 would refuse every call.
MIN_METHOD_RATE = 0.01
_NO_STAGE_CACHE = (
    "A stage cache is billed by the hour (no free tier) in every creator's account, and by default keys its"
    " entries on the path and declared parameters, not on the consumer, so one consumer could be answered with"
    " another's response; what may be cached is the creator's app's decision, per method."
)
_ACCESS_LOGS_WITHOUT_CMK = (
    "CloudWatch Logs encrypts log data at rest already. A line holds request id, key id, plan, route, status and"
    " latency, never an API key or its hash; a customer managed KMS key would add a key charge and a key policy"
    " admitting CloudWatch Logs to every creator's account."
)
_SYNCHRONOUS_AUTHORIZER = (
    "API Gateway invokes the authorizer synchronously and answers the caller with its outcome (an error fails"
    " that one request); a dead-letter queue only ever receives failed asynchronous invocations."
)


@dataclass(frozen=True)
class PlanLimits:
    """What API Gateway enforces for each consumer on a plan."""

    name: str
    rate_limit: float
    burst: int
    monthly_quota: int | None = None


class MeteredApi(Construct):
    """A REST API in front of ``handler`` that only paying consumers get through.

    Why a REST API and not the cheaper HTTP API: only REST APIs have usage plans,
    the AWS-documented way to enforce per-tier rate, burst and monthly quota at the
    gateway, before the creator's function runs (and is billed). The API takes its
    key from the authorizer (``apiKeySource: AUTHORIZER``): a Lambda REQUEST
    authorizer reads ``x-api-key``, looks up its hash in ``key_store`` and returns
    its subscription's usage id as ``usageIdentifierKey``; the key store binds that
    identifier to the subscription's plan. Decisions are cached per key for ``authorizer_cache_ttl``.

    Bodies travel as bytes both ways: ``binary_media_types`` defaults to ``*/*``,
    which with a Lambda proxy integration means every request body reaches the
    function base64-encoded (the generated handler decodes it) and every response
    the function base64-encodes (whatever is not text, or gzip) reaches any client
    as the original bytes, whatever its ``Accept`` header. A narrower list makes
    API Gateway decide by the client's first ``Accept`` type instead, so a
    browser's ``<img>`` would get base64 text; keep ``*/*`` unless the handler is
    not the generated one.

    Every request writes one JSON access-log line (request id, key id, plan, route,
    status, latency) to ``access_log_group``: the usage forwarder meters from it.
    Rejections use the JSON bodies of :mod:`api_direct.runtime.gateway_responses`.

    Each plan's limits reach the authorizer (``PLAN_LIMITS``), which returns them in
    its context for the ``RateLimit-Policy`` / ``RateLimit`` headers the app's
    adapter adds and for the 429s' ``Retry-After``; on a plan with a quota it reads
    what is left from the usage plan (GetUsage, allowed on those usage plans only).

    ``cors_origin`` (the marketplace's origin) may call the API from a browser
    (:mod:`api_direct.runtime.cors`): every resource answers the preflight from a
    mock integration, without the authorizer, and every gateway response carries
    the CORS headers; the handler's own responses need them too (the app's
    adapter adds them when its function has ``APID_CORS_ORIGIN``).

    ``route_weights`` (``[[routes]]``) each get a resource of their own, so the
    access log's ``resourcePath`` names the route a call counts units for, and
    each plan's usage plan throttles a route of weight ``w`` at ``rate_limit / w``
    and ``burst / w`` (weights 0 and 1 add no throttle). Every path that reached
    the app before still does: each new resource also sends its method's other
    calls, and a ``{proxy+}`` below it the paths under it, to the same function
    (:func:`~api_direct.runtime.route_weights.gateway_resources`). The usage plans'
    quota still counts requests; a quota in units is the control plane's to enforce.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        key_store: ApiKeyStore,
        plans: Sequence[PlanLimits],
        stage_name: str = "v1",
        authorizer_cache_ttl: Duration | None = None,
        access_log_retention: logs.RetentionDays = RETENTION_BY_DAYS[ACCESS_LOG_RETENTION_DAYS],
        description: str | None = None,
        binary_media_types: Sequence[str] = BINARY_MEDIA_TYPES,
        cors_origin: str | None = None,
        route_weights: RouteWeights = RouteWeights(),
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage_name = stage_name
        self.cors_origin = cors_origin
        self.route_weights = route_weights
        if not plans:
            raise ValueError("MeteredApi needs at least one plan")
        self.access_log_group = logs.LogGroup(
            self, "AccessLogs", retention=access_log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        skip_checkov(self.access_log_group, {"CKV_AWS_158": _ACCESS_LOGS_WITHOUT_CMK})
        self.rest_api = apigw.RestApi(
            self,
            "Api",
            # The stack's name, not CDK's default (the construct id "Api"): CloudWatch names an API's metrics by
            # its name, so two stages of one API in an account would otherwise share them.
            rest_api_name=Stack.of(self).stack_name,
            description=description,
            # CloudFormation's BinaryMediaTypes escapes "/" as "~1" (a plain "/" breaks later updates).
            binary_media_types=[media_type.replace("/", "~1") for media_type in binary_media_types],
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.custom(access_log_format_json()),
                tracing_enabled=True,
            ),
        )
        # RestApi always adds an "Endpoint" output; the stack that owns the API names its own.
        self.rest_api.node.try_remove_child("Endpoint")
        skip_checkov(self.rest_api.deployment_stage, {"CKV_AWS_120": _NO_STAGE_CACHE})
        self.authorizer_function = RuntimeFunction(
            self,
            "Authorizer",
            handler="authorizer.handler",
            description="Checks x-api-key against the hashed key table",
            environment={"KEY_TABLE_NAME": key_store.table.table_name},
            memory_size=AUTHORIZER_MEMORY_MB,
            timeout=Duration.seconds(5),
        )
        skip_checkov(self.authorizer_function, {"CKV_AWS_116": _SYNCHRONOUS_AUTHORIZER})
        key_store.grant_key_lookup(self.authorizer_function)
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "KeyAuthorizer",
            handler=self.authorizer_function,
            identity_sources=[apigw.IdentitySource.header(API_KEY_HEADER)],
            results_cache_ttl=authorizer_cache_ttl if authorizer_cache_ttl is not None else Duration.minutes(5),
        )
        # Rejects a request without the key header before the authorizer runs. Bodies
        # have no API Gateway model (FastAPI validates them), so body validation is a no-op.
        self.key_header_validator = validator = self.rest_api.add_request_validator(
            "RequireKeyHeader", validate_request_parameters=True, validate_request_body=True
        )
        integration = apigw.LambdaIntegration(handler)
        # The root and every path below it (the creator's app does the routing), through a resource per weighted route.
        cors_mappings = cors.gateway_mappings(cors_origin) if cors_origin else {}
        #: Resource path -> its resource: ``/``, ``/{proxy+}`` and what the weighted routes need.
        self.resources: dict[str, apigw.IResource] = {"/": self.rest_api.root}
        #: ``<resource path>/<HTTP method>`` (a usage plan's throttle key) -> the method sending it to ``handler``.
        self.methods: dict[str, apigw.Method] = {}
        for path in ("/", *gateway_resources(route_weights)):
            parent, _, part = path.rpartition("/")
            resource = self.resources[path] if path == "/" else self.resources[parent or "/"].add_resource(part)
            self.resources[path] = resource
            for http_method in self._methods_of(path):
                self.methods[f"{path}/{http_method}"] = resource.add_method(
                    http_method,
                    integration,
                    authorizer=self.authorizer,
                    api_key_required=True,
                    request_validator=validator,
                    request_parameters={f"method.request.header.{API_KEY_HEADER}": True},
                )
            if cors_origin:
                self._answer_preflight(resource, cors_origin)
        for response_type, rejection in BY_GATEWAY_RESPONSE_TYPE.items():
            self.rest_api.add_gateway_response(
                f"{response_type.title().replace('_', '')}Response",
                type=apigw.ResponseType.of(response_type),
                status_code=str(rejection.status),
                templates={CONTENT_TYPE: rejection.body()},
                response_headers={**rejection.header_mappings(), **cors_mappings},
            )
        if cors_mappings:  # the rest of API Gateway's own answers: status and body as AWS has them
            for response_type in cors.DEFAULT_RESPONSE_TYPES:
                self.rest_api.add_gateway_response(
                    f"{response_type.title().replace('_', '')}Response",
                    type=apigw.ResponseType.of(response_type),
                    response_headers=dict(cors_mappings),
                )
        self.usage_plans: dict[str, apigw.UsagePlan] = {plan.name: self._usage_plan(plan) for plan in plans}
        key_store.attach_usage_plans(self.usage_plans)
        self._tell_authorizer_the_limits(plans)
        Validations.of(self.rest_api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG6",
                reason="Every request is recorded by the JSON access log (the metering source); execution"
                " logging needs the account-wide API Gateway CloudWatch role, which API-Direct does not take"
                " over in a creator's account.",
            ),
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason="Consumers are machines calling with API keys, checked by the Lambda key authorizer;"
                " Cognito user tokens do not apply.",
            ),
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="Abuse is bounded per consumer by usage-plan throttling and quotas; a WAF web ACL is a"
                " per-account cost the creator can associate with the stage when they want one.",
            ),
        )

    def _methods_of(self, path: str) -> tuple[str, ...]:
        """``ANY`` for every resource, and each method a weighted route names on it (its own throttle); ``OPTIONS``
        stays the preflight's where the API answers CORS."""
        named = {
            method
            for route in self.route_weights.routes
            if route.resource_path == path
            for method in route.methods
            if not (self.cors_origin and method == "OPTIONS")
        }
        return ("ANY", *sorted(named))

    def _method_throttles(self, plan: "PlanLimits") -> list[apigw.ThrottlingPerMethod]:
        """A weighted method's share of the plan's rate and burst: ``weight`` units a call, as the plan's limits count
        them; to the cent of a request per second, never below :data:`MIN_METHOD_RATE` and a burst of one."""
        throttles = []
        for key, method in self.methods.items():
            path, _, http_method = key.rpartition("/")
            weight = self.route_weights.weight_of(http_method, path or "/")
            if weight > 1:
                throttle = apigw.ThrottleSettings(
                    rate_limit=max(round(plan.rate_limit / weight, 2), MIN_METHOD_RATE),
                    burst_limit=max(plan.burst // weight, 1),
                )
                throttles.append(apigw.ThrottlingPerMethod(method=method, throttle=throttle))
        return throttles

    def _answer_preflight(self, resource: apigw.IResource, origin: str) -> None:
        """``OPTIONS`` on ``resource`` answered by API Gateway itself (a mock integration), for ``origin`` only.

        CDK's preflight method has no authorizer and needs no key, as a browser's
        preflight carries neither; it is not metered (no usage identifier).
        """
        method = resource.add_cors_preflight(
            allow_origins=[origin],
            allow_headers=list(cors.ALLOW_HEADERS),
            allow_methods=apigw.Cors.ALL_METHODS,
            expose_headers=list(CORS_EXPOSE_HEADERS),
            max_age=Duration.seconds(cors.MAX_AGE_SECONDS),
        )
        Validations.of(method).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG4",
                reason="A CORS preflight carries no credentials by the Fetch standard; the mock integration answers"
                " it with headers only and reaches no function or data.",
            ),
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason="A CORS preflight carries no credentials by the Fetch standard; nothing to authorize.",
            ),
        )

    def metric_server_error_rate(self) -> cloudwatch.Metric:
        """The stage's share of requests answered 5xx, per minute (0 to 1).

        Named by API and stage name rather than by reference to the stage, so an
        alarm on it can gate the function the stage invokes (a canary's alias)
        without a dependency cycle.
        """
        return cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map={"ApiName": self.rest_api.rest_api_name, "Stage": self.stage_name},
            statistic=cloudwatch.Stats.AVERAGE,
            period=Duration.minutes(1),
        )

    @property
    def handler_environment(self) -> dict[str, str]:
        """What the handler's function needs in its environment for these rules: the CORS origin, if any."""
        return {CORS_ORIGIN_ENV: self.cors_origin} if self.cors_origin else {}

    @property
    def url(self) -> str:
        """Base URL of the deployed stage (a token until deploy)."""
        return self.rest_api.url

    def _tell_authorizer_the_limits(self, plans: Sequence[PlanLimits]) -> None:
        """``PLAN_LIMITS`` for the authorizer, and the reads it needs for what is left of a quota.

        The usage plans' ids cannot go in its environment: they depend on the stage,
        the stage on the methods, the methods on the authorizer, so the function
        finds its key's usage plan at run time (GetUsagePlans by key) instead. The
        grant is a policy of its own, which the function does not wait for, for the
        same reason; until it exists, responses lack only ``RateLimit``.
        """
        stack = Stack.of(self)
        limits = {
            plan.name: {"rate_limit": plan.rate_limit, "burst": plan.burst, "monthly_quota": plan.monthly_quota}
            for plan in plans
        }
        self.authorizer_function.add_environment(PLAN_LIMITS_ENV, json.dumps(limits, sort_keys=True))
        with_quota = [self.usage_plans[plan.name].usage_plan_id for plan in plans if plan.monthly_quota]
        if not with_quota:
            return
        paths = ["/usageplans", *(f"/usageplans/{plan_id}/usage" for plan_id in with_quota)]
        iam.Policy(
            self,
            "AuthorizerReadsQuotaUsage",
            roles=[self.authorizer_function.role] if self.authorizer_function.role else [],
            statements=[
                iam.PolicyStatement(
                    actions=["apigateway:GET"],
                    resources=[
                        stack.format_arn(
                            service="apigateway", account="", resource=path, arn_format=ArnFormat.NO_RESOURCE_NAME
                        )
                        for path in paths
                    ],
                )
            ],
        )

    def _usage_plan(self, plan: PlanLimits) -> apigw.UsagePlan:
        return self.rest_api.add_usage_plan(
            f"Plan{plan.name.title().replace('-', '')}",
            name=plan.name,
            description=f"API-Direct plan '{plan.name}'",
            throttle=apigw.ThrottleSettings(rate_limit=plan.rate_limit, burst_limit=plan.burst),
            quota=apigw.QuotaSettings(limit=plan.monthly_quota, period=apigw.Period.MONTH)
            if plan.monthly_quota
            else None,
            api_stages=[
                apigw.UsagePlanPerApiStage(
                    api=self.rest_api,
                    stage=self.rest_api.deployment_stage,
                    throttle=self._method_throttles(plan) or None,
                )
            ],
        )
