"""`apid sandbox` on projects other than the example, through the real command (fewer calls than its default).

* ``apid init`` then ``apid sandbox`` in the new folder, as the README tells a creator;
* a richer project (tests/e2e/projects/rich_app: a lifespan loading data, a JSON
  body, PNG bytes, numpy bundled for Lambda), kept, its served API sent what
  clients send: bodies (binary too), HEAD, repeated headers, a body over the limit.

A module of its own, apart from the example's runs in tests/e2e/test_sandbox.py, so
the two halves can run on different workers.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from api_direct.cli.main import cli
from api_direct.local.rest_proxy import MAX_REQUEST_BYTES
from api_direct.local.sandbox import Endpoints
from tests.e2e.kept_sandbox import Fetched, fetch, run_kept_sandbox, summary


RICH_APP = Path(__file__).resolve().parent / "projects" / "rich_app"
#: A PNG's first bytes and two that are not UTF-8: a body that text handling would mangle.
BINARY = b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x80" * 64


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """``apid init text-tools && cd text-tools && apid sandbox``."""
    folder = tmp_path_factory.mktemp("scaffold")
    with pytest.MonkeyPatch.context() as env:
        env.chdir(folder)
        assert CliRunner().invoke(cli, ["init", "text-tools"]).exit_code == 0
        env.chdir(folder / "text-tools")
        return CliRunner().invoke(cli, ["sandbox", "--calls", "10", "--json"])


def test_a_new_project_from_apid_init_passes(scaffolded: Result) -> None:
    found = summary(scaffolded)
    assert found["ok"] and (found["calls"], found["mcp_tool_calls"]) == (10 + 2, 2)  # an agent calls both as tools
    assert "2 operation(s) to call: GET /hello/{who}, POST /stats" in scaffolded.stderr
    assert {check["name"]: check["actual"] for check in found["checks"]}["good calls answered 2xx"] == 7


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, dict[str, Any]]:
    """The rich project, kept; what its served API answered to each request the test sent."""
    seen: dict[str, Any] = {}

    def explore(endpoints: Endpoints) -> None:
        api, key = endpoints.gateway, endpoints.consumer_key
        seen["png"] = fetch(f"{api}/stations/lisbon/strip.png", key, headers=(("Accept", "image/png"),))
        seen["summary"] = fetch(
            f"{api}/summary",
            key,
            method="POST",
            body=b'{"values": [1, 2, 3, 4], "percentile": 50, "rounding": {"digits": 2}}',
            headers=(("Content-Type", "application/json"),),
        )
        seen["binary"] = fetch(
            f"{api}/checksum", key, method="POST", body=BINARY, headers=(("Content-Type", "application/octet-stream"),)
        )
        seen["head"] = fetch(f"{api}/stations", key, method="HEAD")
        seen["get"] = fetch(f"{api}/stations", key)
        seen["cookies"] = fetch(f"{api}/whoami", key, headers=(("X-Client", "test"), ("Cookie", "session=s-1")))
        seen["too large"] = fetch(f"{api}/checksum", key, method="POST", body=b"x" * (MAX_REQUEST_BYTES + 1))
        seen["outside the stage"] = fetch(api.rsplit("/", 1)[0] + "/stations", key)

    result = run_kept_sandbox(
        explore,
        calls=10,
        temp=tmp_path_factory.mktemp("rich-sandbox"),
        project=RICH_APP,
    )
    return result, seen


def test_a_project_with_a_lifespan_numpy_a_json_body_and_png_bytes_passes(rich: tuple[Result, dict[str, Any]]) -> None:
    result, _ = rich
    found = summary(result)
    assert found["ok"]
    assert (
        "6 operation(s) to call: GET /stations, GET /stations/{station_id}, GET /stations/{station_id}/strip.png, "
        "POST /summary, GET /whoami, POST /checksum"
    ) in result.stderr


def test_the_kept_api_passes_bodies_and_headers_both_ways(rich: tuple[Result, dict[str, Any]]) -> None:
    result, seen = rich
    png: Fetched = seen["png"]
    assert (png.status, png.body[:8], png.header_values("content-type")) == (200, b"\x89PNG\r\n\x1a\n", ["image/png"])
    assert (seen["summary"].status, json.loads(seen["summary"].body)) == (
        200,
        {"count": 4, "mean": 2.5, "std": 1.12, "percentile": 2.5},
    )
    assert json.loads(seen["binary"].body) == {
        "sha256": hashlib.sha256(BINARY).hexdigest(),
        "bytes": len(BINARY),
        "content_type": "application/octet-stream",
    }
    head, get = seen["head"], seen["get"]
    assert (head.status, head.body, get.status) == (200, b"", 200) and b"Oslo Blindern" in get.body
    assert head.header_values("content-length") == [str(len(get.body))]
    cookies = seen["cookies"]
    assert (cookies.status, json.loads(cookies.body)) == (200, {"client": "test", "session": "s-1"})
    assert [value.split(";")[0] for value in cookies.header_values("set-cookie")] == ["seen=1", "client=test"]
    assert (seen["too large"].status, seen["outside the stage"].status) == (413, 403)
    assert "curl -H 'x-api-key: <consumer key>' http://127.0.0.1:" in result.stderr
