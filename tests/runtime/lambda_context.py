"""A stand-in for the context Lambda passes a handler, for calling handlers outside Lambda."""

from dataclasses import dataclass

from tests.runtime.emulated_aws import REGION


@dataclass
class FakeLambdaContext:
    """The attributes of a Lambda context that Powertools' inject_lambda_context reads."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
