"""Synthesize a creator's project into a cloud assembly, in this process.

No ``cdk`` CLI and no subprocess: the stack is built with the same constructs an
operator's ``cdk synth`` uses, and the result is read back from the assembly the
deploy engine then publishes and deploys (:func:`read_stack`, for any stack).

A synthesis leaves a record of its inputs' fingerprint (:mod:`.fingerprint`) in
the assembly folder, and the next one starts from it, without starting jsii when
it can:

* nothing changed: the assembly is read back as it is, so an unchanged
  ``apid plan`` or ``apid deploy`` spends its time on AWS, not on CDK;
* only the app's source files changed: the app's bundle is rebuilt
  (:meth:`FastApiCode.bundle_spec`, as ``FastApiFunction`` builds it) and the assembly is
  patched to name it: its asset id is the SHA-256 of the bundle's hash (the
  construct gives CDK that hash), the template asset's id the SHA-256 of the
  template's bytes, as CDK derives both. The inner loop of edit and
  ``apid deploy --hotswap`` then never waits for jsii. The app's version is
  renamed with it (:func:`~api_direct.contracts.app_version_logical_id`), so new
  code still publishes a version;
* anything else: a full synthesis.

An assembly is read back only if its app passed the import check
(:mod:`.app_check`): the record holds that verdict (and the WebSocket routes
the import found, so a reused assembly still warns about them) from the moment
it is read. A record without one (a deploy that failed before reading it) sends
the next synthesis through the check again.

``tests/deploy/test_synthesis.py`` checks that a patched assembly is, file for
file, the one a full synthesis writes for the same project.
"""

import hashlib
import json
import os
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from api_direct.bundling.build import Bundle, build_bundle, bundles_told_to
from api_direct.bundling.fastapi_code import project_bundle_spec
from api_direct.bundling.runtime_code import platform_bundle_specs
from api_direct.bundling.slimming import folder_size
from api_direct.deploy.app_check import AppCheck, app_warnings, start_app_check
from api_direct.deploy.fingerprint import SynthesisFingerprint, synthesis_fingerprint
from api_direct.deploy.zips import zip_ahead
from api_direct.canary import Canary
from api_direct.contracts import CustomDomainTarget, app_version_logical_id
from api_direct.errors import InputError
from api_direct.project import Project
from api_direct.runtime.route_weights import RouteConflict, RouteWeights, gateway_resources

#: When :func:`synthesize_project` reads the app check's verdict.
AppCheckMode = Literal["now", "deferred", "skip"]
#: The record of the synthesis that made an assembly folder: fingerprints, stack, the app bundle's hash
#: and, once the app passed its check, what the check found (:data:`APP_VERDICT`).
SYNTHESIS_RECORD = "apid-synthesis.json"
#: The record's key for a passed app check: ``{"websocket_routes": [...]}``.
APP_VERDICT = "app_check"
#: CDK's context key that leaves assets where they are: the assembly names each bundle's folder in the bundle
#: cache (content-addressed, never changed in place) instead of a copy CDK would make of it.
STAGING_OFF = "aws:cdk:disable-asset-staging"


@dataclass(frozen=True)
class ControlPlaneRef:
    """Where an API reports to; absent when a creator uses API-Direct without one."""

    account_id: str
    bus_arn: str | None = None
    #: The marketplace's origin, whose console may call the API from a browser (CORS); ``None``: no browser may.
    marketplace_origin: str | None = None


@dataclass(frozen=True)
class StackOptions:
    """What a synthesis passes to the stack besides the project."""

    control_plane: ControlPlaneRef | None
    retain_data: bool
    custom_domain: CustomDomainTarget | None
    release: str | None
    canary: Canary | None


@dataclass(frozen=True)
class AppRecord:
    """What names the app's code and version in an assembly: the bundle's hash and the digest of the
    version's settings (together, the version's logical id)."""

    bundle_hash: str
    config_digest: str


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
    #: The stack's asset manifest, relative to the assembly folder.
    assets_manifest: str = ""
    #: True when the assembly of an earlier synthesis with the same inputs was read back.
    reused: bool = False
    #: The app check's verdict, when the caller asked to read it later (``app_check="deferred"``).
    app_check: "PendingAppCheck | None" = field(default=None, compare=False, repr=False)
    #: What the creator should hear about the app before it ships (the check being off, its WebSocket
    #: routes); while the verdict is pending, :attr:`PendingAppCheck.warnings` has them once it is read.
    app_warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def resource_count(self) -> int:
        return len(self.template.get("Resources", {}))

    @property
    def bundle_bytes(self) -> int:
        """The unzipped size of its bundles (the folders it ships), as Lambda unzips them."""
        return sum(folder_size(asset.source) for asset in self.assets if asset.source.is_dir())


@dataclass
class PendingAppCheck:
    """A verdict a deploy reads as late as it safely can: before its first change to the account.

    The assembly and its record are already written when this is read: a "no"
    removes the record, a "yes" is written into it, so no later run trusts that
    assembly without a verdict.
    """

    check: AppCheck
    project: Project
    bundle: Path
    record: Path
    #: The app's warnings (see :attr:`SynthesizedStack.app_warnings`), once :meth:`verify` passed.
    warnings: tuple[str, ...] = ()

    def verify(self) -> None:
        try:
            routes = self.check.result(self.bundle)
        except InputError:
            self.record.unlink(missing_ok=True)
            raise
        self.warnings = app_warnings(self.project, routes)
        _record_app_verdict(self.record, routes)

    def cancel(self) -> None:
        """The deploy failed before reading the verdict: stop the import (a no-op once read)."""
        self.check.cancel()


def synthesize_project(
    project: Project,
    outdir: Path,
    *,
    control_plane: ControlPlaneRef | None = None,
    retain_data: bool = False,
    app_check: AppCheckMode = "now",
    region: str | None = None,
    custom_domain: CustomDomainTarget | None = None,
    release: str | None = None,
    canary: Canary | None = None,
    shipping: bool = False,
) -> SynthesizedStack:
    """Build the project's UserApiStack into ``outdir`` and describe what came out.

    Starts from the assembly ``outdir`` already holds where its record allows
    (see the module's docstring). The app is checked (:mod:`.app_check`) whenever
    its code may have changed: ``"now"``, before this returns; ``"deferred"``, with
    the verdict left pending in :attr:`SynthesizedStack.app_check` for a deploy to
    read after its first AWS calls and before its first change (the planner's
    ``CheckApp`` step); ``"skip"`` for a synthesis that ships no code (a destroy
    that keeps the data must not need a working app). ``runtime.check_import =
    false`` skips it always. ``region`` is where the stack deploys, if known: the
    region the app is imported with. ``custom_domain`` is the project's domain once
    its certificate is issued (:mod:`.domains`); until then the stack has none.
    ``release`` and ``canary`` go to the stack as :class:`~api_direct.user_stack.UserApiStack` takes them.
    ``shipping``: a deploy will upload the result, so each bundle starts zipping as soon as it is built
    (:func:`~api_direct.deploy.zips.zip_ahead`), all of them before jsii starts; a reused assembly's, at once.
    """
    try:  # before anything is built: the one-line reason, not the construct's traceback
        gateway_resources(RouteWeights.of(project.config.routes))
    except RouteConflict as error:
        raise InputError(str(error)) from None
    checking = app_check != "skip" and project.runtime.check_import
    fingerprint = synthesis_fingerprint(
        project,
        settings=(
            f"control plane {control_plane!r}",
            f"retain data {retain_data}",
            f"custom domain {custom_domain!r}",
            f"release {release!r}",
            f"canary {canary}",
        ),
    )
    record = _read_record(outdir)
    verdict = record.get(APP_VERDICT)
    if (
        record.get("stack_name") == project.stack_name
        and record.get("fingerprint") == fingerprint.full
        and (isinstance(verdict, dict) or not checking)
    ):
        reused = _reusable(outdir, project.stack_name)
        if reused is not None:  # its app passed the check when the verdict was recorded
            routes = tuple(verdict.get("websocket_routes", ())) if isinstance(verdict, dict) else ()
            if shipping:  # no bundle was built, so none was zipped; those zipped before are not again
                for asset in reused.assets:
                    if asset.packaging == "zip":
                        zip_ahead(asset.asset_id, asset.source)
            return replace(reused, app_warnings=app_warnings(project, routes))
    check = start_app_check(project, region=region) if checking else None
    options = StackOptions(control_plane, retain_data, custom_domain, release, canary)
    try:
        with bundles_told_to(_zip_ahead) if shipping else nullcontext():
            return _synthesize_anew(project, outdir, record, fingerprint, check, app_check, options)
    except BaseException:
        if check is not None:
            check.cancel()
        raise


def _zip_ahead(bundle: Bundle) -> None:
    zip_ahead(_asset_id(bundle.content_hash), bundle.path)


def _synthesize_anew(
    project: Project,
    outdir: Path,
    record: dict[str, Any],
    fingerprint: SynthesisFingerprint,
    check: AppCheck | None,
    app_check: AppCheckMode,
    options: StackOptions,
) -> SynthesizedStack:
    """The app's bundle built, then the assembly patched to name it, or else synthesized in full."""
    bundle = build_bundle(project_bundle_spec(project))
    pending = (
        PendingAppCheck(check, project, bundle.path, outdir / SYNTHESIS_RECORD)
        if check and app_check == "deferred"
        else None
    )
    read_now = check if app_check == "now" else None
    synthesized = None
    if record.get("stack_name") == project.stack_name and record.get("structure") == fingerprint.structure:
        checked = read_now.result(bundle.path) if read_now is not None else None
        synthesized = _with_new_app_code(outdir, project, record, fingerprint, bundle, checked)
    if synthesized is None:
        synthesized = _synthesize(project, outdir, fingerprint, read_now, bundle, options)
    warnings = () if pending else app_warnings(project, read_now.result(bundle.path) if read_now else ())
    return replace(synthesized, app_check=pending, app_warnings=warnings)


def _synthesize(
    project: Project,
    outdir: Path,
    fingerprint: SynthesisFingerprint,
    check: AppCheck | None,
    bundle: Bundle,
    options: "StackOptions",
) -> SynthesizedStack:
    """A full synthesis; jsii starts while the app check (if read here) finishes, and nothing
    is written before its verdict."""
    for spec in platform_bundle_specs(mcp=project.config.mcp.enabled):
        build_bundle(spec)  # before jsii starts, as the constructs will find them: a deploy zips them meanwhile
    import aws_cdk as cdk  # here, not at the top: the paths above never start jsii

    from api_direct.user_stack import UserApiStack

    routes = check.result(bundle.path) if check is not None else None
    (outdir / SYNTHESIS_RECORD).unlink(missing_ok=True)  # a synthesis that fails half-way must leave no record
    app = cdk.App(
        outdir=str(outdir),
        analytics_reporting=False,
        # The template is ours alone (a project adds no constructs to it), and every shape it takes is checked by
        # cfn-lint, checkov and cdk-nag in our tests; CDK's built-in validation would only repeat that, as warnings
        # nothing reads, for most of the synthesis's time.
        builtin_cloud_formation_validation=False,
        context={STAGING_OFF: True},
    )
    stack = UserApiStack(
        app,
        "UserApi",
        project=project,
        control_plane_account_id=options.control_plane.account_id if options.control_plane else None,
        control_plane_bus_arn=options.control_plane.bus_arn if options.control_plane else None,
        retain_data=options.retain_data,
        custom_domain=options.custom_domain,
        release=options.release,
        canary=options.canary,
        marketplace_origin=options.control_plane.marketplace_origin if options.control_plane else None,
    )
    synthesized = read_stack(Path(app.synth().directory), stack.stack_name)
    _write_record(
        outdir,
        fingerprint,
        stack.stack_name,
        AppRecord(stack.app.bundle.content_hash, stack.live.config_digest),
        routes,
    )
    return synthesized


def _read_record(outdir: Path) -> dict[str, Any]:
    try:
        record = json.loads((outdir / SYNTHESIS_RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_record(
    outdir: Path,
    fingerprint: SynthesisFingerprint,
    stack_name: str,
    app: "AppRecord",
    websocket_routes: tuple[str, ...] | None,
) -> None:
    """Write the record; ``websocket_routes`` is None while the app's verdict is not read (or not asked for)."""
    record: dict[str, Any] = {
        "fingerprint": fingerprint.full,
        "structure": fingerprint.structure,
        "stack_name": stack_name,
        "app_bundle": app.bundle_hash,
        "app_config": app.config_digest,
    }
    if websocket_routes is not None:
        record[APP_VERDICT] = {"websocket_routes": list(websocket_routes)}
    _replace_record(outdir / SYNTHESIS_RECORD, record)


def _record_app_verdict(path: Path, websocket_routes: tuple[str, ...]) -> None:
    """Add a passed app check to the record at ``path``, if there still is one."""
    record = _read_record(path.parent)
    if record:
        _replace_record(path, {**record, APP_VERDICT: {"websocket_routes": list(websocket_routes)}})


def _replace_record(path: Path, record: dict[str, Any]) -> None:
    temporary = path.with_name(f"{path.name}.tmp")
    temporary.write_text(json.dumps(record))
    os.replace(temporary, path)


def _reusable(outdir: Path, stack_name: str) -> SynthesizedStack | None:
    """The assembly in ``outdir``, if every file it names is still there."""
    try:
        stack = read_stack(outdir, stack_name)
    except (OSError, ValueError, KeyError):
        return None
    if not all(asset.source.exists() for asset in (*stack.assets, stack.template_asset)):
        return None
    return replace(stack, reused=True)


def _with_new_app_code(
    outdir: Path,
    project: Project,
    record: dict[str, Any],
    fingerprint: SynthesisFingerprint,
    bundle: Bundle,
    websocket_routes: tuple[str, ...] | None,
) -> SynthesizedStack | None:
    """The assembly patched to name the app's rebuilt bundle; None if it is not the one the record describes."""
    previous = _reusable(outdir, project.stack_name)
    old_bundle = str(record.get("app_bundle"))
    old_asset = _asset_id(old_bundle)
    if previous is None or (old_asset, old_bundle) not in {(a.asset_id, a.source.name) for a in previous.assets}:
        return None  # not an assembly naming the bundle's own folder (one from before staging was off)
    template = previous.template_path.read_bytes()
    if _sha256(template) != previous.template_asset.asset_id:
        return None  # not the template-asset naming this patch knows
    new_asset = _asset_id(bundle.content_hash)
    config = str(record.get("app_config"))
    old_version = app_version_logical_id(old_bundle, config)
    if old_version.encode() not in template:
        return None
    new_version = app_version_logical_id(bundle.content_hash, config)
    patched_template = template.replace(old_asset.encode(), new_asset.encode()).replace(
        old_version.encode(), new_version.encode()
    )
    swaps = {
        old_asset: new_asset,
        old_version: new_version,
        _sha256(template): _sha256(patched_template),
        old_bundle: bundle.content_hash,  # the asset's source: the bundle's folder, named by its hash
    }
    destinations = _destination_swaps(outdir / previous.assets_manifest, swaps)
    if destinations is None:
        return None
    swaps.update(destinations)
    (outdir / SYNTHESIS_RECORD).unlink()  # until the patch is whole, the folder matches no record
    for path in sorted(outdir.glob("*.json")):
        text = patched_template.decode() if path == previous.template_path else path.read_text()
        for old, new in swaps.items():
            text = text.replace(old, new)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text)
        os.replace(temporary, path)
    _write_record(outdir, fingerprint, project.stack_name, AppRecord(bundle.content_hash, config), websocket_routes)
    return read_stack(outdir, project.stack_name)


def _destination_swaps(manifest: Path, swaps: dict[str, str]) -> dict[str, str] | None:
    """New ids of the asset destinations the swaps change: CDK ends each with 8 hex of its JSON's SHA-256.

    None if a destination id is not of that form, so the caller synthesizes in full.
    """
    renamed: dict[str, str] = {}
    for entry in json.loads(manifest.read_text()).get("files", {}).values():
        for destination_id, destination in entry["destinations"].items():
            before = json.dumps(destination, separators=(",", ":"), ensure_ascii=False)
            if destination_id[-9:] != f"-{_sha256(before.encode())[:8]}":
                return None
            after = before
            for old, new in swaps.items():
                after = after.replace(old, new)
            if after != before:
                renamed[destination_id] = f"{destination_id[:-8]}{_sha256(after.encode())[:8]}"
    return renamed


def _asset_id(custom_hash: str) -> str:
    """CDK's id for an asset staged with ``AssetHashType.CUSTOM`` and this hash
    (as ``BundledFunction`` stages bundles)."""
    return _sha256(custom_hash.encode())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_stack(directory: Path, stack_name: str) -> SynthesizedStack:
    """One stack of the assembly in ``directory`` as the deploy engine takes it: its template and the assets it needs.

    Read from the assembly's files (``manifest.json``, the template, the stack's
    asset manifest), not through jsii, so reading an assembly back costs nothing.
    The assets name the bucket the stack's synthesizer was given (the link's, or
    the one an operator deploys from).
    """
    manifest = json.loads((directory / "manifest.json").read_text())
    [(artifact_id, artifact)] = [
        (artifact_id, artifact)
        for artifact_id, artifact in manifest["artifacts"].items()
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
        assets_manifest=f"{artifact_id}.assets.json",
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
