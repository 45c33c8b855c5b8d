"""A Lambda function built from a bundle folder, shared by the creator's app and our handlers."""

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Acknowledgment, AssetHashType, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from api_direct.contracts import user_cache_dir
from api_direct.constructs.acknowledgments import skip_checkov
from api_direct.bundling.build import Architecture, Bundle

#: CDK context key naming the bundle cache folder (``cdk synth -c apid:bundleCacheDir=...``).
BUNDLE_CACHE_CONTEXT = "apid:bundleCacheDir"

_RUNTIMES: dict[str, lambda_.Runtime] = {
    "3.11": lambda_.Runtime.PYTHON_3_11,
    "3.12": lambda_.Runtime.PYTHON_3_12,
    "3.13": lambda_.Runtime.PYTHON_3_13,
}
_ARCHITECTURES: dict[str, lambda_.Architecture] = {
    "arm64": lambda_.Architecture.ARM_64,
    "x86_64": lambda_.Architecture.X86_64,
}


def bundle_cache_dir(scope: IConstruct) -> Path:
    """Where bundles are cached: the ``apid:bundleCacheDir`` context, else :func:`~api_direct.contracts.user_cache_dir`
    (``$APID_CACHE_DIR``)."""
    configured = scope.node.try_get_context(BUNDLE_CACHE_CONTEXT)
    return Path(configured) if configured else user_cache_dir()


def python_version(runtime: lambda_.Runtime | str) -> str:
    """``"3.12"`` for ``Runtime.PYTHON_3_12`` or ``"3.12"``; a one-line ``ValueError`` for a runtime
    we cannot bundle for."""
    version = runtime.name.removeprefix("python") if isinstance(runtime, lambda_.Runtime) else runtime
    if version not in _RUNTIMES:
        name = runtime.name if isinstance(runtime, lambda_.Runtime) else repr(runtime)
        raise ValueError(f"runtime must be one of Python {', '.join(_RUNTIMES)}, got {name}")
    return version


def architecture_name(architecture: lambda_.Architecture | str) -> Architecture:
    """``"arm64"`` or ``"x86_64"`` for the CDK's ``Architecture`` or its name; a one-line ``ValueError`` otherwise."""
    name = architecture.name if isinstance(architecture, lambda_.Architecture) else architecture
    if name == "arm64":
        return "arm64"
    if name == "x86_64":
        return "x86_64"
    raise ValueError(f"architecture must be arm64 or x86_64, got {name!r}")


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


class BundledFunction(lambda_.Function):
    """A Python function with its own log group and a role that can write only there.

    A ``lambda.Function`` (an ``IFunction``): ``add_environment``, ``grant_invoke``
    and the metrics work on it directly. The role (``role``) gets no AWS managed
    policy: ``AWSLambdaBasicExecutionRole`` would let it create and write any log
    group in the account. The log group (``log_group``) and the role are created
    beside the function, as ``<id>Logs`` and ``<id>Role``, because the function
    needs both when it is made. The asset is named by the bundle's content hash,
    so CDK does not hash the folder a second time and an unchanged bundle is never
    uploaded again.

    ``runtime`` and ``architecture`` take the CDK's ``Runtime.PYTHON_3_12`` and
    ``Architecture.ARM_64`` or their short names ``"3.12"`` and ``"arm64"``; they
    must be the ones the bundle was built for.

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
        runtime: lambda_.Runtime | str = "3.12",
        architecture: lambda_.Architecture | str = "arm64",
        memory_size: int = 256,
        timeout: Duration | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        environment: Mapping[str, str] | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
        reserved_concurrent_executions: int | None = None,
    ) -> None:
        log_group = logs.LogGroup(
            scope, f"{construct_id}Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs: {description}"[:1000],
        )
        super().__init__(
            scope,
            construct_id,
            description=description,
            code=lambda_.Code.from_asset(
                str(bundle.path), asset_hash=bundle.content_hash, asset_hash_type=AssetHashType.CUSTOM
            ),
            handler=handler,
            runtime=_RUNTIMES[python_version(runtime)],
            architecture=_ARCHITECTURES[architecture_name(architecture)],
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(10),
            role=role,
            log_group=log_group,
            environment=dict(environment or {}),
            dead_letter_queue=dead_letter_queue,
            reserved_concurrent_executions=reserved_concurrent_executions,
        )
        log_group.grant_write(role)
        #: The role the function runs as, typed as the Role it is (``Function.role`` is optional in the CDK's types).
        self.execution_role: iam.Role = role
        skip_checkov(log_group, {"CKV_AWS_158": _LOGS_WITHOUT_CMK})
        skip_checkov(self, {"CKV_AWS_117": _NO_VPC})
        if reserved_concurrent_executions is None:
            skip_checkov(self, {"CKV_AWS_115": _NO_RESERVATION})
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason="The runtime must match the --python-version the bundle's wheels were installed for;"
                " it is a prop (apid.toml runtime.python) rather than whatever is newest at synth time.",
            )
        )
