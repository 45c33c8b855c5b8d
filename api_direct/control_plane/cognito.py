"""The Cognito client for calls made before anyone is signed in: sign-up, sign-in, refresh, revoke.

Shared by ``apid login`` (``api_direct.client.sign_in``) and the web pages' sign-in form
(``web/web_session.py``), which runs in the control plane's Lambda. It stays
here, beside the service, because the service's bundle ships it; it imports only
boto3, so the client may import it without importing the service.
"""

from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config


def unsigned_cognito(region: str, endpoint_url: str | None) -> Any:
    """These calls are unauthenticated: never signed with the caller's AWS credentials (a developer's, a function's)."""
    return boto3.client(
        "cognito-idp",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(signature_version=UNSIGNED, retries={"mode": "standard"}),
    )
