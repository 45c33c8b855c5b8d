"""The alert webhooks' signature: what the control plane sends, a receiver's verify() accepts, and nothing else."""

import hashlib
import hmac

import pytest

from api_direct.webhook_signature import SECRET_PREFIX, SignatureError, new_secret, signature_header, verify

BODY = b'{"id":"evt_1","type":"quota.threshold_reached"}'
SECRET = "whsec_test"
T = 1_800_000_000


def test_the_header_is_stripes_scheme_over_the_timestamp_and_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, BODY, T) == f"t={T},v1={expected}"


def test_a_signed_body_verifies_and_returns_its_timestamp() -> None:
    assert verify(BODY, signature_header(SECRET, BODY, T), SECRET, now=T + 10) == T


def test_any_of_several_signatures_may_match() -> None:
    header = f"{signature_header('whsec_old', BODY, T)},v1={signature_header(SECRET, BODY, T).split('v1=')[1]}"
    assert verify(BODY, header, SECRET, now=T) == T


@pytest.mark.parametrize(
    ("body", "header", "secret", "now", "words"),
    [
        (BODY + b" ", signature_header(SECRET, BODY, T), SECRET, T, "no signature matches"),
        (BODY, signature_header("whsec_other", BODY, T), SECRET, T, "no signature matches"),
        (BODY, signature_header(SECRET, BODY, T), SECRET, T + 301, "more than 300 s"),
        (BODY, signature_header(SECRET, BODY, T), SECRET, T - 301, "more than 300 s"),
        (BODY, f"t={T}", SECRET, T, "is not t=<unix seconds>"),
        (BODY, "v1=abc", SECRET, T, "is not t=<unix seconds>"),
        (BODY, "", SECRET, T, "is not t=<unix seconds>"),
    ],
    ids=["body-changed", "other-secret", "too-old", "from-the-future", "no-signature", "no-timestamp", "empty"],
)
def test_anything_else_is_refused(body: bytes, header: str, secret: str, now: int, words: str) -> None:
    with pytest.raises(SignatureError, match=words):
        verify(body, header, secret, now=now)


def test_secrets_are_new_each_time_and_look_like_stripes() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and first.startswith(SECRET_PREFIX) and len(first) >= 40
