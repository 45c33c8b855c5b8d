"""``/mcp`` on a metered API: its operations as MCP tools for AI agents, each call metered as a call to its route."""

import json
from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from api_direct.constructs.acknowledgments import skip_checkov
from api_direct.constructs.bundled_function import BundledFunction, bundle_cache_dir
from api_direct.constructs.metered_api import API_KEY_HEADER, MeteredApi
from api_direct.bundling.runtime_code import MCP_REQUIREMENTS
from api_direct.constructs.runtime_function import runtime_bundle
from api_direct.contracts import MCP_API_NAME_ENV, MCP_APP_FUNCTION_ENV, MCP_EXCLUDE_ENV
from api_direct.runtime.mcp_tools import MCP_PATH

_SYNCHRONOUS = (
    "Only the API's gateway invokes the MCP function, synchronously, and answers the agent with its result or"
    " error; a dead-letter queue only ever receives failed asynchronous invocations."
)
_ENVIRONMENT_WITHOUT_CMK = (
    "The environment holds the app alias's ARN, the API's name and the excluded routes, never a secret; Lambda"
    " encrypts it at rest with its AWS managed key."
)


class McpEndpoint(Construct):
    """An MCP server (streamable HTTP, stateless) at ``<stage URL>/mcp``, with one tool per operation of ``app``.

    The tools come from the app's OpenAPI document, which the MCP function asks the
    app for (it may invoke ``app``, nothing else), and each tool call goes back
    through ``api``'s stage as a call to its route with the agent's own key
    (:mod:`api_direct.runtime.mcp_server`): the route's authorizer, usage plan, app
    and access log see one ordinary call.

    ``/mcp`` itself takes the same key through the same authorizer (no key: 401;
    a key this API does not know: 403) but needs no usage plan, so listing tools is
    not counted against the consumer's quota, and its access-log lines are never
    billed. Its stage-wide throttle (``rate_limit`` requests per second, ``burst``)
    bounds what key holders can make the function do between tool calls, which
    their plans limit.

    ``exclude`` leaves operations out (operation ids, paths or ``"METHOD /path"``,
    ``*`` globs: :func:`~api_direct.runtime.mcp_tools.excluded`). The function reads
    the tools again every minute, so a new version of ``app`` (a deploy, a hotswap,
    a canary's shift) needs no change of its own.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: MeteredApi,
        app: lambda_.IFunction,
        api_name: str,
        exclude: Sequence[str] = (),
        rate_limit: float = 50,
        burst: int = 100,
    ) -> None:
        super().__init__(scope, construct_id)
        environment = {
            MCP_APP_FUNCTION_ENV: app.function_arn,
            MCP_API_NAME_ENV: api_name,
            MCP_EXCLUDE_ENV: json.dumps(list(exclude)),
        }
        self.function = BundledFunction(
            self,
            "Function",
            bundle=runtime_bundle(bundle_cache_dir(self), MCP_REQUIREMENTS),
            handler="api_direct.runtime.mcp_server.handler",
            description=f"MCP server of the API '{api_name}': its operations as tools",
            memory_size=512,
            timeout=Duration.seconds(29),
            environment=environment,
        )
        skip_checkov(self.function, {"CKV_AWS_116": _SYNCHRONOUS, "CKV_AWS_173": _ENVIRONMENT_WITHOUT_CMK})
        app.grant_invoke(self.function)
        self.resource = api.rest_api.root.add_resource(MCP_PATH.strip("/"))
        self.method = self.resource.add_method(
            "ANY",
            apigw.LambdaIntegration(self.function),
            authorizer=api.authorizer,
            api_key_required=False,
            request_validator=api.key_header_validator,
            request_parameters={f"method.request.header.{API_KEY_HEADER}": True},
        )
        stage = api.rest_api.deployment_stage.node.default_child
        if not isinstance(stage, apigw.CfnStage):
            raise TypeError("the API's deployment stage has no CfnStage to throttle /mcp on")
        # Added to the stage's own settings (a stage-wide "/*" one among them), never in place of them.
        stage.method_settings = [
            *(stage.method_settings or []),  # type: ignore[misc]
            apigw.CfnStage.MethodSettingProperty(
                # CloudFormation's form of the path: each "/" escaped as "~1" after a leading "/".
                resource_path="/" + MCP_PATH.replace("/", "~1"),
                http_method="*",
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst,
            ),
        ]
        Validations.of(self.method).acknowledge(
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason="Agents call with the consumer's API key, checked by the Lambda key authorizer; Cognito user"
                " tokens do not apply.",
            )
        )
        self.url_path = MCP_PATH
