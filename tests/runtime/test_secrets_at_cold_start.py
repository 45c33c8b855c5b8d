"""The generated handler reads its stage's secrets from Parameter Store (moto) before it imports the app, and a
failed read fails the startup as a failed lifespan does: logged without a value, 500 until a read succeeds."""

import hashlib
import importlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from api_direct.bundling.fastapi_code import ADAPTER_MODULE, HANDLER_MODULE, write_handler
from api_direct.local.rest_proxy import HttpRequest, RestProxy
from tests.aws_faults import ALWAYS, AwsFaults, aws_faults
from tests.runtime.emulated_aws import REGION

__all__ = ["aws_faults"]  # fixture

VALUE = "upstream-9fK2mQ7xLp3Vw8Zr"
PATH = "/apid/weather-api/prod"
#: Reads its secret when imported, as module-level configuration does.
READS_AT_IMPORT = """
import hashlib, os
from fastapi import FastAPI

TOKEN = os.environ["UPSTREAM_TOKEN"]
app = FastAPI()


@app.get("/token")
def token() -> dict:
    return {"sha256": hashlib.sha256(TOKEN.encode()).hexdigest(), "extra": os.environ.get("EXTRA_11")}
"""
#: Reads its secret per request, so it imports without it.
READS_PER_REQUEST = """
import hashlib, os
from fastapi import FastAPI

app = FastAPI()


@app.get("/token")
def token() -> dict:
    return {"sha256": hashlib.sha256(os.environ["UPSTREAM_TOKEN"].encode()).hexdigest()}
"""


@pytest.fixture
def cold_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Imports the generated handler of an app in ``tmp_path`` as Lambda's init does; afterwards, forgets the
    modules and the variables the handler set."""
    before = dict(os.environ)
    write_handler(tmp_path, "secret_app:app")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("APID_SECRETS_PATH", PATH)

    def start(app_source: str) -> Any:
        (tmp_path / "secret_app.py").write_text(app_source)
        return importlib.import_module(HANDLER_MODULE).handler

    yield start
    for module in (HANDLER_MODULE, ADAPTER_MODULE, "secret_app"):
        sys.modules.pop(module, None)
    for name in set(os.environ) - set(before):
        del os.environ[name]


def put(name: str, value: str) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name=name, Value=value, Type="SecureString")


def get_token(handler: Any) -> dict[str, Any]:
    return handler(RestProxy(stage="v1").event(HttpRequest("GET", "/token")), None)  # type: ignore[no-any-return]


def test_the_app_reads_its_stage_s_secrets_at_import(cold_start: Any, caplog: Any, capsys: Any) -> None:
    put(f"{PATH}/UPSTREAM_TOKEN", VALUE)
    for n in range(12):  # more than one page of GetParametersByPath (10 a page)
        put(f"{PATH}/EXTRA_{n}", f"extra {n}")
    put("/apid/weather-api/dev/OTHER_STAGE", "not prod's")
    put(f"{PATH}/nested/DEEPER", "not read: the read is not recursive")
    answer = get_token(cold_start(READS_AT_IMPORT))
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"]) == {"sha256": hashlib.sha256(VALUE.encode()).hexdigest(), "extra": "extra 11"}
    assert "OTHER_STAGE" not in os.environ and "DEEPER" not in os.environ
    assert VALUE not in caplog.text + str(capsys.readouterr())


def test_a_failed_read_is_logged_without_a_value_answers_500_and_is_tried_again(
    cold_start: Any, aws_faults: AwsFaults, caplog: Any, capsys: Any
) -> None:
    put(f"{PATH}/UPSTREAM_TOKEN", VALUE)
    aws_faults.fail("GetParametersByPath", "AccessDeniedException", times=ALWAYS)
    handler = cold_start(READS_PER_REQUEST)
    assert f"Could not read the API's secrets under {PATH}" in caplog.text
    failed = get_token(handler)
    assert failed["statusCode"] == 500 and json.loads(failed["body"])["message"].startswith("Internal server error")
    aws_faults.clear()
    answer = get_token(handler)  # as a re-run Lambda init would, the next request reads them again
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"]) == {"sha256": hashlib.sha256(VALUE.encode()).hexdigest()}
    assert VALUE not in caplog.text + str(capsys.readouterr())
