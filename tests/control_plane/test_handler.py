"""The Lambda adapter: API Gateway REST events in, the app's responses out, docs under the stage."""

from typing import Any

import pytest

from api_direct.control_plane.api.lambda_adapter import lambda_handler
from api_direct.control_plane.api.settings import ControlPlaneSettings


def rest_event(path: str) -> dict[str, Any]:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": {"Host": "x.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": "GET",
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": "r-1",
            "identity": {"sourceIp": "203.0.113.9"},
        },
    }


@pytest.fixture
def handler(settings: ControlPlaneSettings, aws: Any) -> Any:
    return lambda_handler(settings)


def test_docs_fetch_the_openapi_document_inside_the_stage(handler: Any) -> None:
    response = handler(rest_event("/docs"), None)
    assert response["statusCode"] == 200
    assert "'/v1/openapi.json'" in response["body"]


def test_routes_still_match_without_the_stage(handler: Any) -> None:
    response = handler(rest_event("/config"), None)
    assert response["statusCode"] == 200 and '"app_client_id"' in response["body"]
    assert handler(rest_event("/accounts"), None)["statusCode"] == 401
