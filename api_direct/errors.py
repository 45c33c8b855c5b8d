"""Errors a user can act on. Each message is one line; the CLI maps the class to an exit code.

Anything else escaping the library is a bug and is shown as one (exit 1 with the
traceback only under ``--verbose``).
"""


class ApidError(Exception):
    """Base of the errors the CLI reports as a one-line message."""

    exit_code = 1


class InputError(ApidError):
    """The project, its ``apid.toml`` or a command's arguments are wrong."""

    exit_code = 3


class AccessError(ApidError):
    """AWS refused us: missing or expired credentials, a denied assume-role, a wrong ExternalId."""

    exit_code = 4


class StateError(ApidError):
    """The target is in a state the command cannot act on: not linked, stack busy, failed first deploy."""

    exit_code = 5


class OperationFailed(ApidError):
    """The operation ran and failed (a deploy rolled back, a delete failed)."""

    exit_code = 6


class Interrupted(ApidError):
    """The user pressed Ctrl-C; the message says what is still running and how to watch it."""

    exit_code = 130
