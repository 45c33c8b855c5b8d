"""What a caller sees when the API rejects a request before it reaches the app.

API Gateway produces these responses itself (its "gateway responses"), so the CDK
construct configures them from this module and ``apid dev`` serves them from it too:
one definition, identical status and body locally and in the cloud.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from api_direct.runtime.limit_headers import RESET_DATE_CONTEXT, THROTTLE_RETRY_CONTEXT


@dataclass(frozen=True)
class GatewayRejection:
    """A status code and the message of its JSON body.

    ``retry_after`` names the authorizer context entry the response's
    ``Retry-After`` is mapped from. A gateway response's header mapping can read
    ``context.authorizer.<name>`` (AWS lists ``context.*`` among the mapping
    sources) but cannot compute anything, so the authorizer writes the value
    ready-made: for a quota, the reset as an HTTP-date, right however long the
    decision stays cached. A rejection API Gateway makes before the authorizer ran
    has no such context, and then no ``Retry-After``.
    """

    status: int
    message: str
    retry_after: str | None = None

    def body(self) -> str:
        """The JSON body, ``{"message": ...}``, as the gateway and ``apid dev`` send it."""
        return json.dumps({"message": self.message})

    def header_mappings(self) -> dict[str, str]:
        """The gateway response's header mappings, as CloudFormation takes them (values quoted or a source)."""
        if self.retry_after is None:
            return dict(CONTENT_TYPE_MAPPING)
        return {**CONTENT_TYPE_MAPPING, "Retry-After": f"{_AUTHORIZER_SOURCE}{self.retry_after}"}


MISSING_KEY = GatewayRejection(401, "Missing API key: send it in the x-api-key header.")
INVALID_KEY = GatewayRejection(403, "Invalid or revoked API key.")
SUSPENDED_KEY = GatewayRejection(
    403,
    "API key suspended: the payment for its subscription failed; update the payment method to restore it.",
)
THROTTLED = GatewayRejection(429, "Rate limit exceeded for your plan; retry later.", THROTTLE_RETRY_CONTEXT)
QUOTA_EXCEEDED = GatewayRejection(429, "Monthly quota of your plan is used up.", RESET_DATE_CONTEXT)

#: The key of the authorizer's Deny context that holds the message of its rejection.
DENIAL_MESSAGE = "message"
#: The key of the authorizer's Allow context that makes the app's adapter answer 402 with its message
#: (a hard spend cap: API Gateway has no 402 of its own).
PAYMENT_REQUIRED_CONTEXT = "paymentRequired"
#: Beside it: the status the adapter answers with (402, or 429 for a quota cap), and a 429's ``Retry-After``.
CAP_STATUS_CONTEXT, CAP_RETRY_AFTER_CONTEXT = "capStatus", "capRetryAfter"
#: The Content-Type of every gateway response (the one template each has is for it).
CONTENT_TYPE = "application/json"
CONTENT_TYPE_MAPPING: Mapping[str, str] = MappingProxyType({"Content-Type": f"'{CONTENT_TYPE}'"})
_AUTHORIZER_SOURCE = "context.authorizer."


def render_headers(mappings: Mapping[str, str], authorizer_context: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A gateway response's headers as API Gateway sends them: each mapping resolved, an unresolvable one left out.

    The sandbox answers with these in API Gateway's place, as with :func:`render_template`.
    """
    resolved = []
    for name, source in mappings.items():
        if source.startswith("'"):
            resolved.append((name, source.strip("'")))
        elif value := authorizer_context.get(source.removeprefix(_AUTHORIZER_SOURCE)):
            resolved.append((name, value))
    return tuple(resolved)


def render_template(template: str, authorizer_context: Mapping[str, str]) -> str:
    """A gateway-response body as API Gateway sends it: each ``$context.authorizer.<name>`` substituted.

    Templates only substitute variables (no VTL logic), so this is the whole rendering;
    ``apid sandbox`` answers with it in API Gateway's place, and tests render the
    synthesized templates with it.
    """
    for name, value in authorizer_context.items():
        template = template.replace(f"$context.authorizer.{name}", value)
    return template


@dataclass(frozen=True)
class AuthorizerDenial:
    """The one ACCESS_DENIED response, showing whichever rejection the authorizer chose.

    API Gateway sends ACCESS_DENIED for every Deny policy, with one status, and
    gateway-response templates only substitute variables (no VTL ``#if`` to pick a
    message by reason). So the authorizer returns the message itself in its
    context, and the body template reads it back: ``$context.authorizer.message``
    inside ``{"message": "..."}``. For that to send what ``apid dev`` sends, every
    rejection in ``rejections`` must have this status and a message that JSON needs
    no escaping for (the gateway inserts it verbatim).
    """

    status: int
    rejections: tuple[GatewayRejection, ...]

    def __post_init__(self) -> None:
        for rejection in self.rejections:
            if rejection.status != self.status:
                raise ValueError(f"{rejection} cannot be a {self.status} Deny")
            if json.dumps(rejection.message) != f'"{rejection.message}"' or "$" in rejection.message:
                raise ValueError(f"{rejection} needs JSON escaping or has a $: the gateway inserts it verbatim")

    def header_mappings(self) -> dict[str, str]:
        """The gateway response's header mappings: the content type alone."""
        return dict(CONTENT_TYPE_MAPPING)

    def body(self) -> str:
        """The body template: ``{"message": "$context.authorizer.message"}``."""
        return json.dumps({"message": f"$context.authorizer.{DENIAL_MESSAGE}"})


#: What API Gateway sends when the authorizer denies a key: unknown, malformed,
#: revoked (:data:`INVALID_KEY`) or suspended (:data:`SUSPENDED_KEY`).
DENIED = AuthorizerDenial(403, (INVALID_KEY, SUSPENDED_KEY))

BY_GATEWAY_RESPONSE_TYPE: Mapping[str, GatewayRejection | AuthorizerDenial] = MappingProxyType(
    {
        # The authorizer raised "Unauthorized", or the x-api-key header was absent.
        "UNAUTHORIZED": MISSING_KEY,
        # The authorizer returned a Deny policy.
        "ACCESS_DENIED": DENIED,
        # The authorizer allowed, but its usageIdentifierKey is in no usage plan of the
        # stage (for instance between a KeyIssued event and key_sync applying it).
        "INVALID_API_KEY": INVALID_KEY,
        "THROTTLED": THROTTLED,
        "QUOTA_EXCEEDED": QUOTA_EXCEEDED,
    }
)
"""API Gateway gateway-response type name -> the rejection to configure for it."""
