"""What a caller sees when the API rejects a request before it reaches the app.

API Gateway produces these responses itself (its "gateway responses"), so the CDK
construct configures them from this module and ``apid dev`` serves them from it too:
one definition, identical status and body locally and in the cloud.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class GatewayRejection:
    """A status code and the message of its JSON body."""

    status: int
    message: str

    def body(self) -> str:
        """The JSON body, ``{"message": ...}``, as the gateway and ``apid dev`` send it."""
        return json.dumps({"message": self.message})


MISSING_KEY = GatewayRejection(401, "Missing API key: send it in the x-api-key header.")
INVALID_KEY = GatewayRejection(403, "Invalid or revoked API key.")
THROTTLED = GatewayRejection(429, "Rate limit exceeded for your plan; retry later.")
QUOTA_EXCEEDED = GatewayRejection(429, "Monthly quota of your plan is used up.")

BY_GATEWAY_RESPONSE_TYPE: Mapping[str, GatewayRejection] = MappingProxyType(
    {
        # The authorizer raised "Unauthorized", or the x-api-key header was absent.
        "UNAUTHORIZED": MISSING_KEY,
        # The authorizer returned a Deny policy.
        "ACCESS_DENIED": INVALID_KEY,
        # The authorizer allowed, but its usageIdentifierKey is in no usage plan of the
        # stage (for instance between a KeyIssued event and key_sync applying it).
        "INVALID_API_KEY": INVALID_KEY,
        "THROTTLED": THROTTLED,
        "QUOTA_EXCEEDED": QUOTA_EXCEEDED,
    }
)
"""API Gateway gateway-response type name -> the rejection to configure for it."""
