"""A Lambda function built from a bundle folder, shared by the creator's app and our handlers."""

from collections.abc import Mapping

from aws_cdk import Acknowledgment, AssetHashType, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from api_direct.constructs.acknowledgments import skip_checkov
from api_direct.constructs.bundling import Architecture, Bundle

_RUNTIMES: dict[str, lambda_.Runtime] = {
    "3.11": lambda_.Runtime.PYTHON_3_11,
    "3.12": lambda_.Runtime.PYTHON_3_12,
    "3.13": lambda_.Runtime.PYTHON_3_13,
}
_ARCHITECTURES: dict[str, lambda_.Architecture] = {
    "arm64": lambda_.Architecture.ARM_64,
    "x86_64": lambda_.Architecture.X86_64,
}

# Why checkov's VPC, reserved-concurrency and log-encryption checks do not apply, whatever a function runs.
_NO_VPC = (
    "API-Direct's stacks hold no private network resources (no VPC, database or cache) for a function to reach:"
    " the functions call public HTTPS endpoints only (AWS APIs, Stripe, a creator's own upstreams). In a VPC they"
    " would need a NAT gateway, billed by the hour, in every account the stack deploys to."
)
_NO_RESERVATION = (
    "Lambda refuses a reservation that would leave an account less than its minimum unreserved concurrency, which"
    " new accounts (concurrency quota 10) always hit, so reserving by default would fail deploys in the accounts"
    " creators start with; reserved_concurrent_executions sets one where the quota allows. Public traffic is"
    " throttled before it reaches the functions, per key by usage plans and per stage."
)
_LOGS_WITHOUT_CMK = (
    "CloudWatch Logs encrypts log data at rest already; a customer managed KMS key would add a monthly key charge"
    " and a key policy admitting CloudWatch Logs in every account the stack deploys to, and only keep out readers"
    " allowed to read the logs but not to decrypt them. API-Direct's handlers log key ids, never an API key or"
    " its hash (tests/runtime assert it of the authorizer; the suite's secret scanner reads every log line of an"
    " end-to-end run)."
)


class BundledFunction(Construct):
    """A Python function with its own log group and a role that can write only there.

    The role gets no AWS managed policy: ``AWSLambdaBasicExecutionRole`` would let it
    create and write any log group in the account. The asset is named by the
    bundle's content hash, so CDK does not hash the folder a second time and an
    unchanged bundle is never uploaded again.

    ``dead_letter_queue`` keeps the events of asynchronous invocations that failed
    every retry. No concurrency is reserved unless ``reserved_concurrent_executions``
    says so: new accounts' quota of 10 leaves nothing to reserve.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bundle: Bundle,
        handler: str,
        description: str,
        python_version: str = "3.12",
        architecture: Architecture = "arm64",
        memory_size: int = 256,
        timeout: Duration | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        environment: Mapping[str, str] | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
        reserved_concurrent_executions: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs: {description}"[:1000],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            code=lambda_.Code.from_asset(
                str(bundle.path), asset_hash=bundle.content_hash, asset_hash_type=AssetHashType.CUSTOM
            ),
            handler=handler,
            runtime=_RUNTIMES[python_version],
            architecture=_ARCHITECTURES[architecture],
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(10),
            role=self.role,
            log_group=self.log_group,
            environment=dict(environment or {}),
            dead_letter_queue=dead_letter_queue,
            reserved_concurrent_executions=reserved_concurrent_executions,
        )
        self.log_group.grant_write(self.role)
        skip_checkov(self.log_group, {"CKV_AWS_158": _LOGS_WITHOUT_CMK})
        skip_checkov(self.function, {"CKV_AWS_117": _NO_VPC})
        if reserved_concurrent_executions is None:
            skip_checkov(self.function, {"CKV_AWS_115": _NO_RESERVATION})
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason="The runtime must match the --python-version the bundle's wheels were installed for;"
                " it is a prop (apid.toml runtime.python) rather than whatever is newest at synth time.",
            )
        )
