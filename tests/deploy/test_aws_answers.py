"""However AWS's answer goes wrong, the engine's error has a documented exit code: never 1, which means a bug.

Not reaching AWS (refused, TLS, a proxy, a connect timeout) is exit 4: nothing got
there and the connection is what to fix. An answer lost or garbled after the request
went out (closed, timed out, truncated, not XML) is exit 6: AWS may have acted, and
the fix is a rerun. Another operation on the same stack is exit 5.
"""

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore import exceptions as botocore_errors
from botocore.config import Config
from botocore.parsers import ResponseParserError
from botocore.stub import Stubber

from api_direct.deploy.aws import aws_errors, aws_failure
from api_direct.errors import AccessError, ApidError, InputError, OperationFailed, StateError
from tests.bad_answers import HOST, bad_aws, closed_port
from tests.errors import DOCUMENTED_FAILURES

__all__ = ["bad_aws"]  # fixture

#: One attempt, short timeouts: each fault is met once, at once (retries are botocore's, tested by its authors).
ONCE = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=1, read_timeout=0.5)
ENDPOINT = "https://cloudformation.us-east-1.amazonaws.com"


def cloudformation(endpoint_url: str, **config: Any) -> Any:
    return boto3.client(
        "cloudformation", region_name="us-east-1", endpoint_url=endpoint_url, config=ONCE.merge(Config(**config))
    )


def refused(call: Callable[[], Any]) -> ApidError:
    """The error ``aws_errors`` made of ``call``'s failure, checked to be one documented line."""
    with pytest.raises(ApidError) as error, aws_errors("reading stack x"):
        call()
    assert error.value.exit_code in DOCUMENTED_FAILURES, error.value
    assert str(error.value).startswith("reading stack x: ") and "\n" not in str(error.value)
    return error.value


@pytest.mark.parametrize(
    ("fault", "raised"),
    [
        ("garbage", "ResponseParserError"),
        ("html500", "ResponseParserError"),
        ("truncated", "ResponseParserError"),
        ("close", "ConnectionClosedError"),
        ("hang", "ReadTimeoutError"),
    ],
)
def test_an_answer_lost_or_garbled_is_exit_6(bad_aws: Callable[[str], str], fault: str, raised: str) -> None:
    error = refused(lambda: cloudformation(bad_aws(fault)).describe_stacks(StackName="x"))
    assert isinstance(error, OperationFailed) and f"({raised}: " in str(error), error
    assert "rerun" in str(error)


def test_an_endpoint_nobody_listens_on_is_exit_4() -> None:
    error = refused(lambda: cloudformation(f"http://{HOST}:{closed_port()}").describe_stacks(StackName="x"))
    assert isinstance(error, AccessError) and "cannot reach AWS" in str(error)


def test_tls_to_a_server_that_speaks_none_is_exit_4(bad_aws: Callable[[str], str]) -> None:
    plain = bad_aws("garbage").replace("http://", "https://")
    error = refused(lambda: cloudformation(plain).describe_stacks(StackName="x"))
    assert isinstance(error, AccessError) and "SSL" in str(error)


def test_a_proxy_that_refuses_is_exit_4() -> None:
    client = cloudformation(ENDPOINT, proxies={"https": f"http://{HOST}:{closed_port()}"})
    error = refused(lambda: client.describe_stacks(StackName="x"))
    assert isinstance(error, AccessError) and "proxy" in str(error).lower()


def test_a_connect_timeout_is_exit_4() -> None:
    """Loopback always connects, so the timeout is raised where the HTTP layer raises it: at the send."""
    client = cloudformation(ENDPOINT)

    def time_out(**_: Any) -> None:
        raise botocore_errors.ConnectTimeoutError(endpoint_url=ENDPOINT)

    client.meta.events.register("before-send.cloudformation.DescribeStacks", time_out)
    error = refused(lambda: client.describe_stacks(StackName="x"))
    assert isinstance(error, AccessError) and "Connect timeout" in str(error)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (botocore_errors.EndpointConnectionError(endpoint_url=ENDPOINT), AccessError),
        (botocore_errors.ConnectTimeoutError(endpoint_url=ENDPOINT), AccessError),
        (botocore_errors.ProxyConnectionError(proxy_url="http://proxy.internal:3128", error="refused"), AccessError),
        (botocore_errors.SSLError(endpoint_url=ENDPOINT, error="wrong version number"), AccessError),
        (botocore_errors.ConnectionClosedError(endpoint_url=ENDPOINT), OperationFailed),
        (botocore_errors.ReadTimeoutError(endpoint_url=ENDPOINT), OperationFailed),
        (botocore_errors.IncompleteReadError(actual_bytes=10, expected_bytes=4000), OperationFailed),
        (botocore_errors.ResponseStreamingError(error="reset"), OperationFailed),
        (botocore_errors.WaiterError(name="StackCreateComplete", reason="failure", last_response={}), OperationFailed),
        (botocore_errors.CredentialRetrievalError(provider="sso", error_msg="expired"), AccessError),
        (botocore_errors.TokenRetrievalError(provider="sso", error_msg="expired"), AccessError),
        (botocore_errors.NoCredentialsError(), AccessError),
        (botocore_errors.NoRegionError(), InputError),
        (botocore_errors.ParamValidationError(report="Invalid length for parameter StackName"), InputError),
        (botocore_errors.BotoCoreError(), OperationFailed),
    ],
    ids=lambda each: type(each).__name__,
)
def test_every_botocore_failure_has_its_documented_code(raised: Exception, expected: type[ApidError]) -> None:
    error = aws_failure(raised, "reading stack x")
    assert type(error) is expected and "\n" not in str(error), error


def test_a_parser_error_quoting_a_whole_page_is_cut_to_one_short_line() -> None:
    page = "Unable to parse response, invalid XML received:\nb'" + "<p>filler</p>\n" * 200 + "'"
    error = aws_failure(ResponseParserError(page), "executing the change set for apid-x")
    assert isinstance(error, OperationFailed) and "\n" not in str(error) and len(str(error)) < 400


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "ValidationError",
            "Stack:arn:aws:cloudformation:us-east-1:1:stack/x/1 is in UPDATE_IN_PROGRESS state and can not be updated.",
        ),
        ("ValidationError", "Stack [x] cannot be deleted while in status UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
        ("InvalidChangeSetStatus", "ChangeSet [arn:cs] cannot be executed in its current status of [OBSOLETE]"),
        ("ChangeSetNotFound", "ChangeSet [arn:cs] does not exist"),
        ("AlreadyExistsException", "ChangeSet apid-20261205 already exists"),
    ],
)
def test_cloudformation_busy_with_another_operation_is_exit_5(code: str, message: str) -> None:
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_stacks", code, message, 400)
        error = refused(lambda: client.describe_stacks(StackName="x"))
    assert isinstance(error, StateError) and "wait for it to finish (`apid status` shows when) and rerun" in str(error)
    assert "..;" not in str(error)


def test_lambda_busy_with_an_update_is_exit_5() -> None:
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "update_function_code",
            "ResourceConflictException",
            "The operation cannot be performed at this time. An update is in progress for resource: arn:fn",
            409,
        )
        error = refused(lambda: client.update_function_code(FunctionName="fn", ZipFile=b"x"))
    assert isinstance(error, StateError)


def test_any_other_refusal_is_the_operation_failing() -> None:
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_stacks", "ValidationError", "Template format error: unresolved", 400)
        error = refused(lambda: client.describe_stacks(StackName="x"))
    assert isinstance(error, OperationFailed) and str(error) == "reading stack x: Template format error: unresolved"
