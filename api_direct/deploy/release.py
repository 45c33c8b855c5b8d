"""Which release a deploy ships: the project's git commit and who deployed it, as one line.

It names the version the deploy publishes (its description, and the app's
``APID_RELEASE``), so ``apid versions`` can say what each one was and a rollback
target can be chosen by commit. Read from git and the environment, never from AWS,
so a synthesis still fails on a bad project before any AWS call.
"""

import getpass
import os
import subprocess
from pathlib import Path

#: Lambda's limit on a version's description.
MAX_LENGTH = 256


def release_of(project_root: Path) -> str:
    """``"<commit>[-dirty] by <who>"``, or ``"by <who>"`` outside a git work tree."""
    commit = _git(project_root, "rev-parse", "--short=12", "HEAD")
    if commit and _git(project_root, "status", "--porcelain", "--untracked-files=no"):
        commit += "-dirty"
    text = f"{commit} by {deployer(project_root)}" if commit else f"by {deployer(project_root)}"
    return text[:MAX_LENGTH]


def deployer(project_root: Path) -> str:
    """Who is deploying: the GitHub user in Actions, else git's ``user.email``, else the login name."""
    if os.environ.get("GITHUB_ACTIONS") == "true" and os.environ.get("GITHUB_ACTOR"):
        return os.environ["GITHUB_ACTOR"]
    return _git(project_root, "config", "user.email") or getpass.getuser()


def _git(root: Path, *args: str) -> str:
    """git's trimmed output, or "" when git is missing or ``root`` is no work tree."""
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""
