"""Synthesize a creator's project into a cloud assembly, in this process.

No ``cdk`` CLI and no subprocess: the stack is built with the same constructs an
operator's ``cdk synth`` uses, and the result is read back from the assembly the
deploy engine then publishes and deploys (:func:`read_stack`, for any stack).

A synthesis leaves a record of its inputs' fingerprint (:mod:`.fingerprint`) in
the assembly folder. The next one with the same fingerprint reads that assembly
back instead of synthesizing again, without starting jsii at all: an unchanged
``apid plan`` or ``apid deploy`` spends its time on AWS, not on seconds of CDK.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api_direct.deploy.fingerprint import synthesis_fingerprint
from api_direct.project import Project

#: The record of the synthesis that made an assembly folder: its fingerprint and stack.
SYNTHESIS_RECORD = "apid-synthesis.json"


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
    #: True when the assembly of an earlier synthesis with the same inputs was read back.
    reused: bool = False

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
    """Build the project's UserApiStack into ``outdir`` and describe what came out.

    When ``outdir`` holds the assembly of a synthesis with the same fingerprint
    (and all of it is still there), that assembly is the answer.
    """
    fingerprint = synthesis_fingerprint(project, settings=(
        f"control plane {control_plane!r}", f"retain data {retain_data}",
    ))
    reused = _reusable(outdir, fingerprint, project.stack_name)
    if reused is not None:
        return reused
    record = outdir / SYNTHESIS_RECORD
    record.unlink(missing_ok=True)  # a synthesis that fails half-way must not leave the old record to match
    import aws_cdk as cdk  # here, not at the top: a reused assembly never starts jsii

    from api_direct.user_stack import UserApiStack

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
    synthesized = read_stack(Path(app.synth().directory), stack.stack_name)
    temporary = record.with_suffix(".tmp")
    temporary.write_text(json.dumps({"fingerprint": fingerprint, "stack_name": stack.stack_name}))
    os.replace(temporary, record)
    return synthesized


def _reusable(outdir: Path, fingerprint: str, stack_name: str) -> SynthesizedStack | None:
    """The assembly in ``outdir`` if its record has this fingerprint and every file it names is there."""
    try:
        record = json.loads((outdir / SYNTHESIS_RECORD).read_text())
        if record != {"fingerprint": fingerprint, "stack_name": stack_name}:
            return None
        stack = read_stack(outdir, stack_name)
    except (OSError, ValueError, KeyError):
        return None
    if not all(asset.source.exists() for asset in (*stack.assets, stack.template_asset)):
        return None
    return SynthesizedStack(stack.stack_name, stack.template, stack.template_path, stack.assets,
                            stack.template_asset, reused=True)


def read_stack(directory: Path, stack_name: str) -> SynthesizedStack:
    """One stack of the assembly in ``directory`` as the deploy engine takes it: its template and the assets it needs.

    Read from the assembly's files (``manifest.json``, the template, the stack's
    asset manifest), not through jsii, so reading an assembly back costs nothing.
    The assets name the bucket the stack's synthesizer was given (the link's, or
    the one an operator deploys from).
    """
    manifest = json.loads((directory / "manifest.json").read_text())
    [(artifact_id, artifact)] = [
        (artifact_id, artifact) for artifact_id, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
        and artifact.get("properties", {}).get("stackName", artifact_id) == stack_name
    ]
    template_file = artifact["properties"]["templateFile"]
    assets = _file_assets(directory / f"{artifact_id}.assets.json", directory)
    [template_asset] = [a for a in assets if a.source.name == template_file]
    return SynthesizedStack(
        stack_name=stack_name,
        template=json.loads((directory / template_file).read_text()),
        template_path=directory / template_file,
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
