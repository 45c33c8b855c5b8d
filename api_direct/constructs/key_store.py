"""Where a creator's account keeps its consumers' API keys, as hashes only."""

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from api_direct.constructs.acknowledgments import acknowledge_wildcards, skip_checkov
from api_direct.constructs.dead_letters import DeadLetterQueue
from api_direct.constructs.runtime_function import RuntimeFunction
from api_direct.contracts import CONTROL_PLANE_SOURCE, KEY_EVENT_TYPES, KEY_TTL_ATTRIBUTE

#: ``source`` of the events the control plane sends to creators' buses.
_HASHES_WITHOUT_CMK = (
    "Encrypted at rest with DynamoDB's AWS managed KMS key (aws/dynamodb). The table holds SHA-256 hashes of API"
    " keys, never a key, with their ids, plans and status; a customer managed key would add a key charge and a key"
    " policy to every creator's account without hiding anything a caller could use (encryption= chooses one)."
)


class ApiKeyStore(Construct):
    """A key table fed by the control plane's events, and the bus they arrive on.

    The table is keyed by the SHA-256 of each API key: the plaintext key is shown
    once to the consumer by the control plane and never reaches this account.
    Encrypted with KMS, point-in-time recovery on, billed per request.

    The bus admits ``events:PutEvents`` from the control plane account alone, and
    its rule only matches events whose ``account`` is that account, so nobody else
    can issue, revoke, suspend, restore or re-plan a key. A sync function applies
    them; events it cannot apply after retries land in ``dead_letter_queue`` instead
    of vanishing: EventBridge parks the events it cannot deliver there, and Lambda
    the invocations that still fail after its own retries.
    Call :meth:`attach_usage_plans` so issued keys are bound to their plan's
    gateway limits.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        control_plane_account_id: str,
        event_bus_name: str | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        encryption: dynamodb.TableEncryption = dynamodb.TableEncryption.AWS_MANAGED,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="key_hash", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            # Keys rotated out with a grace period are deleted some days after they expire.
            time_to_live_attribute=KEY_TTL_ATTRIBUTE,
            encryption=encryption,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
        )
        if encryption == dynamodb.TableEncryption.AWS_MANAGED:
            skip_checkov(self.table, {"CKV_AWS_119": _HASHES_WITHOUT_CMK})
        if event_bus_name is None and not Token.is_unresolved(stack.stack_name):
            event_bus_name = f"{stack.stack_name}-keys"
        self.event_bus = events.EventBus(self, "Bus", event_bus_name=event_bus_name)
        self.event_bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ControlPlaneOnly",
                principals=[iam.AccountPrincipal(control_plane_account_id)],
                actions=["events:PutEvents"],
                resources=[self.event_bus.event_bus_arn],
            )
        )
        self.dead_letter_queue = DeadLetterQueue(self, "SyncDeadLetters", holds="the key sync rule and function")
        self.sync_function = RuntimeFunction(
            self,
            "Sync",
            handler="key_sync.handler",
            description=f"Applies {'/'.join(KEY_EVENT_TYPES)} events from the API-Direct control plane",
            environment={"KEY_TABLE_NAME": self.table.table_name},
            dead_letter_queue=self.dead_letter_queue,
        )
        self.table.grant_read_write_data(self.sync_function)
        self.sync_rule = events.Rule(
            self,
            "SyncRule",
            event_bus=self.event_bus,
            event_pattern=events.EventPattern(
                source=[CONTROL_PLANE_SOURCE],
                detail_type=list(KEY_EVENT_TYPES),
                account=[control_plane_account_id],
            ),
            targets=[
                targets.LambdaFunction(
                    self.sync_function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=8,
                    max_event_age=Duration.hours(24),
                )
            ],
        )

    def grant_key_lookup(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` fetch one key record by hash (the authorizer), and nothing more.

        Not ``grant_read_data``: a lookup never needs Scan or Query, and an
        authorizer that could list every key hash would be a needless risk.
        """
        return self.table.grant(grantee, "dynamodb:GetItem")

    def attach_usage_plans(self, plans: Mapping[str, apigw.IUsagePlan]) -> None:
        """Tell the sync function which usage plan each plan name maps to, and let it bind keys.

        Each subscription gets one API Gateway API key (valued with its usage id,
        which the authorizer returns as ``usageIdentifierKey`` for every key of the
        subscription) in its plan's usage plan: that is what makes API Gateway
        enforce each subscription's rate, burst and quota.
        """
        stack = Stack.of(self)
        ids = {name: plan.usage_plan_id for name, plan in plans.items()}
        self.sync_function.add_environment("USAGE_PLANS", stack.to_json_string(ids))
        gateway = f"arn:{stack.partition}:apigateway:{stack.region}::"
        resources = [f"{gateway}/apikeys", f"{gateway}/apikeys/*"]
        for plan_id in ids.values():
            resources += [f"{gateway}/usageplans/{plan_id}/keys", f"{gateway}/usageplans/{plan_id}/keys/*"]
        statement = iam.PolicyStatement(
            actions=["apigateway:GET", "apigateway:POST", "apigateway:DELETE"],
            resources=resources,
        )
        self.sync_function.add_to_role_policy(statement)
        acknowledge_wildcards(
            self.sync_function.role,  # type: ignore[arg-type]
            statement,
            "API Gateway key ids are generated at runtime when a consumer subscribes, so the sync"
            " function can only be scoped to the key collections of this region and of its usage plans.",
        )
