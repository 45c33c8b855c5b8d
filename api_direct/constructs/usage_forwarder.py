"""Turns a creator API's access log into usage records on the control plane's bus."""

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as log_destinations
from constructs import Construct

from api_direct.constructs.acknowledgments import skip_checkov
from api_direct.constructs.dead_letters import DeadLetterQueue
from api_direct.contracts import ROUTE_WEIGHTS_ENV
from api_direct.runtime.route_weights import RouteWeights

_FAILURES_TO_DESTINATION = (
    "CloudWatch Logs invokes the forwarder asynchronously, and an invocation that fails its retries goes to"
    " dead_letter_queue through an on-failure destination (AWS::Lambda::EventInvokeConfig), with its error;"
    " this check only reads the function's DeadLetterConfig."
)
from api_direct.constructs.runtime_function import RuntimeFunction


class UsageForwarder(Construct):
    """Subscribes to ``access_log_group`` and sends aggregated usage to the control plane.

    Records carry ids derived from the log lines they summarise, so CloudWatch
    Logs' redelivery and Lambda's async retries produce the same ids and the
    control plane counts each call once. A batch that still fails after retries
    goes to ``dead_letter_queue`` (kept 14 days) rather than being lost.
    The function may put events on ``control_plane_bus_arn`` and nowhere else.
    Each call counts as many units as its route's weight in ``route_weights``
    (the access log names the route by the resource :class:`MeteredApi` made for it).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        access_log_group: logs.ILogGroup,
        control_plane_bus_arn: str,
        api_name: str,
        route_weights: RouteWeights = RouteWeights(),
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = DeadLetterQueue(self, "DeadLetters", holds="the usage forwarder")
        self.function = RuntimeFunction(
            self,
            "Function",
            handler="usage_forwarder.handler",
            description="Forwards metered usage to the API-Direct control plane",
            environment={
                "CONTROL_PLANE_BUS_ARN": control_plane_bus_arn,
                "API_NAME": api_name,
                **({ROUTE_WEIGHTS_ENV: route_weights.to_json()} if route_weights.routes else {}),
            },
            timeout=Duration.seconds(30),
        )
        self.function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        skip_checkov(self.function, {"CKV_AWS_116": _FAILURES_TO_DESTINATION})
        events.EventBus.from_event_bus_arn(self, "ControlPlaneBus", control_plane_bus_arn).grant_put_events_to(
            self.function
        )
        self.subscription = logs.SubscriptionFilter(
            self,
            "Subscription",
            log_group=access_log_group,
            destination=log_destinations.LambdaDestination(self.function),
            filter_pattern=logs.FilterPattern.all_events(),
        )
