"""One webhook call: signed, never redirected, never to a host that resolves to a private address."""

import json

import pytest

from api_direct.control_plane.billing import webhooks
from api_direct.webhook_signature import SIGNATURE_HEADER, verify
from tests.control_plane.webhook_receiver import webhook_receiver

EVENT = {"id": "evt_1", "type": "quota.threshold_reached"}


def test_a_2xx_answer_is_delivered_and_the_body_is_signed() -> None:
    with webhook_receiver() as receiver:
        attempt = webhooks.post(receiver.url, EVENT, "whsec_x", allow_loopback=True)
    assert attempt == webhooks.Attempt(True, 200, "")
    [call] = receiver.received
    assert json.loads(call.body) == EVENT and verify(call.body, call.headers[SIGNATURE_HEADER.lower()], "whsec_x")


def test_a_redirect_is_an_answer_not_followed() -> None:
    with webhook_receiver() as receiver:
        receiver.statuses = [302]
        attempt = webhooks.post(receiver.url, EVENT, "whsec_x", allow_loopback=True)
    assert attempt == webhooks.Attempt(False, 302, "answered HTTP 302") and len(receiver.received) == 1


def test_no_answer_is_a_failed_attempt_not_an_error() -> None:
    with webhook_receiver() as receiver:
        url = receiver.url
    attempt = webhooks.post(url, EVENT, "whsec_x", allow_loopback=True)  # the receiver has stopped
    assert (attempt.ok, attempt.status) == (False, None) and "no connection" in attempt.error


def test_a_name_resolving_to_a_private_address_is_not_called() -> None:
    with pytest.raises(webhooks.UnsafeUrl, match="localhost resolves to .*, which is not public"):
        webhooks.check_resolved("https://localhost:1/h", allow_loopback=False)
    attempt = webhooks.post("https://10.0.0.1/h", EVENT, "whsec_x", allow_loopback=False)
    assert (attempt.ok, attempt.status) == (False, None) and "private" in attempt.error


@pytest.mark.parametrize("url", ["https://hooks.example.com/h", "https://93.184.215.14:8443/apid?x=1"])
def test_public_https_urls_are_accepted_without_resolving(url: str) -> None:
    assert webhooks.check_url(url, allow_loopback=False) == url
