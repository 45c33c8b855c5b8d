"""Reusable L3 constructs: embed them in any CDK app with ``pip install api-direct``.

Import ``api_direct`` (this package does) before ``aws_cdk`` so jsii runs on the
bundled Node.js.

Importing this package loads the CDK. The deploy engine's paths that never
synthesize (a reused assembly, ``apid logs``) need only the CDK-free bundler, which
is why that lives apart in :mod:`api_direct.bundling`; ``FastApiCode`` is exported
here too, as the constructs' code object.
"""

from api_direct.bundling.fastapi_code import FastApiCode
from api_direct.constructs.account_link import AccountLink
from api_direct.constructs.bundled_function import BundledFunction
from api_direct.constructs.control_plane_api import ControlPlaneApi
from api_direct.constructs.custom_domain import CustomDomain
from api_direct.constructs.dead_letters import DeadLetterQueue
from api_direct.constructs.fastapi_function import FastApiFunction
from api_direct.constructs.identity import Identity
from api_direct.constructs.key_store import ApiKeyStore
from api_direct.constructs.mcp_endpoint import McpEndpoint
from api_direct.constructs.metered_api import MeteredApi, PlanLimits, RouteWeights
from api_direct.constructs.usage_billing import UsageBilling
from api_direct.constructs.usage_forwarder import UsageForwarder

__all__ = [
    "AccountLink",
    "ApiKeyStore",
    "BundledFunction",
    "ControlPlaneApi",
    "CustomDomain",
    "DeadLetterQueue",
    "FastApiCode",
    "FastApiFunction",
    "Identity",
    "McpEndpoint",
    "MeteredApi",
    "PlanLimits",
    "RouteWeights",
    "UsageBilling",
    "UsageForwarder",
]
