"""A stage's secrets: SecureString parameters in the linked account's Parameter Store, under the stage's path.

Each secret is one parameter, ``<path>/<NAME>`` (:func:`~api_direct.contracts.secrets_path`), encrypted with
the account's AWS managed key for Parameter Store (``aws/ssm``), written and read with the link's deploy role.
Setting a secret again makes a new version of the same parameter, so Parameter Store keeps its history; the
app's function reads the path's current values at cold start and sets each as an environment variable.

No value leaves this module but to Parameter Store: none is returned, and an error that repeated it (AWS's
validation messages may quote what they refuse) has it masked before it becomes the one-line message.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from api_direct.contracts import UNNAMED_STAGE_FOLDER, secrets_path
from api_direct.deploy.aws import aws_errors, error_code
from api_direct.deploy.operations import Session
from api_direct.deploy.planner import STACK_TAGS
from api_direct.errors import ApidError, InputError, StateError
from api_direct.project import ENV_NAME_PATTERN, Project, is_reserved_env_name

#: Long enough for any variable name an app would read; Parameter Store's own limit is far above it.
NAME_LIMIT = 128
#: Parameter Store's limit on a standard parameter's value (an advanced one holds 8 KB, and is charged for).
VALUE_LIMIT_BYTES = 4096


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown of a secret: its name, its version and its last change (when, by whom); never its value."""

    name: str
    version: int
    last_modified: datetime | None
    #: The IAM identity that last set it, as Parameter Store records it (the deploy role's session names the user).
    last_modified_by: str | None


def check_name(name: str) -> None:
    """Refuse a name the app could not read as an environment variable, or that Lambda or API-Direct sets."""
    if not re.fullmatch(ENV_NAME_PATTERN, name) or len(name) > NAME_LIMIT:
        raise InputError(
            f"secret name {name!r}: use up to {NAME_LIMIT} letters, digits and underscores, not starting with a"
            " digit (the app reads it as an environment variable of that name)"
        )
    if is_reserved_env_name(name):
        raise InputError(f"secret name {name}: Lambda or API-Direct sets this variable itself; rename the secret")


def check_unshadowed(project: Project, name: str) -> None:
    """Refuse a name the stage's ``[env]`` sets: one name, one source (in Lambda the secret would win)."""
    if name in project.environment:
        raise InputError(
            f"{name} is a plain variable of this stage ([env] in apid.toml); remove it there or name the secret"
            " otherwise (one name, one source)"
        )


def set_secret(session: Session, name: str, value: str) -> SecretInfo:
    """Store ``value`` as the stage's secret ``name`` (a new version if it exists); what is shown of it after."""
    check_name(name)
    check_unshadowed(session.project, name)
    if not value:
        raise InputError(f"secret {name}: the value is empty; nothing was stored")
    if len(value.encode()) > VALUE_LIMIT_BYTES:
        raise InputError(
            f"secret {name}: the value is {len(value.encode())} bytes; Parameter Store's standard parameters hold"
            f" {VALUE_LIMIT_BYTES}"
        )
    parameter = _parameter(session, name)
    ssm = session.deploy_role("managing secrets").client("ssm")
    with _masking(value), aws_errors(f"storing secret {name}"):
        stored = ssm.put_parameter(
            Name=parameter,
            Value=value,
            Type="SecureString",
            Tier="Standard",
            Overwrite=True,
            Description=f"API-Direct secret of {session.project.stack_name}",
        )
        # Tags cannot go with Overwrite; adding them again is harmless, and marks the parameter as API-Direct's.
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=parameter, Tags=_tags(session))
    listed = {info.name: info for info in _described(ssm, stage_path(session))}
    return listed.get(name) or SecretInfo(name, int(stored["Version"]), None, None)


def list_secrets(session: Session) -> tuple[SecretInfo, ...]:
    """The stage's secrets by name, with their last change; an empty tuple when it has none."""
    return _described(session.deploy_role("managing secrets").client("ssm"), stage_path(session))


def _described(ssm: Any, path: str) -> tuple[SecretInfo, ...]:
    with aws_errors(f"listing the secrets under {path}"):
        pages = ssm.get_paginator("describe_parameters").paginate(
            ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": [path]}]
        )
        found = [_info(parameter) for page in pages for parameter in page["Parameters"]]
    return tuple(sorted(found, key=lambda info: info.name))


def remove_secret(session: Session, name: str) -> None:
    """Delete the stage's secret ``name`` and its history; a clear error if there is none of that name."""
    check_name(name)
    ssm = session.deploy_role("managing secrets").client("ssm")
    with aws_errors(f"removing secret {name}"):
        try:
            ssm.delete_parameter(Name=_parameter(session, name))
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise
            raise StateError(
                f"{stage_label(session)} has no secret {name} (`apid secrets list` shows its secrets)"
            ) from None


def stage_path(session: Session) -> str:
    """Where the session's stage keeps its secrets."""
    return secrets_path(session.project.config.api.name, session.project.stage)


def _parameter(session: Session, name: str) -> str:
    return f"{stage_path(session)}/{name}"


def stage_label(session: Session) -> str:
    """The stage as messages name it."""
    return f"stage {session.project.stage}" if session.project.stage else "the default stage"


def _tags(session: Session) -> list[dict[str, str]]:
    tags = {
        **STACK_TAGS,
        "api-direct:api": session.project.config.api.name,
        "api-direct:stage": session.project.stage or UNNAMED_STAGE_FOLDER,
    }
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _info(parameter: dict[str, Any]) -> SecretInfo:
    return SecretInfo(
        name=str(parameter["Name"]).rsplit("/", 1)[-1],
        version=int(parameter.get("Version", 0)),
        last_modified=parameter.get("LastModifiedDate"),
        last_modified_by=parameter.get("LastModifiedUser"),
    )


@contextmanager
def _masking(value: str) -> Iterator[None]:
    """The one-line error of a failed write, with the value masked wherever AWS's message repeated it."""
    try:
        yield
    except ApidError as error:
        message = str(error)
        if value not in message:
            raise
        masked = type(error)(message.replace(value, "****"))
        raise masked from None
