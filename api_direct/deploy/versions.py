"""The app's published versions and its ``live`` alias: ``apid versions``, ``apid rollback``, and the next deploy.

A rollback moves the alias with one Lambda call, without CloudFormation: the
stack's template still names the version its last deploy published (its
``AppVersion`` output), which is how ``apid status`` tells a rolled-back stage
from one serving what was deployed, from any machine. The next deploy moves the
alias back to its own version (:func:`reconcile_live`), even when nothing else
changed.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass

from api_direct.contracts import LATEST, LIVE_ALIAS
from api_direct.deploy.aws import Aws, aws_errors
from api_direct.deploy.stacks import StackInfo
from api_direct.errors import InputError, StateError

#: The stack outputs naming the app function and the version its last deploy made live.
FUNCTION_OUTPUT, VERSION_OUTPUT = "AppFunctionName", "AppVersion"


@dataclass(frozen=True)
class Version:
    """One published version of the app: what ``apid versions`` lists."""

    number: int
    published: str
    #: The release it runs (``"<commit> by <who>"``), as the deploy that published it described it.
    release: str
    code_sha256: str


@dataclass(frozen=True)
class LiveState:
    """Where the alias is, and where the stack's last deploy put it."""

    function_name: str
    #: The version the alias invokes: a number, or ``$LATEST`` after a hotswap.
    live: str
    #: The version the last deploy published, or None for a stack deployed before versions.
    deployed: str | None

    @property
    def rolled_back(self) -> bool:
        return self.deployed is not None and self.live not in (self.deployed, LATEST)


@dataclass(frozen=True)
class Rollback:
    function_name: str
    previous: str
    live: str
    seconds: float


def live_state(aws: Aws, stack: StackInfo) -> LiveState:
    """The alias's version against the deployed template's; a one-line error for a stack without versions."""
    function = stack.outputs.get(FUNCTION_OUTPUT)
    if not function or VERSION_OUTPUT not in stack.outputs:
        raise StateError(f"{stack.name} was deployed before versions: run `apid deploy` once to publish one")
    with aws_errors(f"reading the {LIVE_ALIAS} alias of {function}"):
        alias = aws.client("lambda").get_alias(FunctionName=function, Name=LIVE_ALIAS)
    return LiveState(function, str(alias["FunctionVersion"]), stack.outputs[VERSION_OUTPUT])


def list_versions(aws: Aws, function_name: str) -> list[Version]:
    """Published versions, newest first (``$LATEST`` is not one)."""
    lambda_ = aws.client("lambda")
    found = []
    with aws_errors(f"listing the versions of {function_name}"):
        for page in lambda_.get_paginator("list_versions_by_function").paginate(FunctionName=function_name):
            found += [
                Version(
                    number=int(entry["Version"]),
                    published=str(entry.get("LastModified", "")),
                    release=str(entry.get("Description", "")),
                    code_sha256=str(entry.get("CodeSha256", "")),
                )
                for entry in page["Versions"]
                if entry["Version"] != LATEST
            ]
    return sorted(found, key=lambda version: version.number, reverse=True)


def rollback(aws: Aws, stack: StackInfo, to: int | None) -> Rollback:
    """Point the alias at version ``to``, or at the newest version older than the live one."""
    state = live_state(aws, stack)
    versions = list_versions(aws, state.function_name)
    numbers = [version.number for version in versions]
    if to is not None:
        if to not in numbers:
            listed = ", ".join(str(number) for number in numbers) or "none"
            raise InputError(f"--to {to}: {state.function_name} has no version {to} (it has {listed})")
        target = to
    else:
        # After a hotswap the alias serves unpublished code: every published version is older.
        older = numbers if state.live == LATEST else [number for number in numbers if number < int(state.live)]
        if not older:
            raise StateError(
                f"version {state.live} is the oldest of {state.function_name}: there is nothing to roll back to"
            )
        target = max(older)
    started = time.monotonic()
    move_live(aws, state.function_name, str(target))
    return Rollback(state.function_name, state.live, str(target), time.monotonic() - started)


def reconcile_live(aws: Aws, outputs: Mapping[str, str]) -> str | None:
    """After a deploy: the alias back on the version the stack names, if a rollback moved it; the version
    it was on then, else None."""
    function, deployed = outputs.get(FUNCTION_OUTPUT), outputs.get(VERSION_OUTPUT)
    if not function or not deployed:
        return None
    with aws_errors(f"reading the {LIVE_ALIAS} alias of {function}"):
        live = str(aws.client("lambda").get_alias(FunctionName=function, Name=LIVE_ALIAS)["FunctionVersion"])
    if live == deployed:
        return None
    move_live(aws, function, deployed)
    return live


def move_live(aws: Aws, function_name: str, version: str) -> None:
    """The alias on ``version`` alone (any traffic a canary had split off goes back to it too)."""
    with aws_errors(f"moving the {LIVE_ALIAS} alias of {function_name} to version {version}"):
        aws.client("lambda").update_alias(
            FunctionName=function_name,
            Name=LIVE_ALIAS,
            FunctionVersion=version,
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
