"""The secret scanner itself: it finds every kind of secret the product makes, and nothing else."""

import json
import secrets

import jwt
from hypothesis import given
from hypothesis import strategies as st

from api_direct.runtime.api_keys import generate_key
from tests.secret_scan import PATTERNS, find_secrets

SAMPLES = {
    "Stripe secret key": f"stripe.api_key = 'sk_test_{secrets.token_hex(12)}'",
    "Stripe webhook secret": json.dumps({"webhook_secret": f"whsec_{secrets.token_urlsafe(24)}"}),
    "AWS access key id": '{"AccessKeyId": "ASIAQWERTYUIOPASDFGH"}',
    "AWS secret access key": (
        f'"SecretAccessKey": "{secrets.token_urlsafe(30)[:40].replace("-", "+").replace("_", "/")}"'
    ),
    "API-Direct API key": f"x-api-key: {generate_key()}",
    "bearer token": "Authorization: Bearer "
    + jwt.encode({"sub": "carol", "exp": 2_000_000_000}, "k" * 32, algorithm="HS256"),
}


def test_every_kind_is_found_and_not_repeated_in_the_finding() -> None:
    assert set(SAMPLES) == set(PATTERNS)
    for kind, text in SAMPLES.items():
        [finding] = find_secrets("sample", text)
        assert finding.startswith(f"{kind} in sample: ")
        assert len(finding) < len(f"{kind} in sample: ") + 10  # eight characters and an ellipsis, never the value


@given(st.integers(min_value=0, max_value=1000))
def test_every_generated_api_key_is_found(_: int) -> None:
    assert find_secrets("log", f"key={generate_key()}.") != []


def test_hashes_ids_and_arns_are_not_secrets() -> None:
    clean = json.dumps(
        {
            "S3Key": f"{secrets.token_hex(32)}.zip",
            "key_hash": secrets.token_hex(32),
            "key_id": "key_0123456789abcdef",
            "RoleArn": "arn:aws:iam::123456789012:role/apid-deploy-eu-west-1",
            "AccessKeyId": "AKIA-is-not-a-key",
            "message": "usage applied for sk_test",
            "Fn::GetAtt": ["AppFunction4A8F8FFB", "Arn"],
        }
    )
    assert find_secrets("template", clean) == []


def test_known_values_are_found_wherever_they_appear() -> None:
    value = secrets.token_hex(16)
    assert find_secrets("output", f"ExternalId={value}", {"ExternalId": value}) == [
        f"ExternalId in output: {value[:4]}…"
    ]
