"""Today's AWS prices for a linked project's region (``apid costs --refresh-prices``), read with the link's role.

The Price List API answers only on its us-east-1 endpoint, whatever region it prices,
so the deploy role's session is opened again there. The link grants the role
``pricing:GetProducts``; a link made before it did is refused by AWS, and the one-line
error says to link again, which updates the role.
"""

from collections.abc import Callable, Sequence

import boto3

from api_direct.aws_costs import refresh
from api_direct.aws_costs.refresh import PricingClient, Refresh
from api_direct.deploy.aws import Aws, aws_errors

#: What the error says was being done when AWS refuses: with the likely cause of a denial.
DOING = (
    "reading AWS prices with pricing:GetProducts (a link made before the role was granted it: `apid aws link` again)"
)


def pricing_client(aws: Aws) -> PricingClient:
    """A Price List client acting as ``aws`` (the deploy role), on the API's endpoint region."""
    credentials = aws.session.get_credentials()
    if credentials is None:  # an Aws always holds credentials; the check is for the type checker
        raise ValueError("no credentials")
    frozen = credentials.get_frozen_credentials()
    session = boto3.Session(
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
        region_name=refresh.ENDPOINT_REGION,
    )
    client: PricingClient = Aws(session, aws.endpoint_url).client("pricing")
    return client


def refresh_prices(aws: Aws, regions: Sequence[str], progress: Callable[[str], None]) -> list[Refresh]:
    """Refresh each of ``regions`` into the user's cache, in order; each line of progress names its region."""
    client = pricing_client(aws)
    with aws_errors(DOING):
        return [refresh.refresh(client, region, progress=_naming(region, progress)) for region in regions]


def _naming(region: str, progress: Callable[[str], None]) -> Callable[[str], None]:
    return lambda line: progress(f"{region}: {line}")
