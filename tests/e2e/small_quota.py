"""The weather example with a quota small enough to reach in a test: its paid plan (the one ``apid sandbox``
subscribes its consumer to) allows QUOTA calls a month, so an 80 % alert fires after a few dozen calls."""

import re
import shutil
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "weather_api"
QUOTA = 50


def small_quota_project(folder: Path) -> Path:
    """The weather example, its paid plan (the one the sandbox subscribes to) limited to QUOTA calls a month."""
    project = folder / "weather_api"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".apid", "__pycache__", ".pytest_cache"))
    toml = project / "apid.toml"
    text = toml.read_text()
    pro = text.index('name = "pro"')
    paid = re.sub(r"rate_limit = \d+", "rate_limit = 5", text[pro:], count=1)
    paid = re.sub(r"burst = \d+", "burst = 10", paid, count=1)
    paid = re.sub(r"monthly_quota = \d+", f"monthly_quota = {QUOTA}", paid, count=1)
    paid = re.sub(r"free_calls = \d+", "free_calls = 0", paid, count=1)
    toml.write_text(text[:pro] + paid)
    return project
