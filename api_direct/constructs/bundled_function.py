"""A Lambda function built from a bundle folder, shared by the creator's app and our handlers."""

from collections.abc import Mapping

from aws_cdk import Acknowledgment, AssetHashType, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

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


class BundledFunction(Construct):
    """A Python function with its own log group and a role that can write only there.

    The role gets no AWS managed policy: ``AWSLambdaBasicExecutionRole`` would let it
    create and write any log group in the account. The asset is named by the
    bundle's content hash, so CDK does not hash the folder a second time and an
    unchanged bundle is never uploaded again.
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
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
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
        )
        self.log_group.grant_write(self.role)
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason="The runtime must match the --python-version the bundle's wheels were installed for;"
                " it is a prop (apid.toml runtime.python) rather than whatever is newest at synth time.",
            )
        )
