"""Cognito PostConfirmation trigger: put a newly confirmed user in the group of the role they chose.

Users pick a role at sign-up in the ``custom:role`` attribute (immutable, so it
cannot be changed afterwards); the control plane authorizes by the
``cognito:groups`` claim of their access token, so the group is what grants the
role. Only the groups named in ``ROLE_GROUPS`` (comma-separated, set by the
``Identity`` construct from the groups it creates) are ever assigned: any other
value gets no group, and so no rights, and a warning in the log. Only a sign-up
confirmation assigns a group; a forgotten-password confirmation changes nothing.

Cognito waits for the trigger (at most 5 seconds) and needs the event back.
"""

import functools
import os
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import PostConfirmationTriggerEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

if TYPE_CHECKING:  # the stubs are a dev dependency; the Lambda bundle has boto3 alone
    from mypy_boto3_cognito_idp.client import CognitoIdentityProviderClient

ROLE_ATTRIBUTE = "custom:role"
SIGN_UP_CONFIRMED = "PostConfirmation_ConfirmSignUp"

logger = Logger(service="apid-post-confirmation")


def role_group(attributes: Mapping[str, str], groups: Collection[str]) -> str | None:
    """The group a user's ``custom:role`` names, if it is one of ``groups``; else ``None``."""
    role = attributes.get(ROLE_ATTRIBUTE)
    return role if role in groups else None


def role_groups_from_env() -> frozenset[str]:
    """``ROLE_GROUPS``: the groups a role may name."""
    return frozenset(name for name in os.environ["ROLE_GROUPS"].split(",") if name)


@functools.cache
def cognito_client(region: str) -> "CognitoIdentityProviderClient":
    """A client kept for the container's life; retries stay well inside Cognito's 5 s wait."""
    return boto3.client(
        "cognito-idp",
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=1, read_timeout=2),
    )


@logger.inject_lambda_context(log_event=False, clear_state=True)
@event_source(data_class=PostConfirmationTriggerEvent)
def handler(event: PostConfirmationTriggerEvent, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point; logs the user's id (a UUID, as the pool signs in by email), never their email."""
    if event.trigger_source != SIGN_UP_CONFIRMED:
        return event.raw_event
    group = role_group(event.request.user_attributes, role_groups_from_env())
    if group is None:
        logger.warning(
            "no role group for this user", user=event.user_name, role=event.request.user_attributes.get(ROLE_ATTRIBUTE)
        )
        return event.raw_event
    cognito_client(event.region).admin_add_user_to_group(
        UserPoolId=event.user_pool_id, Username=event.user_name, GroupName=group
    )
    logger.info("added user to role group", user=event.user_name, group=group)
    return event.raw_event
