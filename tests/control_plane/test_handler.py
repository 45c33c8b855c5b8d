"""The Lambda adapter: API Gateway REST events in, the app's responses out, docs under the stage."""

import re
from typing import Any

import pytest

from api_direct.control_plane.api.lambda_adapter import lambda_handler
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.local.rest_proxy import HttpRequest, RestProxy


def rest_event(path: str) -> dict[str, Any]:
    return RestProxy(stage="v1").event(HttpRequest("GET", path), source_ip="203.0.113.9")


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


def test_web_pages_keep_the_stage_once_in_their_links(handler: Any) -> None:
    """Behind the adapter ``path`` holds the stage as well as ``root_path`` (as ASGI has it): once, not twice."""
    request = HttpRequest("GET", "/web/dashboard")
    redirect = RestProxy(stage="v1").response(request, handler(rest_event(request.path), None))
    assert (redirect.status, redirect.header("location")) == (303, "/v1/web/sign-in?next=%2Fv1%2Fweb%2Fdashboard")
    page = handler(rest_event("/web/"), None)
    links = re.findall(r'(?:href|action|src)="(/[^"]*)"', page["body"])
    assert links and all(link.startswith("/v1/web/") for link in links), links
