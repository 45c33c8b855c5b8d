"""Billing turned on in the control plane's settings: the Stripe fake's keys in a Secrets Manager secret.

The app reads them from the secret exactly as it does in Lambda; only ``stripe_api_base``
differs, pointing the official client at the fake on loopback.
"""

import json
from collections.abc import Callable
from typing import Any

from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.local.stripe_server import StripeFake

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


def with_billing(
    settings: ControlPlaneSettings, aws: Callable[[str], Any], stripe_fake: StripeFake
) -> ControlPlaneSettings:
    """``settings`` with billing on: the fake's keys in a secret (made with ``aws``), Stripe calls to the fake."""
    secret = aws("secretsmanager").create_secret(
        Name="apid-stripe", SecretString=json.dumps({"api_key": stripe_fake.api_key, "webhook_secret": WEBHOOK_SECRET})
    )
    return settings.model_copy(update={"stripe_secret_arn": secret["ARN"], "stripe_api_base": stripe_fake.base_url})
