"""What API Gateway's authorizer cache writes in the access log, for the local gateways.

API Gateway keeps the authorizer's answer per identity (the ``x-api-key`` value) for
the authorizer's result TTL (``[gateway] key_cache_seconds``) and answers each call in
that time from it without invoking the function: every such call logs the decision id
of the call that invoked it (:data:`~api_direct.runtime.access_log.AUTHORIZER_DECISION`),
which is how the usage forwarder counts the authorizer's invocations.

The local gateways (``apid sandbox``'s :mod:`.rest_api`, ``apid dev``'s
:mod:`.dev_server`) still ask the authorizer on every call, so that a key revoked,
capped or rotated is answered accordingly at once, where a creator tries exactly that.
What they log is the decision the cache would have answered with, so that their usage
measures the authorizer's invocations as AWS bills them. Standard library only: ``apid
dev`` imports it in the creator's interpreter.
"""

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class _Cached:
    decision: str
    until: float


class AuthorizerCache:
    """The decision API Gateway would answer each identity's calls with, for ``ttl_seconds`` (0: no cache)."""

    def __init__(self, ttl_seconds: int) -> None:
        self._ttl = ttl_seconds
        self._cached: dict[str, _Cached] = {}

    def log_fields(self, identity: str, decision: str, latency_ms: int, now: float) -> dict[str, object]:
        """The access-log fields of a call by ``identity`` at ``now`` (epoch seconds) whose authorizer answered
        ``decision`` in ``latency_ms``: the answer cached for it if one still holds, without a latency (the
        call invoked nothing), else ``decision`` with its latency, cached from now on.

        Identities are kept hashed: a key is not held in memory longer than its request.
        """
        hashed = hashlib.sha256(identity.encode()).hexdigest()
        cached = self._cached.get(hashed)
        if cached is not None and now < cached.until:
            return {"authorizerDecision": cached.decision}
        if self._ttl:
            self._cached = {name: kept for name, kept in self._cached.items() if now < kept.until}
            self._cached[hashed] = _Cached(decision, now + self._ttl)
        return {"authorizerDecision": decision, "authorizerLatency": latency_ms}
