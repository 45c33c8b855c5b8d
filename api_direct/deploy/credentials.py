"""Where a deploy session comes from: assumed locally, or brokered by the control plane."""

from api_direct.client.sign_in import client_for, require_session
from api_direct.contracts import DeployPurpose
from api_direct.deploy.aws import Aws, assume_role
from api_direct.deploy.state import LinkRecord
from api_direct.errors import StateError


def deploy_session(creator: Aws, link: LinkRecord, purpose: DeployPurpose) -> Aws:
    """Credentials of the link's deploy role, however this link trusts its caller.

    Linked through a control plane, only the control plane may assume the role (it
    alone holds the ExternalId), so it is asked for a session; linked locally, the
    creator's own credentials assume it with the ExternalId kept in the project.
    In CI, the credentials are the link's GitHub role's, which the deploy role
    trusts by name, with no ExternalId and no control plane in between.
    """
    if link.ci:
        return assume_role(creator, link.deploy_role_arn, None, purpose=purpose)
    if link.control_plane_url is None:
        if not link.external_id:
            raise StateError("the link has no ExternalId; run `apid aws link` again")
        return assume_role(creator, link.deploy_role_arn, link.external_id, purpose=purpose)
    signed_in = require_session()
    if signed_in.control_plane_url != link.control_plane_url:
        raise StateError(
            f"this project is linked through {link.control_plane_url}, but you are signed in to"
            f" {signed_in.control_plane_url}: `apid login --control-plane {link.control_plane_url}`"
        )
    granted = client_for(signed_in, endpoint_url=creator.endpoint_url).deploy_credentials(
        link.account_id, link.region, purpose
    )
    return Aws.from_credentials(
        granted["access_key_id"],
        granted["secret_access_key"],
        granted["session_token"],
        region=link.region,
        endpoint_url=creator.endpoint_url,
    )
