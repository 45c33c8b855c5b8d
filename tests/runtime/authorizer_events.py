"""What API Gateway hands the key authorizer, for the tests of the authorizer and of what it decides."""

from typing import Any

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/items/42"
STAGE_WILDCARD = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/*"


def request_event(headers: dict[str, str] | None, method_arn: str = METHOD_ARN) -> dict[str, Any]:
    """A REST API REQUEST authorizer event, trimmed to what API Gateway always sends."""
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "resource": "/items/{id}",
        "path": "/items/42",
        "httpMethod": "GET",
        "headers": headers,
        "queryStringParameters": {},
        "pathParameters": {"id": "42"},
        "stageVariables": {},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "stage": "prod",
            "requestId": "req-1",
            "httpMethod": "GET",
            "resourcePath": "/items/{id}",
        },
    }
