"""What a bundle of our own handlers holds (``api_direct.runtime``: the authorizer, key sync, usage forwarder,
and the MCP server), described here, below the constructs, so a deploy can build and zip these bundles before
jsii starts (:mod:`api_direct.deploy.synthesis`) as the constructs would build them during the synthesis."""

from importlib.metadata import version
from pathlib import Path

import api_direct.runtime
from api_direct import contracts
from api_direct.bundling.build import Architecture, BundleSpec, SourceTree

RUNTIME_REQUIREMENTS = (f"aws-lambda-powertools=={version('aws-lambda-powertools')}",)
#: The MCP function's (:mod:`api_direct.runtime.mcp_server`): the SDK, and Mangum under the app's own adapter.
MCP_REQUIREMENTS = (f"mcp=={version('mcp')}", f"mangum=={version('mangum')}")


def runtime_bundle_spec(
    requirements: tuple[str, ...] = RUNTIME_REQUIREMENTS,
    python_version: str = "3.12",
    architecture: Architecture = "arm64",
) -> BundleSpec:
    """What a bundle of ``api_direct.runtime`` holds: the runtime package and the shared names
    (``api_direct.contracts``, standard library only), under a blank ``api_direct/__init__.py`` (the real one
    belongs to the CDK side and must not run in Lambda), and ``requirements``."""
    runtime_dir = Path(api_direct.runtime.__file__).parent
    return BundleSpec(
        requirements=requirements,
        sources=(SourceTree(runtime_dir, "api_direct/runtime", exclude=("__pycache__", "*.pyc")),),
        generated={"api_direct/__init__.py": "", "api_direct/contracts.py": Path(contracts.__file__).read_text()},
        python_version=python_version,
        architecture=architecture,
    )


def platform_bundle_specs(*, mcp: bool) -> tuple[BundleSpec, ...]:
    """The bundles an API stack's own functions take: the handlers', and the MCP server's when it has one."""
    return (runtime_bundle_spec(), *((runtime_bundle_spec(MCP_REQUIREMENTS),) if mcp else ()))
