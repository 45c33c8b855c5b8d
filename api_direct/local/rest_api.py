"""API Gateway's part on one machine: a deployed REST API's request path, in process.

moto creates a creator's REST API (with the emulator's patches: stage, authorizer,
usage plans) but cannot serve it, so the sandbox plays API Gateway for each call,
in the order API Gateway works through it for our stack:

1. no ``x-api-key`` header: the identity source is missing, so the authorizer is
   not called and the caller gets the ``UNAUTHORIZED`` gateway response;
2. the REQUEST authorizer (the deployed function, run by :class:`LocalLambda`):
   ``Unauthorized`` raised -> ``UNAUTHORIZED``; a Deny -> ``ACCESS_DENIED``, whose
   body shows the message from the authorizer's context;
3. an Allow whose ``usageIdentifierKey`` is not an enabled API key in a usage plan
   of the stage (key sync has not applied it) -> ``INVALID_API_KEY``;
4. the proxy integration: the app's handler gets the REST (payload 1.0) event;
5. one access-log line, in the stage's format, into the stage's access log group,
   where the usage forwarder's subscription reads it.

Each rejection is the gateway response the construct configures, from the same
:mod:`~api_direct.runtime.gateway_responses`. Not emulated: the authorizer's result
cache (every call asks the authorizer), throttling and quotas of the usage plans.
"""

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from api_direct.local.lambda_runtime import DeployedFunction, LocalLambda
from api_direct.runtime.access_log import render_access_log_line
from api_direct.runtime.authorizer import API_KEY_HEADER
from api_direct.runtime.gateway_responses import BY_GATEWAY_RESPONSE_TYPE, render_template


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    #: The authorizer's key id and plan, both "" for a request it did not allow.
    key_id: str = ""
    plan: str = ""


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


class LocalRestApi:
    """Sends requests through a deployed REST API's authorizer, key check and app, in process.

    ``clock`` (epoch seconds) is when a request happens, for its access-log line: the
    sandbox's can run ahead of the real one, as its scheduled functions do.
    """

    def __init__(self, api: DeployedRestApi, runtime: LocalLambda, apigateway: Any, logs: Any,
                 clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self._runtime = runtime
        self._apigateway = apigateway
        self._logs = logs
        self._clock = clock
        self._stream = f"sandbox-{uuid.uuid4().hex[:8]}"
        logs.create_log_stream(logGroupName=api.access_log_group, logStreamName=self._stream)

    def request(self, method: str, path: str, headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> Response:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        epoch_ms = int(self._clock() * 1000)
        resource = "/" if path == "/" else "/{proxy+}"
        response, integration_ms = self._respond(method, path, resource, dict(headers), dict(query or {}), request_id)
        self._log_access({
            "requestId": request_id, "requestTimeEpoch": epoch_ms, "apiId": self.api.rest_api_id,
            "stage": self.api.stage, "httpMethod": method, "resourcePath": resource, "status": response.status,
            "responseLatency": int((time.monotonic() - started) * 1000),
            **({"integrationLatency": integration_ms} if integration_ms is not None else {}),
            **({"keyId": response.key_id, "plan": response.plan} if response.key_id else {}),
        })
        return response

    def _respond(self, method: str, path: str, resource: str, headers: dict[str, str], query: dict[str, str],
                 request_id: str) -> tuple[Response, int | None]:
        if not any(name.lower() == API_KEY_HEADER for name in headers):
            return self._rejected("UNAUTHORIZED"), None
        method_arn = (f"arn:aws:execute-api:{self.api.region}:{self.api.account_id}:{self.api.rest_api_id}"
                      f"/{self.api.stage}/{method}{path}")
        request_context = {"requestId": request_id, "stage": self.api.stage, "apiId": self.api.rest_api_id,
                           "resourcePath": resource, "httpMethod": method, "path": f"/{self.api.stage}{path}",
                           "accountId": self.api.account_id, "identity": {"sourceIp": "127.0.0.1"}}
        try:
            policy = self._runtime.invoke(self.api.authorizer, {
                "type": "REQUEST", "methodArn": method_arn, "resource": resource, "path": path,
                "httpMethod": method, "headers": headers, "queryStringParameters": query,
                "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": {}, "requestContext": request_context,
            })
        except Exception as error:  # API Gateway turns exactly "Unauthorized" into a 401, anything else a 500
            if str(error) == "Unauthorized":
                return self._rejected("UNAUTHORIZED"), None
            raise
        context = policy.get("context", {})
        if policy["policyDocument"]["Statement"][0]["Effect"] != "Allow":
            return self._rejected("ACCESS_DENIED", context), None
        if not self._in_usage_plan(policy.get("usageIdentifierKey")):
            return self._rejected("INVALID_API_KEY"), None
        started = time.monotonic()
        answer = self._runtime.invoke(self.api.app, {
            "resource": resource, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} or None,
            "pathParameters": {"proxy": path.lstrip("/")} if resource != "/" else None, "stageVariables": None,
            "requestContext": {**request_context, "authorizer": {**context, "principalId": policy["principalId"]}},
            "body": None, "isBase64Encoded": False,
        })
        integration_ms = int((time.monotonic() - started) * 1000)
        return Response(answer["statusCode"], answer.get("body", ""), context.get("keyId", ""),
                        context.get("plan", "")), integration_ms

    @staticmethod
    def _rejected(response_type: str, authorizer_context: Mapping[str, str] | None = None) -> Response:
        configured = BY_GATEWAY_RESPONSE_TYPE[response_type]
        return Response(configured.status, render_template(configured.body(), authorizer_context or {}))

    def _in_usage_plan(self, usage_identifier_key: str | None) -> bool:
        """Whether API Gateway would accept the key: enabled, and in a usage plan of this stage."""
        if not usage_identifier_key:
            return False
        keys = self._apigateway.get_api_keys(includeValues=True, limit=500)["items"]
        for key in keys:
            if key.get("value") == usage_identifier_key and key.get("enabled", True):
                plans = self._apigateway.get_usage_plans(keyId=key["id"])["items"]
                return any(stage.get("apiId") == self.api.rest_api_id and stage.get("stage") == self.api.stage
                           for plan in plans for stage in plan.get("apiStages", []))
        return False

    def _log_access(self, fields: Mapping[str, object]) -> None:
        self._logs.put_log_events(logGroupName=self.api.access_log_group, logStreamName=self._stream, logEvents=[
            {"timestamp": int(self._clock() * 1000), "message": render_access_log_line(fields)}])

