"""`apid dev`'s MCP endpoint, driven by the MCP SDK's own client: tools from the app, calls metered as route calls."""

import json
import re
import socket
import time
from pathlib import Path

import httpx
import pytest

from api_direct.client.publishing import export_openapi
from api_direct.project import load_project
from api_direct.runtime.api_keys import generate_key
from api_direct.runtime.gateway_responses import INVALID_KEY, MISSING_KEY
from api_direct.runtime.mcp_tools import tools_of
from tests.dev_process import running_apid_dev
from tests.example_project import EXAMPLE_DIR
from api_direct.local.agent_calls import call_tools
from tests.mcp_client import text_of

KEY = generate_key()
#: How long a real `apid dev` may take to answer (it starts the CLI) before the test gives up.
START_SECONDS = 60
MCP_REQUEST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One `apid dev` of the example for the module: its base URL and its output file."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    output = tmp_path_factory.mktemp("dev") / "apid-dev.log"
    url = f"http://127.0.0.1:{port}"
    with running_apid_dev(EXAMPLE_DIR, port, KEY, output, reload=False) as process:
        deadline = time.monotonic() + START_SECONDS
        while "MCP (AI agents)" not in output.read_text() or not _answers(url):
            assert process.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        yield url, output


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/cities", trust_env=False, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def test_the_tools_are_the_app_s_operations_and_a_call_answers_as_its_route(served: tuple[str, Path]) -> None:
    url, output = served
    expected = tools_of(export_openapi(load_project(EXAMPLE_DIR)))
    cities = next(tool for tool in expected.tools if tool.path == "/cities")
    found = call_tools(f"{url}/mcp", KEY, [(cities.name, {})])
    [result] = found.results
    direct = httpx.get(f"{url}/cities", headers={"x-api-key": KEY}, trust_env=False)
    assert found.listed == tuple(tool.name for tool in expected.tools)
    assert not result.is_error and json.loads(text_of(result)) == direct.json() == result.structured_content
    assert f"MCP (AI agents): {url}/mcp" in output.read_text()


def test_each_tool_call_is_metered_as_its_route_and_mcp_itself_never(served: tuple[str, Path]) -> None:
    url, output = served
    before = output.read_text()
    expected = tools_of(export_openapi(load_project(EXAMPLE_DIR)))
    cities = next(tool for tool in expected.tools if tool.path == "/cities")
    call_tools(f"{url}/mcp", KEY, [(cities.name, {}), (cities.name, {})])
    deadline = time.monotonic() + 10
    while len(re.findall(r"^GET /cities  200", output.read_text()[len(before) :], re.MULTILINE)) < 2:
        assert time.monotonic() < deadline, output.read_text()
        time.sleep(0.1)
    new = output.read_text()[len(before) :]
    assert len(re.findall(r"^GET /cities  200  \d+ ms  billable 1  \(plan free\)$", new, re.MULTILINE)) == 2
    mcp_lines = re.findall(r"^POST /mcp  (\d+)  \d+ ms  billable (\d+)  \((.*)\)$", new, re.MULTILINE)
    assert mcp_lines and all(billable == "0" and "MCP" in who for _, billable, who in mcp_lines), new


def test_bad_arguments_and_unknown_tools_are_error_results_and_the_server_goes_on(served: tuple[str, Path]) -> None:
    url, _ = served
    expected = tools_of(export_openapi(load_project(EXAMPLE_DIR)))
    with_path = next(tool for tool in expected.tools if any(p.location == "path" for p in tool.parameters))
    cities = next(tool for tool in expected.tools if tool.path == "/cities")
    found = call_tools(
        f"{url}/mcp",
        KEY,
        [
            (with_path.name, {}),
            (with_path.name, {"city_id": ["not", "a", "string"]}),
            ("no_such_tool", {}),
            (cities.name, {}),
        ],
    )
    missing, wrong_type, unknown, fine = found.results
    assert missing.is_error and "required" in text_of(missing)
    assert wrong_type.is_error and "city_id" in text_of(wrong_type)
    assert unknown.is_error and "unknown tool" in text_of(unknown)
    assert not fine.is_error


def test_mcp_without_a_key_is_401_and_with_another_key_403(served: tuple[str, Path]) -> None:
    url, _ = served
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    without = httpx.post(f"{url}/mcp", json=MCP_REQUEST, headers=headers, trust_env=False)
    other = httpx.post(
        f"{url}/mcp", json=MCP_REQUEST, headers={**headers, "x-api-key": generate_key()}, trust_env=False
    )
    assert (without.status_code, without.text) == (MISSING_KEY.status, MISSING_KEY.body())
    assert (other.status_code, other.text) == (INVALID_KEY.status, INVALID_KEY.body())


def test_the_app_s_document_is_read_with_the_mcp_server_s_token_only(served: tuple[str, Path]) -> None:
    url, _ = served
    guessed = httpx.get(f"{url}/.apid/openapi", headers={"x-apid-dev-token": "guess"}, trust_env=False)
    assert guessed.status_code == MISSING_KEY.status  # not the document: a request like any other, without a key
