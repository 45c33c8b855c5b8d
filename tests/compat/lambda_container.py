"""A bundle run as a Lambda container runs it: one process, the handler imported once, events in turn.

Run as a script (``python -I -S lambda_container.py BUNDLE``), this is the
container: only the standard library and the bundle are importable (``-I``
ignores the environment's and the user's paths, ``-S`` the site-packages), the
bundle is the working directory and ``sys.path[0]`` as ``/var/task`` is, and the
generated ``apid_handler`` is imported once, so the app's lifespan starts once.
It then reads one event per line of standard input (JSON) and writes one line
per invocation: ``{"result": …}`` or, when the handler raised (Lambda's
function error, which API Gateway answers 502), ``{"error": …}``. Whatever the app
prints goes to standard error, as it would to CloudWatch, never into the answers.
End of input ends the process normally (the adapter then runs the lifespan's
shutdown, as ``apid sandbox`` does; Lambda never does).

Imported by the tests, :class:`LambdaContainer` starts and drives such a process.
So the module imports nothing outside the standard library at its top.
"""

import json
import os
import selectors
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

#: How long one invocation may take before the container is declared hung.
INVOKE_TIMEOUT_SECONDS = 60.0
FUNCTION_NAME = "apid-compat"


class LambdaContext:
    """The attributes of Lambda's Python context object an adapter or an app may read."""

    function_name = FUNCTION_NAME
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"
    memory_limit_in_mb = 1024
    log_group_name = f"/aws/lambda/{FUNCTION_NAME}"
    log_stream_name = "2026/01/01/[$LATEST]compat"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def lambda_environment(bundle: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The variables Lambda sets in a python3.11 container (placeholders), and the function's own ``extra``."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(bundle),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": "apid_handler.handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": LambdaContext.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": LambdaContext.log_stream_name,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        **extra,
    }


class LambdaContainer:
    """One container process for ``bundle``, started at construction; ``invoke`` one event at a time."""

    def __init__(self, bundle: Path, environment: Mapping[str, str], log: Path) -> None:
        self._log = log.open("wb")
        self.log_path = log
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", str(Path(__file__).resolve()), str(bundle)],
            cwd=bundle,
            env=lambda_environment(bundle, environment),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )

    def invoke(self, event: Mapping[str, Any]) -> tuple[Any, bool]:
        """The handler's result and True, or its error and False, for one event."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(event).encode() + b"\n")
        self.process.stdin.flush()
        line = _read_line(self.process.stdout, INVOKE_TIMEOUT_SECONDS)
        if not line:
            raise RuntimeError(f"the Lambda container exited ({self.process.poll()}); its log:\n{self.log()}")
        answer = json.loads(line)
        return (answer["result"], True) if "result" in answer else (answer["error"], False)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def ending(self) -> None:
        """Close standard input: the container exits normally, running the lifespan's shutdown."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass

    def stop(self) -> None:
        """:meth:`ending`, then wait for the exit; kill it if it lingers."""
        self.ending()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"the Lambda container did not answer within {timeout:.0f} s")
    return stream.readline()


def serve(bundle: Path, events: IO[str], answers: IO[str]) -> None:
    """The container's loop: import the handler once (Lambda's init phase), then one answer per event."""
    sys.path.insert(0, str(bundle))
    os.chdir(bundle)
    import apid_handler  # the bundle's generated module, importable only now

    for line in events:
        event = json.loads(line)
        try:
            answer: dict[str, Any] = {"result": apid_handler.handler(event, LambdaContext())}
        except Exception as error:  # what the Lambda runtime reports as a function error
            answer = {"error": {"errorType": type(error).__name__, "errorMessage": str(error)}}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the app's prints go to the log, not into the answers
    serve(Path(sys.argv[1]), sys.stdin, answers)


if __name__ == "__main__":
    main()
