"""AWS answering with errors, on the wire, before moto sees the request.

moto's stubber (the ``before-send`` handler that answers for AWS in process) is
wrapped: a chosen operation is answered with the status and error body the service
would send, and moto never sees that attempt, so botocore's own retry logic
(standard mode, as :mod:`api_direct.deploy.aws` configures it) runs exactly as it
does against AWS. Backoff delays are zeroed so a test does not sleep.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

#: Forever, for a fault that outlasts every retry.
ALWAYS = 10**6


@dataclass
class _Fault:
    operation: str
    code: str
    status: int
    remaining: int
    message: str
    #: The whole answer's body, instead of an error document (what a broken proxy or emulator sends).
    body: str | None = None


@dataclass
class AwsFaults:
    """The faults to inject, and how often each operation was attempted."""

    _faults: list[_Fault] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)

    def fail(self, operation: str, code: str, status: int = 400, times: int = 1, message: str | None = None) -> None:
        """Answer the next ``times`` calls of ``operation`` (e.g. ``CreateChangeSet``) with ``code``."""
        self._faults.append(_Fault(operation, code, status, times, message or f"injected {code}"))

    def garble(self, operation: str, body: str, status: int = 200, times: int = ALWAYS) -> None:
        """Answer ``operation`` with ``body`` as it is, however unreadable."""
        self._faults.append(_Fault(operation, "", status, times, "", body))

    def clear(self) -> None:
        self._faults.clear()

    def answer(self, request: Any, event_name: str) -> AWSResponse | None:
        """The injected error for this attempt, or None to let moto answer."""
        operation = event_name.rsplit(".", 1)[-1]
        self.attempts[operation] += 1
        fault = next((f for f in self._faults if f.operation == operation and f.remaining > 0), None)
        if fault is None:
            return None
        fault.remaining -= 1
        self.injected[operation] += 1
        body = fault.body or (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{fault.code}</Code><Message>{fault.message}"
            f"</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        )
        headers = {"x-amzn-RequestId": "fault", "x-amzn-ErrorType": fault.code, "Content-Type": "text/xml"}
        return AWSResponse(request.url, fault.status, headers, MockRawResponse(body))


@pytest.fixture
def aws_faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsFaults]:
    """Faults for every AWS call moto answers while the test runs (the CLI's sessions included)."""
    faults = AwsFaults()
    moto_answer = BotocoreStubber.__call__

    def answer(stubber: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        return faults.answer(request, event_name) or moto_answer(stubber, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", answer)
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    yield faults
