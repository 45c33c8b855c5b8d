"""Synthesize a creator's project into a cloud assembly, in this process.

No ``cdk`` CLI and no subprocess: the stack is built with the same constructs an
operator's ``cdk synth`` uses, and the result is read back from the assembly the
deploy engine then publishes and deploys (:func:`read_stack`, for any stack).
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from api_direct.project import Project
from api_direct.user_stack import UserApiStack


@dataclass(frozen=True)
class ControlPlaneRef:
    """Where an API reports to; absent when a creator uses API-Direct without one."""

    account_id: str
    bus_arn: str | None = None


@dataclass(frozen=True)
class FileAsset:
    """A file or folder the template needs in the asset bucket before it can deploy."""

    asset_id: str
    source: Path
    packaging: str  # "zip" (a folder to zip) or "file"
    bucket_name: str  # may hold ${AWS::AccountId} / ${AWS::Region} placeholders
    object_key: str


@dataclass(frozen=True)
class SynthesizedStack:
    stack_name: str
    template: dict[str, Any]
    template_path: Path
    assets: tuple[FileAsset, ...]
    #: Where the template itself goes when it is too large to send inline.
    template_asset: FileAsset

    @property
    def resource_count(self) -> int:
        return len(self.template.get("Resources", {}))


def synthesize_project(
    project: Project,
    outdir: Path,
    *,
    control_plane: ControlPlaneRef | None = None,
    retain_data: bool = False,
    bundle_cache_dir: Path | None = None,
) -> SynthesizedStack:
    """Build the project's UserApiStack into ``outdir`` and describe what came out."""
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    stack = UserApiStack(
        app,
        "UserApi",
        project=project,
        control_plane_account_id=control_plane.account_id if control_plane else None,
        control_plane_bus_arn=control_plane.bus_arn if control_plane else None,
        retain_data=retain_data,
        bundle_cache_dir=bundle_cache_dir,
    )
    return read_stack(app.synth(), stack.stack_name)


def read_stack(assembly: cdk.cx_api.CloudAssembly, stack_name: str) -> SynthesizedStack:
    """One stack of a synthesized assembly as the deploy engine takes it: its template and the assets it needs.

    The assets are read from the stack's asset manifest, so they name the bucket
    the stack's synthesizer was given (the link's, or the one an operator deploys from).
    """
    artifact = assembly.get_stack_by_name(stack_name)
    directory = Path(assembly.directory)
    assets = _file_assets(directory / f"{artifact.id}.assets.json", directory)
    [template_asset] = [a for a in assets if a.source.name == artifact.template_file]
    return SynthesizedStack(
        stack_name=stack_name,
        template=artifact.template,
        template_path=directory / artifact.template_file,
        assets=tuple(a for a in assets if a is not template_asset),
        template_asset=template_asset,
    )


def _file_assets(manifest_path: Path, directory: Path) -> list[FileAsset]:
    manifest = json.loads(manifest_path.read_text())
    return [
        FileAsset(
            asset_id=asset_id,
            source=directory / entry["source"]["path"],
            packaging=entry["source"].get("packaging", "file"),
            bucket_name=destination["bucketName"],
            object_key=destination["objectKey"],
        )
        for asset_id, entry in manifest.get("files", {}).items()
        for destination in entry["destinations"].values()
    ]
