"""API Gateway's part on one machine: a deployed REST API's request path, in process.

moto creates a creator's REST API (with the emulator's patches: stage, authorizer,
usage plans) but cannot serve it, so the sandbox plays API Gateway for each call,
in the order API Gateway works through it for our stack:

1. the path is matched to one of the API's resources as API Gateway matches it
   (:func:`~.rest_proxy.match_resource`: ``/``, ``/{proxy+}``, a resource per weighted
   route, ``/mcp``), none matching being its 403 ``Missing Authentication Token``;
   a payload over API Gateway's limit is refused (413) before anything runs;
   an ``OPTIONS`` on a resource whose ``OPTIONS`` method is a mock integration
   (the CORS preflight) gets that integration's response, with no authorizer;
2. no (or an empty) ``x-api-key`` header: the identity source is missing, so the
   authorizer is not called and the caller gets the ``UNAUTHORIZED`` gateway response;
3. the REQUEST authorizer (the deployed function, run by :class:`LocalLambda`):
   ``Unauthorized`` raised -> ``UNAUTHORIZED``; a Deny -> ``ACCESS_DENIED``, whose
   body shows the message from the authorizer's context;
4. an Allow whose ``usageIdentifierKey`` is not an enabled API key in a usage plan
   of the stage (key sync has not applied it) -> ``INVALID_API_KEY``; a key whose
   usage plan's monthly quota is used up -> ``QUOTA_EXCEEDED`` (counted here, per
   key and UTC calendar month, from this gateway's own calls);
   (``/mcp``, the MCP endpoint's resource, requires no API key: no usage plan applies to it);
5. the proxy integration: the app's handler (``/mcp``: the MCP function) gets the REST (payload 1.0) event and
   its result becomes the client's response, both by :class:`~.rest_proxy.RestProxy`'s
   rules (binary bodies by the stage's ``binaryMediaTypes``, repeated headers, HEAD,
   a function error or an oversized result as the 502);
6. one access-log line, in the stage's format, into the stage's access log group,
   where the usage forwarder's subscription reads it.

Each rejection is the gateway response the construct configures, from the same
:mod:`~api_direct.runtime.gateway_responses`, headers (``Retry-After`` from the
authorizer's context) included; where the stack's template is known
(:class:`GatewayRules`), a gateway response's headers and the preflight's are the
template's, and API Gateway's other answers (413, 502, 500) get the headers of
its ``DEFAULT_4XX`` / ``DEFAULT_5XX`` responses, CORS's among them. An allowed call's ``RateLimit-Policy`` and
``RateLimit`` come from the app's adapter, as deployed. The access-log line records what the
cost model reads as API Gateway does: the response body's length, and the authorizer's
decision as its result cache (the template's TTL) would have answered the call, with the
authorizer's latency on the call that invoked it (:class:`~.authorizer_cache.AuthorizerCache`).
Not emulated: the authorizer's result cache itself (every call asks the authorizer, so a key's
change applies at once) and the usage plans' throttling; the quota
counter starts at zero with each gateway and is not what GetUsage answers (the
emulator has no GetUsage, so a local response carries ``RateLimit-Policy`` but
no ``RateLimit``).
"""

import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import IO, Any

from api_direct.local.authorizer_cache import AuthorizerCache
from api_direct.local.lambda_runtime import DeployedFunction, LocalLambda
from api_direct.local.rest_proxy import (
    INTEGRATION_FAILED,
    HttpRequest,
    HttpResponse,
    RestProxy,
    binary_media_types_of,
    failed,
    match_resource,
    too_large,
)
from api_direct.runtime.access_log import AUTHORIZER_DECISION, render_access_log_line
from api_direct.runtime.asgi_lambda import BINARY_MEDIA_TYPES
from api_direct.runtime.key_check import API_KEY_HEADER
from api_direct.runtime.mcp_tools import MCP_PATH
from api_direct.runtime.gateway_responses import BY_GATEWAY_RESPONSE_TYPE, render_headers, render_template
from api_direct.runtime.route_weights import PROXY

PROXY_RESOURCE = f"/{PROXY}"
#: How long API Gateway keeps an authorizer's answer when its ``AuthorizerResultTtlInSeconds`` is not set.
AWS_AUTHORIZER_TTL_SECONDS = 300
#: API Gateway's answer to a path no resource matches (its ``MISSING_AUTHENTICATION_TOKEN`` response's default).
NO_RESOURCE = (403, b'{"message":"Missing Authentication Token"}')


@dataclass(frozen=True)
class Response(HttpResponse):
    """What the client got, and whom the gateway metered it to."""

    #: The authorizer's key id and plan, both "" for a request it did not allow.
    key_id: str = ""
    plan: str = ""
    #: The request's method and the resource it matched ("" for none), as the access log records them.
    method: str = ""
    resource: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class GatewayRules:
    """What a REST API's template says API Gateway answers itself: preflights and gateway responses' headers.

    Read from the template (:meth:`of`), as the stack deployed it: moto's
    GetRestApi drops ``BinaryMediaTypes``, and its gateway responses and mock
    integrations are not served at all.
    """

    binary_media_types: tuple[str, ...] = BINARY_MEDIA_TYPES
    #: Every resource's full path, the root's ``/`` included: what a request's path is matched to.
    resources: tuple[str, ...] = ("/", PROXY_RESOURCE)
    #: Resource path (``/``, ``/{proxy+}``, ...) -> the mock integration's answer to an ``OPTIONS``.
    preflights: Mapping[str, HttpResponse] = field(default_factory=dict)
    #: Gateway-response type -> its header mappings, as CloudFormation holds them (``'value'`` or a source).
    response_headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: How long API Gateway keeps the authorizer's answer to a key; 0 where the template is not known.
    authorizer_ttl_seconds: int = 0

    @classmethod
    def of(cls, template: Mapping[str, Any]) -> "GatewayRules":
        """The rules of the one REST API in ``template``: the resources this stack's gateway is built from."""
        resources: Mapping[str, Any] = template.get("Resources", {})
        [rest_api] = [r for r in resources.values() if r.get("Type") == "AWS::ApiGateway::RestApi"]
        preflights: dict[str, HttpResponse] = {}
        response_headers: dict[str, dict[str, str]] = {}
        ttl = 0
        for resource in resources.values():
            properties = resource.get("Properties", {})
            if resource.get("Type") == "AWS::ApiGateway::Authorizer":
                ttl = int(properties.get("AuthorizerResultTtlInSeconds", AWS_AUTHORIZER_TTL_SECONDS))
            elif resource.get("Type") == "AWS::ApiGateway::GatewayResponse":
                response_headers[properties["ResponseType"]] = _headers(properties, "gatewayresponse.header.")
            elif resource.get("Type") == "AWS::ApiGateway::Method" and properties.get("HttpMethod") == "OPTIONS":
                integration = properties.get("Integration", {})
                path = _resource_path(resources, properties.get("ResourceId"))
                if integration.get("Type") == "MOCK" and path is not None:
                    [answer] = integration.get("IntegrationResponses", [{}])[:1]
                    headers = _headers(answer, "method.response.header.")
                    preflights[path] = HttpResponse(
                        int(answer.get("StatusCode", 200)), render_headers(headers, {}), b""
                    )
        paths = [
            _resource_path(resources, {"Ref": logical_id})
            for logical_id, resource in resources.items()
            if resource.get("Type") == "AWS::ApiGateway::Resource"
        ]
        return cls(
            binary_media_types_of(rest_api.get("Properties", {}).get("BinaryMediaTypes")),
            ("/", *sorted(path for path in paths if path is not None)),
            preflights,
            response_headers,
            ttl,
        )


def _headers(properties: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """Header mappings from ``ResponseParameters``, by header name."""
    parameters: Mapping[str, str] = properties.get("ResponseParameters") or {}
    return {name.removeprefix(prefix): value for name, value in parameters.items() if name.startswith(prefix)}


def _resource_path(resources: Mapping[str, Any], resource_id: Any) -> str | None:
    """``/`` for the API's root (``RootResourceId``), the full path of a resource below it (through its
    parents' ``ParentId``); ``None`` for what is neither."""
    if isinstance(resource_id, dict) and resource_id.get("Fn::GetAtt", [None, None])[1] == "RootResourceId":
        return "/"
    if isinstance(resource_id, dict) and "Ref" in resource_id:
        resource = resources.get(resource_id["Ref"], {})
        if resource.get("Type") == "AWS::ApiGateway::Resource":
            parent = _resource_path(resources, resource["Properties"].get("ParentId"))
            return None if parent is None else f"{parent.rstrip('/')}/{resource['Properties']['PathPart']}"
    return None


@dataclass(frozen=True)
class DeployedRestApi:
    """Where a deployed API's pieces are: read from its stack and the emulator, not assumed."""

    rest_api_id: str
    stage: str
    account_id: str
    region: str
    authorizer: DeployedFunction
    app: DeployedFunction
    access_log_group: str
    #: What the stack's template configures API Gateway to answer itself (binary media types included).
    rules: GatewayRules = GatewayRules()
    #: The function behind ``/mcp`` (:class:`~api_direct.constructs.mcp_endpoint.McpEndpoint`), if the API has one.
    mcp: DeployedFunction | None = None

    @property
    def proxy(self) -> RestProxy:
        return RestProxy(
            stage=self.stage,
            rest_api_id=self.rest_api_id,
            account_id=self.account_id,
            region=self.region,
            binary_media_types=self.rules.binary_media_types,
        )


class LocalRestApi:
    """Sends requests through a deployed REST API's authorizer, key check and app, in process.

    ``clock`` (epoch seconds) is when a request happens, for its access-log line: the
    sandbox's can run ahead of the real one, as its scheduled functions do. A function
    that raises is API Gateway's 502 to the client, its traceback written to ``errors``
    (where Lambda would log it).
    """

    def __init__(
        self,
        api: DeployedRestApi,
        runtime: LocalLambda,
        apigateway: Any,
        logs: Any,
        clock: Callable[[], float] = time.time,
        errors: IO[str] | None = None,
    ) -> None:
        self.api = api
        self.proxy = api.proxy
        self._runtime = runtime
        self._apigateway = apigateway
        self._logs = logs
        self._clock = clock
        self._errors = errors
        self._stream = f"sandbox-{uuid.uuid4().hex[:8]}"
        #: Calls counted against a quota, per (usage identifier, UTC month).
        self._quota_calls: Counter[tuple[str, str]] = Counter()
        self._authorizer_cache = AuthorizerCache(api.rules.authorizer_ttl_seconds)
        logs.create_log_stream(logGroupName=api.access_log_group, logStreamName=self._stream)

    def request(self, request: HttpRequest) -> Response:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        epoch_ms = int(self._clock() * 1000)
        resource = self.resource_of(request.path)
        measured: dict[str, object] = {}
        if resource is None:
            response = self.gateway_answer(failed(*NO_RESOURCE))
        else:
            response, measured = self._respond(request, request_id, resource)
        response = replace(response, method=request.method, resource=resource or "")
        self._log_access(
            {
                "requestId": request_id,
                "requestTimeEpoch": epoch_ms,
                "apiId": self.api.rest_api_id,
                "stage": self.api.stage,
                "httpMethod": request.method,
                **({"resourcePath": resource} if resource is not None else {}),
                "status": response.status,
                "responseLatency": int((time.monotonic() - started) * 1000),
                "responseLength": len(response.body),
                **measured,
                **({"keyId": response.key_id, "plan": response.plan} if response.key_id else {}),
            }
        )
        return response

    def resource_of(self, path: str) -> str | None:
        """The resource API Gateway matches ``path`` to (``/mcp`` where the API has one, a weighted route's, the
        root or a ``{proxy+}``); ``None`` for none."""
        resources = {*self.api.rules.resources, *((MCP_PATH,) if self.api.mcp is not None else ())}
        return match_resource(resources, path)

    def _respond(self, request: HttpRequest, request_id: str, resource: str) -> tuple[Response, dict[str, object]]:
        """The response, and the access-log fields measured on the way: the authorizer's decision and latency, the
        integration's latency."""
        refused = too_large(request)
        if refused is not None:
            return self.gateway_answer(refused), {}
        preflight = self.api.rules.preflights.get(resource) if request.method == "OPTIONS" else None
        if preflight is not None:
            return Response(preflight.status, preflight.headers, preflight.body), {}
        api_key = request.header(API_KEY_HEADER)
        if not api_key:
            return self._rejected("UNAUTHORIZED"), {}
        event = self.proxy.event(request, request_id=request_id, resource=resource)
        method_arn = (
            f"arn:aws:execute-api:{self.api.region}:{self.api.account_id}:{self.api.rest_api_id}"
            f"/{self.api.stage}/{request.method}{event['path']}"
        )
        asked = time.monotonic()
        try:
            policy = self._runtime.invoke(
                self.api.authorizer,
                {
                    "type": "REQUEST",
                    "methodArn": method_arn,
                    **{
                        name: event[name]
                        for name in (
                            "resource",
                            "path",
                            "httpMethod",
                            "headers",
                            "multiValueHeaders",
                            "queryStringParameters",
                            "multiValueQueryStringParameters",
                            "pathParameters",
                            "stageVariables",
                            "requestContext",
                        )
                    },
                },
            )
        except Exception as error:  # API Gateway turns exactly "Unauthorized" into a 401, anything else a 500
            if str(error) == "Unauthorized":
                return self._rejected("UNAUTHORIZED"), {}
            raise
        context = policy.get("context", {})
        decision = context.get(AUTHORIZER_DECISION)
        measured: dict[str, object] = (
            self._authorizer_cache.log_fields(api_key, decision, int((time.monotonic() - asked) * 1000), self._clock())
            if decision
            else {}
        )
        if policy["policyDocument"]["Statement"][0]["Effect"] != "Allow":
            return self._rejected("ACCESS_DENIED", context), measured
        function = self.api.mcp if resource == MCP_PATH and self.api.mcp is not None else self.api.app
        if function is self.api.app:  # /mcp requires no API key: no usage plan counts or limits it
            usage_identifier_key = policy.get("usageIdentifierKey")
            usage_plan = self._usage_plan(usage_identifier_key)
            if usage_plan is None or not usage_identifier_key:
                return self._rejected("INVALID_API_KEY"), measured
            if not self._within_quota(usage_plan, usage_identifier_key):
                return self._rejected("QUOTA_EXCEEDED", context), measured
        started = time.monotonic()
        authorized = {
            **event,
            "requestContext": {
                **event["requestContext"],
                "authorizer": {**context, "principalId": policy["principalId"]},
            },
        }
        try:
            answered = self.proxy.response(request, self._runtime.invoke(function, authorized))
        except Exception:  # the function failed: API Gateway's 502; the traceback goes where Lambda logs it
            if self._errors is not None:
                traceback.print_exc(file=self._errors)
            answered = self.gateway_answer(failed(*INTEGRATION_FAILED))
        measured["integrationLatency"] = int((time.monotonic() - started) * 1000)
        return Response(
            answered.status, answered.headers, answered.body, context.get("keyId", ""), context.get("plan", "")
        ), measured

    def gateway_answer(self, response: HttpResponse) -> Response:
        """One of API Gateway's own answers not configured by type (413, 502, 500, 403 outside the stage), with the
        headers of the template's ``DEFAULT_4XX`` or ``DEFAULT_5XX`` response, as AWS applies those."""
        default = "DEFAULT_5XX" if response.status >= 500 else "DEFAULT_4XX"
        added = render_headers(self.api.rules.response_headers.get(default, {}), {})
        return Response(response.status, (*response.headers, *added), response.body)

    def _rejected(self, response_type: str, authorizer_context: Mapping[str, str] | None = None) -> Response:
        configured = BY_GATEWAY_RESPONSE_TYPE[response_type]
        mappings = self.api.rules.response_headers.get(response_type, configured.header_mappings())
        context = authorizer_context or {}
        body = render_template(configured.body(), context)
        return Response(configured.status, render_headers(mappings, context), body.encode())

    def _usage_plan(self, usage_identifier_key: str | None) -> dict[str, Any] | None:
        """The usage plan of this stage API Gateway would meter the key on: enabled, and in one; else ``None``."""
        if not usage_identifier_key:
            return None
        keys = self._apigateway.get_api_keys(includeValues=True, limit=500)["items"]
        for key in keys:
            if key.get("value") == usage_identifier_key and key.get("enabled", True):
                plans = self._apigateway.get_usage_plans(keyId=key["id"])["items"]
                for plan in plans:
                    if any(
                        stage.get("apiId") == self.api.rest_api_id and stage.get("stage") == self.api.stage
                        for stage in plan.get("apiStages", [])
                    ):
                        return dict(plan)
        return None

    def _within_quota(self, usage_plan: Mapping[str, Any], usage_identifier_key: str) -> bool:
        """Count the call against the plan's MONTH quota; ``False`` once the month's calls reached it.

        API Gateway's MONTH period runs from midnight UTC on the 1st; the calls it
        refused do not count, the ones it let through do, whatever the app answers.
        """
        quota = usage_plan.get("quota") or {}
        if quota.get("period") != "MONTH" or "limit" not in quota:
            return True
        month = time.strftime("%Y-%m", time.gmtime(self._clock()))
        if self._quota_calls[(usage_identifier_key, month)] >= int(quota["limit"]):
            return False
        self._quota_calls[(usage_identifier_key, month)] += 1
        return True

    def _log_access(self, fields: Mapping[str, object]) -> None:
        self._logs.put_log_events(
            logGroupName=self.api.access_log_group,
            logStreamName=self._stream,
            logEvents=[{"timestamp": int(self._clock() * 1000), "message": render_access_log_line(fields)}],
        )
