"""The control plane's service: its FastAPI app behind a REST API, and the table and bus it runs on."""

import json
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

import api_direct
from api_direct.constructs.account_link import LinkNames
from api_direct.constructs.acknowledgments import acknowledge_wildcards, skip_checkov
from api_direct.bundling.build import SourceTree
from api_direct.constructs.fastapi_function import FastApiFunction
from api_direct.bundling.fastapi_code import ADAPTER_REQUIREMENT, FastApiCode, SourceFile
from api_direct.constructs.identity import USER_POOL_API_SCOPE
from api_direct.constructs.key_event_outbox import KeyEventOutbox
from api_direct.bundling.runtime_code import RUNTIME_REQUIREMENTS
from api_direct.constructs.usage_billing import UsageBilling
from api_direct.contracts import (
    ALERT_QUEUE_URL_ENV,
    KEY_RULE_PREFIX,
    CONTROL_PLANE_BUS_NAME,
    INDEXES,
    PK,
    SK,
    control_plane_environment,
    creator_key_bus_arn,
    problem_body,
    problem_headers,
)

#: What the control plane's code imports beyond boto3 (which Lambda provides), at the
#: versions this toolkit is tested with.
CONTROL_PLANE_REQUIREMENTS = (
    *(
        f"{name}=={version(name)}"
        for name in ("fastapi", "pydantic", "pyjwt", "cryptography", "stripe", "jinja2", "markupsafe", "mcp")
    ),
    ADAPTER_REQUIREMENT,
    *RUNTIME_REQUIREMENTS,
)
CONTROL_PLANE_HANDLER = "api_direct.control_plane.api.handler:handler"
EVENT_BUS_NAME = CONTROL_PLANE_BUS_NAME
#: The marketplace's web pages (``control_plane/web``): a browser holds no bearer token, the app reads its cookie.
WEB_PATHS = ("/web", "/web/{proxy+}")
#: The marketplace's MCP endpoint for AI agents (``control_plane/api/mcp_marketplace.py``): agents hold no token.
MARKETPLACE_MCP_PATH = "/mcp"
#: Pages anyone may read: search, listings, their reviews, how to sign in, where Stripe onboarding returns to,
#: and the web pages (the bare URL redirects to them); and the MCP endpoint's GET, which the app answers 405.
PUBLIC_GET_PATHS = (
    "/",
    "/docs",
    "/openapi.json",
    "/config",
    "/health",
    "/listings",
    "/listings/{proxy+}",
    "/payouts/onboarding",
    *WEB_PATHS,
    MARKETPLACE_MCP_PATH,
)
#: Stripe's webhook: Stripe cannot hold a Cognito token, it signs each request and the app checks the signature.
STRIPE_WEBHOOK_PATH = "/stripe/webhook"
PUBLIC_POST_PATHS = (STRIPE_WEBHOOK_PATH, *WEB_PATHS, MARKETPLACE_MCP_PATH)
#: Tells the operator what to put in the Stripe secret after the first deploy (placeholders, never keys).
STRIPE_SECRET_DESCRIPTION = (
    'API-Direct\'s Stripe keys. Replace the generated placeholder with {"api_key": "sk_live_...",'
    ' "webhook_secret": "whsec_..."}: the secret key of the platform\'s Stripe account and the signing'
    " secret of its webhook endpoint (the stack's StripeWebhookUrl)."
)
#: The rules forwarding APIs' key events (``bus.py`` names each ``apid-keys-<api>``).
KEY_RULES = f"{KEY_RULE_PREFIX}*"
#: Every key bus an API stack creates (``apid-<api>-keys``), in any account and region.
CREATOR_KEY_BUSES = creator_key_bus_arn(account_id="*", region="*", api_id="*")

_PYTHON_ONLY = ("__pycache__", "*.pyc")
_PUBLIC_GET_REASON = "Public marketplace page (search, listings, reviews, docs, sign-in settings): anyone may read it."
_PUBLIC_POST_REASON = (
    "Webhook of a third party that cannot hold a Cognito token (Stripe): the app acts on a request only after"
    " verifying its signature (Stripe-Signature, with the webhook signing secret) and rejects anything else."
)
_WEB_POST_REASON = (
    "Forms of the marketplace's web pages: a browser holds no bearer token, so the app reads the Cognito access"
    " token from its HttpOnly SameSite cookie, verifies it as it verifies bearer tokens, and refuses a form whose"
    " Origin is not this API's host."
)
_MCP_REASON = (
    "The marketplace's MCP endpoint for AI agents, which hold no Cognito token: it only searches and reads"
    " listings, records a subscription request that a signed-in person must confirm on a page (the agent never"
    " pays), and hands the key to the holder of that request's one-time claim token; requests are bounded per"
    " source address by the app, and a GET is answered 405 by the app (no event stream)."
)
_TABLE_WITHOUT_CMK = (
    "Encrypted at rest with DynamoDB's AWS managed KMS key (aws/dynamodb). API keys are stored only as SHA-256"
    " hashes and the Stripe keys live in Secrets Manager; only the app's and billing's roles are granted the"
    " table, and CDK's table grants would hand a customer managed key to the same roles, so one would add a key"
    " charge and a key policy without narrowing who reads it."
)
_SECRET_WITHOUT_CMK = (
    "Encrypted with Secrets Manager's AWS managed key (aws/secretsmanager), which only this account's principals"
    " can use, through Secrets Manager; the secret is granted to the app, closer and payer roles alone and is"
    " never shared with another account, the case a customer managed key (and its key policy) is needed for."
)
_SYNCHRONOUS_APP = (
    "API Gateway invokes the app synchronously (Lambda proxy integration) and returns its answer or error to the"
    " caller; a dead-letter queue only ever receives failed asynchronous invocations."
)
_SETTINGS_WITHOUT_CMK = (
    "The environment is contracts.control_plane_environment(): names, ids, ARNs, currency, fee and grace periods,"
    " never a secret (the Stripe keys are read from Secrets Manager at run time, only the secret's ARN is"
    " here). Lambda encrypts it at rest with its AWS managed key."
)
_ACCESS_LOGS_WITHOUT_CMK = (
    "CloudWatch Logs encrypts log data at rest already. A line holds request id, time, source IP, route, status,"
    " latency and the caller's Cognito sub, never a token; a customer managed KMS key would add a key charge and"
    " a key policy admitting CloudWatch Logs, and keep out no reader that IAM does not."
)
_NO_STAGE_CACHE = (
    "Private routes answer per user, and a stage cache keys its entries on the path and declared parameters, not"
    " on the caller, so it could answer one user with another's data; public pages change whenever a creator"
    " publishes, and a cache is billed by the hour."
)
#: Modules at the package root the app imports (it checks API names and plans as ``apid.toml`` does; it shares
#: the contracts: groups, table keys, environment names).
_SHARED_MODULES = (
    "__init__.py",
    "node_runtime.py",
    "errors.py",
    "project.py",
    "contracts.py",
    "webhook_signature.py",
    "amounts.py",
)
#: API Gateway's own rejections, in the app's problem+json shape so clients parse one format.
_GATEWAY_PROBLEMS = {
    apigw.ResponseType.UNAUTHORIZED: (401, "missing, invalid or expired access token: sign in again (`apid login`)"),
    apigw.ResponseType.ACCESS_DENIED: (403, "this access token may not call the control plane"),
}


def control_plane_sources() -> tuple[SourceTree, ...]:
    """The control plane's code: its package, the runtime, project model and cost model it shares, the package root.

    All of it is CDK-free: the root's ``__init__`` only points jsii at Node when a
    CDK app imports it, and the app reads ``__version__`` from it. The rest of
    ``api_direct`` (constructs, CLI, deploy engine) does not ship.
    """
    package = Path(api_direct.__file__).parent
    return (
        *(SourceFile(package / name, f"api_direct/{name}") for name in _SHARED_MODULES),
        *(
            SourceFile(package / "control_plane" / name, f"api_direct/control_plane/{name}")
            for name in ("__init__.py", "cognito.py")
        ),
        SourceTree(package / "control_plane" / "api", "api_direct/control_plane/api", exclude=_PYTHON_ONLY),
        SourceTree(package / "control_plane" / "billing", "api_direct/control_plane/billing", exclude=_PYTHON_ONLY),
        SourceTree(package / "control_plane" / "web", "api_direct/control_plane/web", exclude=_PYTHON_ONLY),
        SourceTree(package / "runtime", "api_direct/runtime", exclude=_PYTHON_ONLY),
        # The cost model and its prices/*.json, read as package data: what GET /earnings/costs prices calls with.
        SourceTree(package / "aws_costs", "api_direct/aws_costs", exclude=_PYTHON_ONLY),
    )


def _access_log_format() -> apigw.AccessLogFormat:
    """One JSON line per request; ``user`` is the caller's Cognito ``sub`` (empty on public pages)."""
    field = apigw.AccessLogField
    return apigw.AccessLogFormat.custom(
        json.dumps(
            {
                "requestId": field.context_request_id(),
                "time": field.context_request_time(),
                "ip": field.context_identity_source_ip(),
                "method": field.context_http_method(),
                "resource": field.context_resource_path(),
                "path": field.context_path(),
                "status": field.context_status(),
                "latencyMs": field.context_response_latency(),
                "responseLength": field.context_response_length(),
                "user": field.context_authorizer_claims("sub"),
                "error": field.context_error_response_type(),
            }
        )
    )


class ControlPlaneApi(Construct):
    """The control plane's FastAPI app on Lambda behind a REST API, with its table, bus and roles.

    * ``table``: the single table of :mod:`api_direct.control_plane.api.store`
      (``pk``/``sk`` and its indexes), billed per request, KMS-encrypted (AWS-managed
      key), point-in-time recovery; items with an ``expires_at`` (epoch seconds)
      are deleted by DynamoDB's TTL once it has passed. Its stream (new images)
      feeds ``outbox``.
    * ``event_bus``: usage arrives here and key events leave from here. It is created
      with no resource policy: the app admits each linked account on link
      (``events:PutPermission``) and removes it on unlink, so the bus never trusts
      an account that is not linked.
    * ``key_forwarding_role``: what EventBridge assumes to deliver key events to the
      ``apid-<api>-keys`` bus in each API's account, through the per-API rules the
      app creates (``apid-keys-<api>``).
    * ``stripe_secret``: the platform's Stripe keys (``{"api_key": "sk_...",
      "webhook_secret": "whsec_..."}``), which the operator puts in after deploy.
      The template creates it with a generated placeholder, so no key is ever in
      the template; only its ARN reaches the functions (``stripe_secret_arn``), and
      they read it at run time. Encrypted with Secrets Manager's AWS-managed key.
    * ``function``: the app, built by :class:`FastApiFunction` from this library's
      own ``control_plane`` and ``runtime`` packages, configured through
      :func:`api_direct.contracts.control_plane_environment`; it may read ``stripe_secret``.
    * ``outbox``: :class:`KeyEventOutbox` on the same bundle and settings: the key events
      the app and billing write to ``table`` with each change, relayed from its stream to ``event_bus``.
    * ``billing``: :class:`UsageBilling` on the same bundle, settings and table:
      usage from the bus into hourly totals, Stripe meter events, creator payouts.
    * ``rest_api``: a Cognito user pool authorizer (access tokens, as the CLI gets
      them) in front of every route except ``public_get_paths``, which anyone may
      GET (search and listing pages, docs, sign-in settings, the web pages), and
      ``public_post_paths``, which anyone may POST to (Stripe's webhook, which the
      app accepts only with a valid Stripe signature, the web pages' forms,
      which it accepts only with a valid session cookie, and the marketplace's
      MCP endpoint for AI agents, ``/mcp``); other methods on those
      paths still need a token. The app verifies tokens again itself, so the
      authorizer is the first filter that keeps anonymous traffic off private routes
      and off the function. JSON access logs; ``throttle`` (default 100 requests a
      second, bursts of 200) applies to the whole stage.

    ``alert_sender`` is the address usage alerts are emailed from: an identity the operator has verified in
    Amazon SES in this account and region (the address, or its domain); without it alerts go to webhooks only.

    ``removal_policy`` is the table's and the Stripe secret's: retained (and the
    table deletion-protected) by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        user_pool: cognito.IUserPool,
        app_client: cognito.IUserPoolClient,
        event_bus_name: str = EVENT_BUS_NAME,
        public_get_paths: Sequence[str] = PUBLIC_GET_PATHS,
        public_post_paths: Sequence[str] = PUBLIC_POST_PATHS,
        stage_name: str = "v1",
        throttle: apigw.ThrottleSettings | None = None,
        memory_size: int = 1024,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        access_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        alert_sender: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SK, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expires_at",
            stream=dynamodb.StreamViewType.NEW_IMAGE,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        skip_checkov(self.table, {"CKV_AWS_119": _TABLE_WITHOUT_CMK})
        for index, partition, sort in INDEXES:
            self.table.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=partition, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=sort, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        self.event_bus = events.EventBus(self, "Bus", event_bus_name=event_bus_name)
        self.key_forwarding_role = iam.Role(
            self,
            "KeyForwarding",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description="EventBridge forwards API-Direct key events to the key bus in each API's account",
        )
        forwarding = iam.PolicyStatement(actions=["events:PutEvents"], resources=[CREATOR_KEY_BUSES])
        self.key_forwarding_role.add_to_policy(forwarding)
        acknowledge_wildcards(
            self.key_forwarding_role,
            forwarding,
            "Creators' accounts and regions become known only when they link and publish, so the role"
            " is scoped by name to API-Direct key buses; each of those admits only this account.",
        )
        self.stripe_secret = secretsmanager.Secret(
            self,
            "StripeKeys",
            description=STRIPE_SECRET_DESCRIPTION,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"api_key": ""}), generate_string_key="webhook_secret"
            ),
            removal_policy=removal_policy,
        )
        skip_checkov(self.stripe_secret, {"CKV_AWS_149": _SECRET_WITHOUT_CMK})
        Validations.of(self.stripe_secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="Stripe keys are rolled in Stripe's dashboard, which has no API a rotation Lambda could"
                " call; the operator pastes the new keys into this secret when rolling them.",
            )
        )
        environment = control_plane_environment(
            account_id=stack.account,
            table_name=self.table.table_name,
            event_bus_name=self.event_bus.event_bus_name,
            user_pool_id=user_pool.user_pool_id,
            app_client_id=app_client.user_pool_client_id,
            key_forwarding_role_arn=self.key_forwarding_role.role_arn,
            stripe_secret_arn=self.stripe_secret.secret_arn,
            alert_sender=alert_sender,
        )
        self.function = app = FastApiFunction(
            self,
            "App",
            code=FastApiCode.from_sources(
                control_plane_sources(), requirements=CONTROL_PLANE_REQUIREMENTS, handler=CONTROL_PLANE_HANDLER
            ),
            memory_size=memory_size,
            timeout=Duration.seconds(15),
            log_retention=log_retention,
            environment=environment,
        )
        skip_checkov(self.function, {"CKV_AWS_116": _SYNCHRONOUS_APP, "CKV_AWS_173": _SETTINGS_WITHOUT_CMK})
        self.log_group = app.log_group
        self.bundle = app.bundle
        self._grant_app(app.execution_role, event_bus_name)
        self.stripe_secret.grant_read(app)
        self.billing = UsageBilling(
            self,
            "Billing",
            table=self.table,
            event_bus=self.event_bus,
            bundle=self.bundle,
            environment=environment,
            stripe_secret=self.stripe_secret,
            user_pool=user_pool,
            alert_sender=alert_sender,
            log_retention=log_retention,
        )
        self.outbox = KeyEventOutbox(
            self,
            "Outbox",
            table=self.table,
            event_bus=self.event_bus,
            bundle=self.bundle,
            environment=environment,
            log_retention=log_retention,
        )
        # Stripe's webhook queues consumer notices too (a free trial ending), sent as usage alerts are.
        self.function.add_environment(ALERT_QUEUE_URL_ENV, self.billing.alert_queue.queue_url)
        self.billing.alert_queue.grant_send_messages(self.function)
        self.access_log_group = logs.LogGroup(
            self, "AccessLogs", retention=access_log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        skip_checkov(self.access_log_group, {"CKV_AWS_158": _ACCESS_LOGS_WITHOUT_CMK})
        throttle = throttle or apigw.ThrottleSettings(rate_limit=100, burst_limit=200)
        self.rest_api = apigw.RestApi(
            self,
            "Api",
            description="API-Direct control plane",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=_access_log_format(),
                tracing_enabled=True,
                throttling_rate_limit=throttle.rate_limit,
                throttling_burst_limit=throttle.burst_limit,
            ),
        )
        # RestApi always adds an "Endpoint" output; the stack that owns the API names its own.
        self.rest_api.node.try_remove_child("Endpoint")
        skip_checkov(self.rest_api.deployment_stage, {"CKV_AWS_120": _NO_STAGE_CACHE})
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[user_pool])
        self._integration = apigw.LambdaIntegration(self.function, scope_permission_to_method=False)
        for resource in (self.rest_api.root, self.rest_api.root.add_resource("{proxy+}")):
            self._add_signed_in(resource)
        self._add_public(public_get_paths, public_post_paths)
        for response_type, (status, detail) in _GATEWAY_PROBLEMS.items():
            self.rest_api.add_gateway_response(
                f"{response_type.response_type.title().replace('_', '')}Problem",
                type=response_type,
                status_code=str(status),
                templates={"application/json": problem_body(status, detail).decode()},
                response_headers={name: f"'{value}'" for name, value in problem_headers(status).items()},
            )
        Validations.of(self.rest_api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG2",
                reason="The app validates every body, path and query parameter against its pydantic models and"
                " answers 422 problem+json; the gateway has no models of its own to check.",
            ),
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="Requests are throttled stage-wide and private routes need a Cognito token; a WAF web ACL"
                " is a monthly cost the operator can associate with the stage when traffic warrants it.",
            ),
            Acknowledgment(
                id="AwsSolutions-APIG6",
                reason="Every request is in the JSON access log; execution logging needs API Gateway's"
                " account-wide CloudWatch role, which is account setup the operator owns, not this stack's.",
            ),
        )

    @property
    def url(self) -> str:
        """Base URL of the deployed stage (a token until deploy)."""
        return self.rest_api.url

    @property
    def stripe_webhook_url(self) -> str:
        """Where Stripe sends its events: the endpoint to register in Stripe's dashboard."""
        return self.rest_api.url_for_path(STRIPE_WEBHOOK_PATH)

    def _add_signed_in(self, resource: apigw.IResource) -> None:
        resource.add_method(
            "ANY",
            self._integration,
            authorizer=self.authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
            authorization_scopes=[USER_POOL_API_SCOPE],
        )

    def _add_public(self, get_paths: Sequence[str], post_paths: Sequence[str]) -> None:
        """GET and POST without a token on the given paths.

        Every other method of those paths, and every method of the paths above them
        (``/stripe``), still needs one, and reaches the app, which answers 404 or 405.
        """
        public = [(path, "GET", _public_reason(path, "GET")) for path in get_paths]
        public += [(path, "POST", _public_reason(path, "POST")) for path in post_paths]
        signed_in = {"/", "/{proxy+}"}  # __init__ signed them in
        for path, http_method, reason in public:
            parts = path.strip("/").split("/")
            for depth in range(1, len(parts) + 1):
                prefix = "/" + "/".join(parts[:depth])
                if prefix not in signed_in:
                    self._add_signed_in(self.rest_api.root.resource_for_path(prefix))
                    signed_in.add(prefix)
            resource = self.rest_api.root.resource_for_path(path)
            method = resource.add_method(
                http_method, self._integration, authorization_type=apigw.AuthorizationType.NONE
            )
            skip_checkov(method, {"CKV_AWS_59": reason})
            Validations.of(method).acknowledge(
                Acknowledgment(id="AwsSolutions-APIG4", reason=reason),
                Acknowledgment(id="AwsSolutions-COG4", reason=reason),
            )

    def _grant_app(self, role: iam.IRole, event_bus_name: str) -> None:
        """What the app does in AWS: its table, its bus's permissions and key routing rules, and linked accounts'
        deploy roles; it puts no events itself (``outbox`` does)."""
        stack = Stack.of(self)
        for statement in self.table.grant_read_write_data(role).principal_statements:
            acknowledge_wildcards(
                role, statement, "The app queries every index of its table (store.INDEXES), and only this table's."
            )
        key_rules = stack.format_arn(service="events", resource="rule", resource_name=f"{event_bus_name}/{KEY_RULES}")
        deploy_roles = stack.format_arn(
            service="iam",
            region="",
            account="*",
            resource="role",
            resource_name=LinkNames(account="*", region="*").deploy_role,
        )
        rules_reason = (
            "The app creates one key-forwarding rule per API when it is published, so rules are scoped"
            " by name to this bus's key rules, and their targets (by condition) to API-Direct key buses."
        )
        for statement, wildcards in (
            # Linked accounts may put usage on the bus: the app adds and removes them one by one.
            (
                iam.PolicyStatement(
                    actions=["events:PutPermission", "events:RemovePermission"],
                    resources=[self.event_bus.event_bus_arn],
                ),
                None,
            ),
            (iam.PolicyStatement(actions=["events:PutRule"], resources=[key_rules]), rules_reason),
            # Targets only ever key buses; PutRule has no target, hence two statements.
            (
                iam.PolicyStatement(
                    actions=["events:PutTargets"],
                    resources=[key_rules],
                    conditions={"ArnLike": {"events:TargetArn": CREATOR_KEY_BUSES}},
                ),
                rules_reason,
            ),
            (
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[self.key_forwarding_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}},
                ),
                None,
            ),
            # Deploy credentials for a creator's CLI; each deploy role also demands the creator's ExternalId.
            (
                iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[deploy_roles]),
                "Each linked creator account has its deploy role, known only once linked; every one trusts"
                " this account only with the creator's ExternalId, which only the control plane holds.",
            ),
        ):
            role.add_to_principal_policy(statement)
            if wildcards:
                acknowledge_wildcards(role, statement, wildcards)


def _public_reason(path: str, http_method: str) -> str:
    """Why a method of ``path`` needs no token, for cdk-nag and checkov."""
    if path == MARKETPLACE_MCP_PATH:
        return _MCP_REASON
    if http_method == "GET":
        return _PUBLIC_GET_REASON
    return _WEB_POST_REASON if path in WEB_PATHS else _PUBLIC_POST_REASON
