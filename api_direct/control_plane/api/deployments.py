"""What ``apid plan``/``deploy``/``destroy`` did, as the CLI reports it after each run.

The control plane deploys nothing itself; these records give the creator a history
per API and tie each API to the linked account and region it runs in.
"""

import uuid
from datetime import datetime
from itertools import islice
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field

from api_direct.control_plane.api.accounts import AccountId, Matches, Region, StrictModel, require_linked, timestamp
from api_direct.control_plane.api.auth import Creator
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.api.store import PK, SK, creator_pk
from api_direct.project import API_NAME_PATTERN

ApiId = Annotated[str, Matches(API_NAME_PATTERN, "an API name as in apid.toml, such as weather-api")]
StackStatus = Annotated[
    str, Matches(r"^[A-Z][A-Z_]{0,63}$", "a status in capitals, such as CREATE_COMPLETE, NO_CHANGES or FAILED")
]
StackName = Annotated[str, Matches(r"^[A-Za-z][A-Za-z0-9-]{0,127}$", "a CloudFormation stack name")]
#: Bounded so that a record always fits in one DynamoDB item (400 KB).
Outputs = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=255)], Annotated[str, Field(max_length=1024)]],
    Field(max_length=200),
]


class DeploymentReport(StrictModel):
    api_id: ApiId
    account_id: AccountId
    region: Region
    action: Literal["plan", "deploy", "destroy"]
    #: CloudFormation's stack status, or the CLI's own outcome (``NO_CHANGES``, ``FAILED``).
    status: StackStatus
    stack_name: StackName
    outputs: Outputs = {}
    #: How many resources the change set added, modified or removed.
    changes: Annotated[int, Field(ge=0)] = 0


class Deployment(DeploymentReport):
    # Read back from the stored item, which also holds its keys.
    model_config = ConfigDict(extra="ignore")

    deployment_id: str
    recorded_at: datetime


router = APIRouter(prefix="/deployments", tags=["deployments"])


@router.post("", status_code=201, summary="Record what a plan, deploy or destroy did")
def record(body: DeploymentReport, principal: Creator, services: ServicesDep) -> Deployment:
    """Only for an account and region this creator has linked (409 otherwise)."""
    require_linked(services.store, principal.sub, body.account_id, body.region)
    deployment_id, recorded_at = uuid.uuid4().hex, timestamp()
    item: dict[str, Any] = {
        PK: creator_pk(principal.sub),
        SK: f"{_sort_prefix(body.api_id)}{recorded_at}#{deployment_id}",
        **body.model_dump(),
        "deployment_id": deployment_id,
        "recorded_at": recorded_at,
    }
    services.store.put(item)
    return Deployment.model_validate(item)


@router.get("", summary="This creator's records for one API, newest first")
def list_deployments(
    api_id: ApiId, principal: Creator, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[Deployment]:
    items = services.store.query(creator_pk(principal.sub), _sort_prefix(api_id), newest_first=True)
    return [Deployment.model_validate(item) for item in islice(items, limit)]


def _sort_prefix(api_id: str) -> str:
    """The closing ``#`` keeps ``weather`` from matching ``weather-api``'s records."""
    return f"DEPLOY#{api_id}#"
