"""A FastAPI app as a Lambda function, bundled without Docker: a creator's project, or our own control plane."""

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from api_direct.constructs.bundled_function import (
    BundledFunction,
    architecture_name,
    bundle_cache_dir,
    python_version,
)
from api_direct.bundling.build import Bundle, build_bundle
from api_direct.bundling.fastapi_code import FastApiCode, project_code_options
from api_direct.constructs.acknowledgments import acknowledge_wildcards, skip_checkov
from api_direct.contracts import SECRETS_PATH_ENV
from api_direct.project import Project

#: ``apid.toml`` speaks days; CDK's enum names them.
RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}

_PATH_NOT_SECRETS = (
    "The environment holds where the secrets are (their Parameter Store path) and apid.toml's [env], which is for"
    " settings, never secrets: the secrets are read from Parameter Store when a container starts and never"
    " written here. Lambda encrypts the environment at rest with its AWS managed key."
)


class FastApiFunction(BundledFunction):
    """A FastAPI (or any ASGI) app, or code with its own Lambda handler, bundled without Docker and run on Lambda.

    A ``lambda.Function``: ``add_environment``, ``grant_invoke`` and the metrics
    work on it directly; ``log_group`` and ``role`` are its own (see
    :class:`BundledFunction`). ``code`` says what it runs, as ``lambda.Code`` does
    for a Function::

        FastApiFunction(stack, "App", code=FastApiCode.from_project("service", app="main:app"), memory_size=1024)

    Dependencies are installed for the Lambda platform as binary wheels; both
    they and the bundle are cached by content hash (in the ``apid:bundleCacheDir``
    context's folder, else ``$APID_CACHE_DIR``'s, else ``~/.cache/api-direct``), so
    a warm synth never runs pip. A bundle over Lambda's 250 MB unzipped limit is
    refused in one line.

    Defaults: arm64 (cheaper per GB-second than x86_64), Python 3.12, 512 MB, 10 s,
    logs kept 30 days. ``runtime`` and ``architecture`` take the CDK's own
    ``Runtime`` and ``Architecture`` as well as ``"3.12"`` and ``"arm64"``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: FastApiCode,
        runtime: lambda_.Runtime | str = "3.12",
        architecture: lambda_.Architecture | str = "arm64",
        memory_size: int = 512,
        timeout: Duration | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(code, FastApiCode):
            raise TypeError("FastApiFunction code must be a FastApiCode (FastApiCode.from_project or .from_sources)")
        spec = code.bundle_spec(python_version(runtime), architecture_name(architecture))
        bundle = build_bundle(spec, bundle_cache_dir(scope))
        super().__init__(
            scope,
            construct_id,
            bundle=bundle,
            handler=code.entry_point,
            description=code.description,
            runtime=runtime,
            architecture=architecture,
            memory_size=memory_size,
            timeout=timeout,
            log_retention=log_retention,
            environment=environment,
        )
        #: The folder deployed as the function's code.
        self.bundle: Bundle = bundle

    def read_secrets_from(self, path: str) -> None:
        """Give the app the SecureString parameters directly under ``path`` (``/apid/<api>/<stage>``) as
        environment variables, read when each container starts, before the app is imported.

        Sets the variable the generated handler finds the path in, and lets this
        function, and no other, read them: ``ssm:GetParametersByPath`` on the path
        itself (Parameter Store authorizes it against the path asked for, not the
        parameters returned), ``ssm:GetParameters`` on each parameter below it (for an
        app that re-reads one by name), and ``kms:Decrypt`` only through Parameter
        Store in this region. Only an ASGI app's generated handler reads the path.
        """
        stack = Stack.of(self)
        self.add_environment(SECRETS_PATH_ENV, path)
        parameters = stack.format_arn(service="ssm", resource="parameter", resource_name=path.strip("/"))
        read = iam.PolicyStatement(
            actions=["ssm:GetParametersByPath", "ssm:GetParameters"], resources=[parameters, f"{parameters}/*"]
        )
        decrypt = iam.PolicyStatement(
            actions=["kms:Decrypt"],
            resources=[stack.format_arn(service="kms", resource="key", resource_name="*")],
            conditions={"StringEquals": {"kms:ViaService": f"ssm.{stack.region}.amazonaws.com"}},
        )
        for statement, reason in (
            (read, "The secrets are the parameters below this stage's path; their names are set after deploying."),
            (
                decrypt,
                "SecureStrings are encrypted with the account's aws/ssm key, whose id differs per account;"
                " kms:ViaService admits only decryption that Parameter Store asks for.",
            ),
        ):
            self.add_to_role_policy(statement)
            acknowledge_wildcards(self.execution_role, statement, reason)
        skip_checkov(self, {"CKV_AWS_173": _PATH_NOT_SECRETS})

    @classmethod
    def from_project(cls, scope: Construct, construct_id: str, project: Project) -> "FastApiFunction":
        """The function an ``apid.toml`` describes."""
        runtime = project.runtime
        return cls(
            scope,
            construct_id,
            **project_code_options(project),
            memory_size=runtime.memory_mb,
            timeout=Duration.seconds(runtime.timeout_seconds),
            log_retention=RETENTION_BY_DAYS[runtime.log_retention_days],
            environment=project.environment,
        )
