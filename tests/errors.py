"""What every refusal must look like: the checks the bad-input tests share.

A CLI refusal is one ``Error:`` line on stderr (progress lines may come before it),
a non-zero exit code that ``--help`` documents (never 1, which means a bug), and no
traceback. An API refusal is a 4xx ``application/problem+json`` whose ``detail`` is
one line. Either must leave things as they were: :func:`files` is what a project
folder held, to compare before and after.
"""

import hashlib
import re
from pathlib import Path
from typing import Any

from click.testing import Result

from api_direct.cli.main import EXIT_CODES_HELP

#: The exit codes ``apid --help`` documents, but 0 (success) and 1 (a bug).
DOCUMENTED_FAILURES = {int(code) for code in re.findall(r"^\s+(\d+)\s", EXIT_CODES_HELP, re.MULTILINE)} - {0, 1}


def one_line_error(result: Result, code: int, *fragments: str) -> str:
    """The error line, after checking ``result`` refused as documented and said each of ``fragments``."""
    assert result.exit_code == code, result.output
    assert code in DOCUMENTED_FAILURES, f"exit code {code} is not documented in `apid --help`"
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.splitlines()
    assert lines and lines[-1].startswith("Error: "), result.stderr
    assert [line for line in lines if line.startswith("Error: ")] == [lines[-1]], result.stderr
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]
    return lines[-1]


def one_line_problem(response: Any, status: int, *fragments: str) -> str:
    """The problem's detail, after checking ``response`` is a ``status`` problem+json saying each of ``fragments``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    problem = response.json()
    assert problem["status"] == status and problem["title"], problem
    detail = str(problem["detail"])
    assert "\n" not in detail and "Traceback" not in detail, detail
    for fragment in fragments:
        assert fragment in detail, detail
    return detail


def files(root: Path, *, except_in: str | None = None) -> dict[str, str]:
    """Every file under ``root`` with the SHA-256 of its bytes; none below a folder named ``except_in``."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and except_in not in path.parts
    }
