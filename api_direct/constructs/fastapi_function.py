"""A FastAPI app as a Lambda function, bundled without Docker: a creator's project, or our own control plane."""

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from api_direct.constructs.bundled_function import BundledFunction
from api_direct.constructs.bundling import Architecture, Bundle, SourceTree, build_bundle
from api_direct.constructs.function_code import function_code, project_code_options
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


class FastApiFunction(Construct):
    """Bundles a FastAPI (or any ASGI) app, or code with its own Lambda handler, and runs it on Lambda.

    The code is either a creator's project folder (``project_dir``, less
    ``exclude``, with its ``requirements.txt``) or explicit ``sources`` and
    ``requirements``, as for API-Direct's own control plane, whose code is a few
    packages of this library. Dependencies are installed for the Lambda platform as
    binary wheels; both are cached by content hash, so a warm synth never runs pip.

    The entry point is ``app`` (``module:attribute`` of the ASGI app, default
    ``main:app``), wrapped in a generated Mangum handler that adds Mangum to the
    requirements; or ``handler`` (``module:attribute`` of a function that already is
    a Lambda handler), used as is with the requirements as given.

    Installed packages are slimmed of their test suites unless ``slim_dependencies``
    is False, and a bundle over Lambda's 250 MB unzipped limit is refused in one line.

    Defaults: arm64 (cheaper per GB-second than x86_64), Python 3.12, 512 MB, 10 s,
    logs kept 30 days.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_dir: Path | str | None = None,
        app: str | None = None,
        requirements_file: Path | str | None = None,
        exclude: Sequence[str] | None = None,
        sources: Sequence[SourceTree] | None = None,
        requirements: Sequence[str] | None = None,
        handler: str | None = None,
        python_version: str = "3.12",
        architecture: Architecture = "arm64",
        slim_dependencies: bool = True,
        memory_size: int = 512,
        timeout: Duration | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        environment: Mapping[str, str] | None = None,
        bundle_cache_dir: Path | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        code = function_code(
            project_dir=project_dir,
            app=app,
            requirements_file=requirements_file,
            exclude=exclude,
            sources=sources,
            requirements=requirements,
            handler=handler,
            python_version=python_version,
            architecture=architecture,
            slim_dependencies=slim_dependencies,
        )
        entry_point, description = code.entry_point, code.description
        self.bundle: Bundle = build_bundle(code.spec, bundle_cache_dir)
        bundled = BundledFunction(
            self,
            "App",
            bundle=self.bundle,
            handler=entry_point,
            description=description,
            python_version=python_version,
            architecture=architecture,
            memory_size=memory_size,
            timeout=timeout,
            log_retention=log_retention,
            environment=environment,
        )
        self.function: lambda_.Function = bundled.function
        self.log_group: logs.LogGroup = bundled.log_group
        self.role = bundled.role

    @classmethod
    def from_project(
        cls, scope: Construct, construct_id: str, project: Project, *, bundle_cache_dir: Path | None = None
    ) -> "FastApiFunction":
        """The function an ``apid.toml`` describes."""
        runtime = project.config.runtime
        return cls(
            scope,
            construct_id,
            **project_code_options(project),
            memory_size=runtime.memory_mb,
            timeout=Duration.seconds(runtime.timeout_seconds),
            log_retention=RETENTION_BY_DAYS[runtime.log_retention_days],
            bundle_cache_dir=bundle_cache_dir,
        )
