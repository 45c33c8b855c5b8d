"""Linking a creator's AWS account: the control plane's half of ``apid aws link``.

A creator registers an account and region and gets an ExternalId the control plane
generated; the ``AccountLinkStack`` they deploy makes the deploy role require it.
They then confirm the link with the role ARNs, and only a linked account may send
usage to the control plane's bus.

Three kinds of item keep this safe under concurrency (see the table in ``store.py``):
the registration in the creator's partition; an ownership item per account and
region, created only if absent, so one creator at a time holds an account there;
and an ExternalId reservation, created only if absent, so no id is ever issued twice,
not even after an unlink. They are written in one transaction: a refused
registration changes nothing.
"""

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from api_direct.control_plane.api.auth import Creator
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import GSI1, PK, SK, Store, account_gsi, creator_pk

Status = Literal["pending", "linked", "unlinked"]
PENDING: Status = "pending"
LINKED: Status = "linked"
UNLINKED: Status = "unlinked"

_OWNER = "OWNER"
_EXTERNAL_ID = "EXTERNALID"
_GSI1_KEYS = ("gsi1pk", "gsi1sk")
#: A collision of 192 random bits is astronomically unlikely; the retries are for concurrent requests.
_ATTEMPTS = 3
_STATUS_NAME = {"#status": "status"}


@dataclass(frozen=True)
class Matches:
    """A string that ``pattern`` must match as a whole; the error says what is expected in words.

    Pydantic's own pattern error quotes the regular expression, which tells a person
    at a terminal little; the OpenAPI schema still carries the pattern for tools.
    """

    pattern: str
    expected: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        anchored = self.pattern if self.pattern.startswith("^") else f"^(?:{self.pattern})$"
        return {**handler(schema), "pattern": anchored}

    def _check(self, value: str) -> str:
        if not re.fullmatch(self.pattern, value):
            raise PydanticCustomError("invalid_format", "must be {expected}", {"expected": self.expected})
        return value


AccountId = Annotated[str, Matches(r"^\d{12}$", "an AWS account id (12 digits)")]
Region = Annotated[str, Matches(r"^[a-z]{2}(-gov)?-[a-z]+-\d$", "an AWS region such as eu-west-1")]
RoleArn = Annotated[
    str,
    Matches(
        r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$",
        "an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
    ),
]
BucketName = Annotated[
    str,
    Matches(
        r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"
    ),
]


class StrictModel(BaseModel):
    """Request bodies: an unknown field is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Registration(StrictModel):
    account_id: AccountId
    region: Region


class LinkConfirmation(StrictModel):
    """What the creator's ``AccountLinkStack`` created, as its outputs name it."""

    deploy_role_arn: RoleArn
    execution_role_arn: RoleArn
    asset_bucket: BucketName

    def require_roles_in(self, account_id: str) -> None:
        """The control plane will assume these roles: they must be the linked account's own."""
        for field in ("deploy_role_arn", "execution_role_arn"):
            if getattr(self, field).split(":")[4] != account_id:
                raise Problem(422, f"{field}: must be a role in account {account_id}, the account being linked")


class Account(BaseModel):
    """A registration as the creator sees it (the deploy role must trust ``trusted_account_id``)."""

    account_id: str
    region: str
    external_id: str
    trusted_account_id: str
    status: Status
    created_at: datetime
    linked_at: datetime | None = None
    unlinked_at: datetime | None = None
    deploy_role_arn: str | None = None
    execution_role_arn: str | None = None
    asset_bucket: str | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any], settings: ControlPlaneSettings) -> "Account":
        return cls.model_validate({**item, "trusted_account_id": settings.account_id})


router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.post("", status_code=201, summary="Register an AWS account and region, and get its ExternalId")
def register(body: Registration, principal: Creator, services: ServicesDep, response: Response) -> Account:
    """201 with a new ExternalId; 200 with the same one while the registration is pending or linked.

    After an unlink a new ExternalId is issued: the old one may still be in a trust
    policy somewhere and must never be honoured again.
    """
    for _ in range(_ATTEMPTS):
        current = _registration(services.store, principal.sub, body.account_id, body.region)
        if current is not None and current["status"] != UNLINKED:
            response.status_code = 200
            return Account.of(current, services.settings)
        try:
            return Account.of(_reserve(services.store, principal.sub, body), services.settings)
        except Problem:
            # Someone else holds the account (final), or a concurrent request of this
            # creator won, or the ExternalId was taken: the next round tells which.
            if _owner(services.store, body.account_id, body.region) not in (None, principal.sub):
                raise
    raise Problem(503, "could not reserve a unique ExternalId; retry")


@router.put("/{account_id}/{region}", summary="Confirm the link once the AccountLinkStack is deployed")
def confirm(
    account_id: AccountId, region: Region, body: LinkConfirmation, principal: Creator, services: ServicesDep
) -> Account:
    """Records the roles and admits the account to the control plane bus; safe to repeat."""
    body.require_roles_in(account_id)
    current = _active_registration(services.store, principal.sub, account_id, region)
    linked = {**current, **body.model_dump(), "status": LINKED, "linked_at": timestamp()}
    _replace(services.store, current, linked)
    services.bus.admit_account(account_id)
    return Account.of(linked, services.settings)


@router.get("", summary="Your registered accounts, whatever their status")
def list_accounts(principal: Creator, services: ServicesDep) -> list[Account]:
    items = services.store.query(creator_pk(principal.sub), "ACCOUNT#")
    return [Account.of(item, services.settings) for item in items]


@router.delete("/{account_id}/{region}", status_code=204, summary="Unlink an account (its ExternalId is retired)")
def unlink(account_id: AccountId, region: Region, principal: Creator, services: ServicesDep) -> None:
    """Keeps the record (marked unlinked) and releases the account for others; safe to repeat.

    The bus admits accounts, not regions: the permission stays while any creator
    still has the account linked in another region.
    """
    store = services.store
    current = _registration(store, principal.sub, account_id, region)
    if current is None:
        raise _not_registered(account_id, region)
    if current["status"] != UNLINKED:
        unlinked = {key: value for key, value in current.items() if key not in _GSI1_KEYS}
        _replace(
            store,
            current,
            {**unlinked, "status": UNLINKED, "unlinked_at": timestamp()},
            also=[
                {
                    "Delete": {
                        "Key": {PK: _account_key(account_id, region), SK: _OWNER},
                        "ConditionExpression": "creator = :creator",
                        "ExpressionAttributeValues": {":creator": principal.sub},
                    }
                }
            ],
        )
    if not _linked_elsewhere(store, principal.sub, account_id, region):
        services.bus.remove_account(account_id)


def require_linked(store: Store, sub: str, account_id: str, region: str) -> None:
    """Refuse (409) to act for an account this creator has not linked in ``region``."""
    current = _registration(store, sub, account_id, region)
    if current is None or current["status"] != LINKED:
        raise Problem(409, f"account {account_id} is not linked in {region}; link the account first (`apid aws link`)")


def timestamp() -> str:
    """UTC, fixed width with microseconds, so timestamps in sort keys sort as they read."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_external_id() -> str:
    """32 URL-safe characters: within the ``sts:ExternalId`` alphabet and length limits."""
    return secrets.token_urlsafe(24)


def _account_key(account_id: str, region: str) -> str:
    """The registration's sort key in the creator's partition, and the ownership item's partition."""
    return f"ACCOUNT#{account_id}#{region}"


def _registration(store: Store, sub: str, account_id: str, region: str) -> dict[str, Any] | None:
    return store.get(creator_pk(sub), _account_key(account_id, region))


def _active_registration(store: Store, sub: str, account_id: str, region: str) -> dict[str, Any]:
    current = _registration(store, sub, account_id, region)
    if current is None or current["status"] == UNLINKED:
        raise _not_registered(account_id, region)
    return current


def _not_registered(account_id: str, region: str) -> Problem:
    return Problem(404, f"you have no registration of account {account_id} in {region}; register it (`apid aws link`)")


def _owner(store: Store, account_id: str, region: str) -> str | None:
    """The creator who holds the account in this region, if anyone does."""
    item = store.get(_account_key(account_id, region), _OWNER)
    return None if item is None else str(item["creator"])


def _reserve(store: Store, sub: str, body: Registration) -> dict[str, Any]:
    """Write a pending registration with a fresh ExternalId, the ownership and the id's reservation at once."""
    now, external_id, key = timestamp(), new_external_id(), _account_key(body.account_id, body.region)
    registration = {
        PK: creator_pk(sub),
        SK: key,
        "gsi1pk": account_gsi(body.account_id),
        "gsi1sk": f"REGION#{body.region}",
        "account_id": body.account_id,
        "region": body.region,
        "external_id": external_id,
        "status": PENDING,
        "created_at": now,
    }
    reservation = {
        PK: f"{_EXTERNAL_ID}#{external_id}",
        SK: _EXTERNAL_ID,
        "creator": sub,
        "account_id": body.account_id,
        "region": body.region,
        "created_at": now,
    }
    store.transact(
        [
            _put_new({PK: key, SK: _OWNER, "creator": sub, "since": now}),
            _put_new(reservation),
            {
                "Put": {
                    "Item": registration,
                    "ConditionExpression": "attribute_not_exists(pk) OR #status = :unlinked",
                    "ExpressionAttributeNames": _STATUS_NAME,
                    "ExpressionAttributeValues": {":unlinked": UNLINKED},
                }
            },
        ],
        conflict=f"account {body.account_id} in {body.region} is already registered by another creator; "
        "they must unlink it first (`apid aws unlink`)",
    )
    return registration


def _put_new(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"Put": {"Item": dict(item), "ConditionExpression": "attribute_not_exists(pk)"}}


def _replace(
    store: Store, seen: Mapping[str, Any], new: Mapping[str, Any], also: list[dict[str, Any]] | None = None
) -> None:
    """Overwrite a registration only if its status is still the one read (with ``also``, atomically)."""
    guarded = {
        "Put": {
            "Item": dict(new),
            "ConditionExpression": "#status = :seen",
            "ExpressionAttributeNames": _STATUS_NAME,
            "ExpressionAttributeValues": {":seen": seen["status"]},
        }
    }
    store.transact(
        [guarded, *(also or [])], conflict=f"account {seen['account_id']} in {seen['region']} changed meanwhile; retry"
    )


def _linked_elsewhere(store: Store, sub: str, account_id: str, region: str) -> bool:
    """Whether the account stays linked after this creator unlinks it in ``region``.

    Reads the index of active registrations (unlink drops an item's index keys), which
    is eventually consistent: the registration just unlinked is excluded by key.
    """
    return any(
        item["status"] == LINKED and (item[PK], item["region"]) != (creator_pk(sub), region)
        for item in store.query(account_gsi(account_id), "REGION#", index=GSI1)
    )
