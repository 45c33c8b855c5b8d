"""Lambda's part on one machine: run a deployed function's handler in this process.

moto runs Lambda code only in Docker, and the sandbox has none, so where AWS would
invoke a function (an API request, a Cognito trigger, an SQS batch, a schedule,
a log subscription), the sandbox calls the same handler here, in this process,
with the environment the deployed function has in the emulator: the template's
variables, read back from ``GetFunctionConfiguration``, not guessed. What the code
then does against AWS goes to the emulator through ``AWS_ENDPOINT_URL``.

What a handler writes (Powertools' JSON log lines and metrics on stdout, warnings
on stderr: what Lambda sends to CloudWatch Logs) goes to a log file instead of
the terminal.
"""

import functools
import importlib
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import IO, Any

from aws_lambda_powertools.logging.formatter import BasePowertoolsFormatter

from api_direct.deploy.aws import Aws

#: Packages whose module-level caches (clients, settings) a cold start drops.
_CACHED_PACKAGES = ("api_direct.runtime", "api_direct.control_plane")


@dataclass(frozen=True)
class DeployedFunction:
    """What Lambda needs to run a function: its handler and its configured environment."""

    name: str
    arn: str
    handler: str
    environment: Mapping[str, str]
    memory_mb: int = 128

    @classmethod
    def of(cls, configuration: Mapping[str, Any]) -> "DeployedFunction":
        """From a function's configuration as ``ListFunctions`` or ``GetFunctionConfiguration`` give it."""
        return cls(
            name=configuration["FunctionName"],
            arn=configuration["FunctionArn"],
            handler=configuration["Handler"],
            environment=configuration.get("Environment", {}).get("Variables", {}),
            memory_mb=configuration.get("MemorySize", 128),
        )


def stack_functions(aws: Aws, stack_name: str) -> dict[str, DeployedFunction]:
    """A deployed stack's functions, by handler (within a stack, each of ours has its own)."""
    pages = aws.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack_name)
    names = [
        resource["PhysicalResourceId"]
        for page in pages
        for resource in page["StackResourceSummaries"]
        if resource["ResourceType"] == "AWS::Lambda::Function"
    ]
    functions = [
        DeployedFunction.of(aws.client("lambda").get_function_configuration(FunctionName=name)) for name in names
    ]
    return {function.handler: function for function in functions}


@contextmanager
def environment(variables: Mapping[str, str | None]) -> Iterator[None]:
    """``os.environ`` with these variables set (``None``: unset) for the block, then as it was."""
    saved = {name: os.environ.get(name) for name in variables}
    _apply(variables)
    try:
        yield
    finally:
        _apply(saved)


def _apply(variables: Mapping[str, str | None]) -> None:
    for name, value in variables.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@dataclass
class LambdaContext:
    """The context object a handler gets; Powertools reads its name, ARN and request id."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


class LocalLambda:
    """Invokes deployed functions' handlers in this process, each with its own environment.

    ``base_environment`` (credentials, region, the emulator's endpoint) is what every
    function sees besides its own variables. The first invocation of each function
    is its cold start: the package's module-level caches are dropped, so a client
    or setting cached for another function, or an earlier sandbox, is not reused.
    """

    def __init__(self, base_environment: Mapping[str, str | None], log: IO[str]) -> None:
        self._base = dict(base_environment)
        self._log = log
        self._warm: set[str] = set()
        self.invocations = 0

    def invoke(self, function: DeployedFunction, event: Any) -> Any:
        module_name, _, attribute = function.handler.rpartition(".")
        with environment({**function.environment, **self._base}):
            if function.name not in self._warm:
                self._cold_start()
                self._warm.add(function.name)
            # Imported before the logs are redirected: a logger made at import is then among those moved.
            handler: Callable[[Any, Any], Any] = getattr(importlib.import_module(module_name), attribute)
            context = LambdaContext(function.name, function.arn, function.memory_mb)
            self.invocations += 1
            with self._logs_to_file(), redirect_stdout(self._log), redirect_stderr(self._log):
                return handler(event, context)

    @contextmanager
    def _logs_to_file(self) -> Iterator[None]:
        """Point every stdout log handler (Powertools' loggers) at the log file for the call.

        A Powertools logger's handler is moved whatever stream it holds: it took
        ``sys.stdout`` as it was when its module was imported, which in a long-lived
        process (a test run) may be a stream that has since been replaced.
        """
        streams = (sys.stdout, sys.__stdout__)
        moved = [
            handler
            for logger in [logging.getLogger(), *logging.root.manager.loggerDict.values()]
            if isinstance(logger, logging.Logger)
            for handler in logger.handlers
            if isinstance(handler, logging.StreamHandler)
            and (handler.stream in streams or isinstance(handler.formatter, BasePowertoolsFormatter))
        ]
        previous = [handler.setStream(self._log) for handler in moved]
        try:
            yield
        finally:
            for handler, stream in zip(moved, previous, strict=True):
                handler.setStream(stream)

    @staticmethod
    def _cold_start() -> None:
        for name, module in list(sys.modules.items()):
            if module is None or not name.startswith(_CACHED_PACKAGES):
                continue
            for value in vars(module).values():
                if isinstance(value, functools._lru_cache_wrapper):
                    value.cache_clear()
