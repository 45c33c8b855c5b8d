"""Our own Lambda handlers (authorizer, key sync, usage forwarder) as functions."""

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from api_direct.constructs.acknowledgments import skip_checkov
from api_direct.constructs.bundled_function import BundledFunction, bundle_cache_dir
from api_direct.bundling.build import Bundle, build_bundle
from api_direct.bundling.runtime_code import RUNTIME_REQUIREMENTS, runtime_bundle_spec

_ENVIRONMENT_WITHOUT_CMK = (
    "The handlers' environment holds only names, ids and ARNs (key table, usage plan ids, buses, role groups),"
    " never a secret; Lambda encrypts it at rest with its AWS managed key, and a customer managed key would add"
    " a key and its policy to every account the stack deploys to with nothing secret to protect."
)


@cache
def runtime_bundle(cache_dir: Path, requirements: tuple[str, ...] = RUNTIME_REQUIREMENTS) -> Bundle:
    """One bundle holding ``api_direct.runtime`` and Powertools, shared by every handler (the MCP function's
    holds the SDK instead: :data:`MCP_REQUIREMENTS`)."""
    return build_bundle(runtime_bundle_spec(requirements), cache_dir)


class RuntimeFunction(BundledFunction):
    """A handler from ``api_direct.runtime``: arm64, Python 3.12, small and quick to start; a ``lambda.Function``.

    ``environment`` is for names and ARNs only: it is not encrypted with a key of its own.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        environment: Mapping[str, str] | None = None,
        memory_size: int = 256,
        timeout: Duration | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            bundle=runtime_bundle(bundle_cache_dir(scope)),
            handler=f"api_direct.runtime.{handler}",
            description=description,
            memory_size=memory_size,
            timeout=timeout,
            environment={"POWERTOOLS_SERVICE_NAME": "api-direct", **(environment or {})},
            dead_letter_queue=dead_letter_queue,
        )
        skip_checkov(self, {"CKV_AWS_173": _ENVIRONMENT_WITHOUT_CMK})
