"""What every command receives: the global options, parsed once."""

from dataclasses import dataclass
from pathlib import Path

from api_direct.cli.output import Output


@dataclass
class Settings:
    """Global options, shared by every command through the Click context."""

    project_dir: Path
    profile: str | None
    region: str | None
    endpoint_url: str | None
    assume_yes: bool
    output: Output
