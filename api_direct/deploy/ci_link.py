"""The link as a CI job knows it: from environment variables, since ``.apid/state.json`` is not committed.

A CI checkout has no state file (``.apid/`` is git-ignored: it holds the
ExternalId). What a deploy needs from the link is not secret and follows from
the account and region by name (:class:`LinkNames`), so the workflow
``apid ci github`` writes carries it as ``APID_LINK_*`` variables. Such a link is
marked ``ci``: its deploy role is assumed from the GitHub role's credentials, with
no ExternalId, and the control plane is not told (CI has no sign-in to tell it with).
"""

import re
from collections.abc import Mapping
from dataclasses import replace

import boto3
from botocore.exceptions import UnknownRegionError

from api_direct.deploy.state import LinkRecord
from api_direct.errors import InputError

#: The linked account's id (12 digits); with :data:`LINK_REGION`, what makes a CI link.
LINK_ACCOUNT = "APID_LINK_ACCOUNT"
LINK_REGION = "APID_LINK_REGION"
#: The account the deploy role trusts with the ExternalId (the control plane's), when not the linked one.
LINK_TRUSTED_ACCOUNT = "APID_LINK_TRUSTED_ACCOUNT"
#: The control plane's usage bus, when the API is metered: the API stack is synthesized to send usage there.
LINK_USAGE_BUS_ARN = "APID_LINK_USAGE_BUS_ARN"
LINK_STACK = "APID_LINK_STACK"

_ACCOUNT = re.compile(r"\d{12}")
_BUS_ARN = re.compile(r"arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus/[\w.\-/]+")


def ci_environment(link: LinkRecord) -> dict[str, str]:
    """The variables :func:`ci_link` rebuilds ``link`` from."""
    variables = {
        LINK_ACCOUNT: link.account_id,
        LINK_REGION: link.region,
        LINK_TRUSTED_ACCOUNT: link.trusted_account_id,
        LINK_STACK: link.stack_name,
    }
    if link.usage_bus_arn:
        variables[LINK_USAGE_BUS_ARN] = link.usage_bus_arn
    return variables


def ci_link(environ: Mapping[str, str]) -> LinkRecord | None:
    """The link ``environ`` describes, or None when it names no linked account."""
    account, region = environ.get(LINK_ACCOUNT), environ.get(LINK_REGION)
    if not account and not region:
        return None
    if not (account and _ACCOUNT.fullmatch(account)):
        raise InputError(f"{LINK_ACCOUNT} must be the linked account's 12-digit id (it is {account!r})")
    if not region:
        raise InputError(f"{LINK_ACCOUNT} is set but {LINK_REGION} is not: set both, as `apid ci github` writes them")
    try:
        partition = boto3.Session().get_partition_for_region(region)
    except UnknownRegionError:
        raise InputError(f"{LINK_REGION} {region!r} is not an AWS region") from None
    trusted = environ.get(LINK_TRUSTED_ACCOUNT) or account
    if not _ACCOUNT.fullmatch(trusted):
        raise InputError(f"{LINK_TRUSTED_ACCOUNT} must be a 12-digit account id (it is {trusted!r})")
    bus = environ.get(LINK_USAGE_BUS_ARN) or None
    if bus is not None and not _BUS_ARN.fullmatch(bus):
        raise InputError(f"{LINK_USAGE_BUS_ARN} must be an EventBridge bus ARN (it is {bus!r})")
    # Here, not at the top: the link's names come with the CDK, which a local deploy that reuses its
    # synthesis never loads; a CI deploy synthesizes anyway.
    from api_direct.deploy.link import LINK_STACK_NAME, link_record

    record = link_record(
        account, partition, region, trusted_account_id=trusted, stack_name=environ.get(LINK_STACK) or LINK_STACK_NAME
    )
    return replace(record, usage_bus_arn=bus, ci=True)
