"""Short-lived deploy credentials for a linked account, brokered by the control plane.

The deploy role in a creator's account trusts only the control plane's account,
and only with the ExternalId the control plane generated and keeps. So the CLI
asks here: the control plane checks that the caller owns the link, assumes the
role with the ExternalId (at most one hour), and hands the session back over
HTTPS. The creator learns the ExternalId (their link stack needs it), but only the
control plane's account may use it: a third party that talked the control plane
into acting for another creator's account would lack the owner check here, which
is the confused-deputy protection ExternalIds exist for.
"""

import re
from datetime import datetime
from typing import Annotated

from botocore.exceptions import ClientError
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api_direct.contracts import DeployPurpose
from api_direct.control_plane.api.auth import Creator
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.api.store import creator_pk

router = APIRouter(tags=["accounts"])

AccountId = Annotated[str, Path(pattern=r"^\d{12}$")]
Region = Annotated[str, Path(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]


class CredentialsRequest(BaseModel):
    purpose: DeployPurpose


class DeployCredentials(BaseModel):
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    role_arn: str = Field(description="The deploy role these credentials act as")


@router.post(
    "/accounts/{account_id}/{region}/credentials",
    response_model=DeployCredentials,
    summary="Assume the deploy role of a linked account for its owner",
)
def deploy_credentials(
    account_id: AccountId, region: Region, request: CredentialsRequest, principal: Creator, services: ServicesDep
) -> DeployCredentials:
    link = services.store.get(creator_pk(principal.sub), f"ACCOUNT#{account_id}#{region}")
    if link is None or link.get("status") != "linked":
        raise Problem(404, f"you have no linked account {account_id} in {region}; run `apid aws link`")
    try:
        response = services.sts.assume_role(
            RoleArn=link["deploy_role_arn"],
            ExternalId=link["external_id"],
            RoleSessionName=re.sub(r"[^\w+=,.@-]", "-", f"apid-{principal.username}")[:64],
            DurationSeconds=3600,
        )
    except ClientError:
        raise Problem(
            409,
            f"the control plane cannot assume the deploy role in {account_id} ({request.purpose}): was the link"
            " stack changed or deleted? Run `apid aws link` again",
        ) from None
    credentials = response["Credentials"]
    return DeployCredentials(
        access_key_id=credentials["AccessKeyId"],
        secret_access_key=credentials["SecretAccessKey"],
        session_token=credentials["SessionToken"],
        expiration=credentials["Expiration"],
        role_arn=link["deploy_role_arn"],
    )
