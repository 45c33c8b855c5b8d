"""The modules `apid dev` copies into the project's interpreter need nothing of apid's own environment."""

import subprocess
import sys
from pathlib import Path

from api_direct.local.dev_launch import kit_modules, write_kit

#: What an environment that runs a FastAPI app need not have: apid's AWS, CLI and web dependencies.
ABSENT = ("boto3", "botocore", "aws_lambda_powertools", "aws_cdk", "jsii", "rich", "mangum", "stripe", "fastapi")

_IMPORT_WITHOUT = """
import sys
absent = set(sys.argv[2].split(","))

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in absent:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
sys.path.insert(0, sys.argv[1])
import api_direct.local.dev_server
assert api_direct.local.dev_server.__file__.startswith(sys.argv[1]), api_direct.local.dev_server.__file__
print(sorted(name for name in sys.modules if name.startswith("api_direct")))
"""


def test_the_kit_is_the_dev_server_and_the_pure_modules_it_imports() -> None:
    modules = set(kit_modules())
    assert {
        "api_direct",
        "api_direct.local.dev_server",
        "api_direct.project",
        "api_direct.runtime.key_check",
        "api_direct.runtime.usage_records",
    } <= modules
    assert not modules & {"api_direct.runtime.authorizer", "api_direct.runtime.usage_forwarder", "api_direct.cli"}


def test_the_kit_imports_without_apids_aws_or_cli_dependencies(tmp_path: Path) -> None:
    write_kit(tmp_path)
    assert (tmp_path / "api_direct" / "__init__.py").read_text().startswith('"""apid dev')
    result = subprocess.run(
        [sys.executable, "-I", "-c", _IMPORT_WITHOUT, str(tmp_path), ",".join(ABSENT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "api_direct.local.dev_server" in result.stdout
