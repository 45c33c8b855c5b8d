"""Where the creator's own credentials come from: kept apart from boto3, which takes 0.4 s to import.

Every ``apid`` command parses these options; only those that call AWS load boto3
(:mod:`api_direct.deploy.aws`), so ``apid synth`` and ``apid dev`` start faster.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class AwsTarget:
    """Where the creator's own credentials come from and which endpoint/region to use."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
