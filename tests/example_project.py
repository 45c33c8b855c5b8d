"""Where the repository and its example project are, a writable copy of the example, and the control plane
account the example's stacks are synthesized for."""

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = REPO / "examples" / "weather_api"
CONTROL_PLANE_ACCOUNT = "111111111111"
CONTROL_PLANE_BUS_ARN = f"arn:aws:events:us-east-1:{CONTROL_PLANE_ACCOUNT}:event-bus/api-direct-usage"


def copy_example(parent: Path) -> Path:
    """A writable copy of the example project in ``parent``, without what running it leaves (state, caches)."""
    target = parent / "weather_api"
    shutil.copytree(EXAMPLE_DIR, target, ignore=shutil.ignore_patterns(".apid", "__pycache__", ".pytest_cache"))
    return target
