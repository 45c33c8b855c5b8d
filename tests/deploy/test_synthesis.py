"""Synthesis reads back the last assembly when nothing it depends on changed, and only then."""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_direct.deploy import fingerprint, synthesis
from api_direct.deploy.synthesis import SYNTHESIS_RECORD, ControlPlaneRef, SynthesizedStack, synthesize_project
from api_direct.errors import InputError
from api_direct.project import Project, load_project
from tests.example_project import CONTROL_PLANE_ACCOUNT, CONTROL_PLANE_BUS_ARN, copy_example

CONTROL_PLANE = ControlPlaneRef(CONTROL_PLANE_ACCOUNT, CONTROL_PLANE_BUS_ARN)


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example(tmp_path_factory.mktemp("synthesis"))


@pytest.fixture(scope="module")
def first(project_dir: Path) -> SynthesizedStack:
    """The one real synthesis the module's reuse checks compare against."""
    return synthesize_project(
        load_project(project_dir),
        project_dir / ".apid" / "cdk.out",
        control_plane=CONTROL_PLANE,
    )


class NoSynthesis(AssertionError):
    pass


@pytest.fixture
def no_jsii(first: SynthesizedStack, project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to build the stack fails the test; the first synthesis's record is put back after it."""
    import api_direct.user_stack as user_stack

    def refuse(*_: object, **__: object) -> None:
        raise NoSynthesis("synthesized although nothing changed")

    monkeypatch.setattr(user_stack, "UserApiStack", refuse)
    record = project_dir / ".apid" / "cdk.out" / SYNTHESIS_RECORD
    kept = record.read_text()
    yield
    record.write_text(kept)


def synthesize(project: Project, **options: object) -> SynthesizedStack:
    return synthesize_project(
        project, project.root / ".apid" / "cdk.out", **{"control_plane": CONTROL_PLANE, **options}
    )  # type: ignore[arg-type]


def test_the_first_synthesis_records_its_fingerprint(first: SynthesizedStack, project_dir: Path) -> None:
    assert not first.reused
    record = json.loads((project_dir / ".apid" / "cdk.out" / SYNTHESIS_RECORD).read_text())
    assert record["stack_name"] == "apid-weather-api" and len(record["fingerprint"]) == 64


def test_an_unchanged_project_reads_the_assembly_back_without_jsii(
    first: SynthesizedStack, project_dir: Path, no_jsii: None
) -> None:
    again = synthesize(load_project(project_dir))
    assert again.reused
    assert (again.template, again.assets, again.template_asset) == (first.template, first.assets, first.template_asset)


@pytest.mark.parametrize(
    "change",
    [
        {"control_plane": None},
        {"control_plane": ControlPlaneRef(CONTROL_PLANE_ACCOUNT, None)},
        {"retain_data": True},
    ],
)
def test_other_options_synthesize_again(
    first: SynthesizedStack, project_dir: Path, no_jsii: None, change: dict[str, object]
) -> None:
    with pytest.raises(NoSynthesis):
        synthesize(load_project(project_dir), **change)


@pytest.mark.parametrize("edit", ["requirements.txt", "apid.toml"])
def test_an_edited_input_synthesizes_again(
    first: SynthesizedStack, project_dir: Path, no_jsii: None, edit: str
) -> None:
    path = project_dir / edit
    original = path.read_text()
    path.write_text(
        original.replace('description = "', 'description = "Now ', 1)
        if edit == "apid.toml"
        else original + "\n# edited\n"
    )
    try:
        with pytest.raises(NoSynthesis):
            synthesize(load_project(project_dir))
    finally:
        path.write_text(original)


def test_files_the_bundle_leaves_out_do_not_count(first: SynthesizedStack, project_dir: Path, no_jsii: None) -> None:
    scratch = project_dir / "tests" / "scratch_test.py"
    scratch.write_text("x = 1\n")
    try:
        assert synthesize(load_project(project_dir)).reused
    finally:
        scratch.unlink()


def test_a_missing_asset_synthesizes_again(first: SynthesizedStack, project_dir: Path, no_jsii: None) -> None:
    """A platform function's bundle gone from the bundle cache (the app's own is rebuilt before the check)."""
    record = json.loads((first.template_path.parent / SYNTHESIS_RECORD).read_text())
    asset = next(a.source for a in first.assets if a.source.name != record["app_bundle"])
    moved = asset.with_name(asset.name + ".moved")
    asset.rename(moved)
    try:
        with pytest.raises(NoSynthesis):
            synthesize(load_project(project_dir))
    finally:
        shutil.rmtree(asset, ignore_errors=True)  # the full synthesis built it again before the stack
        moved.rename(asset)


def test_a_changed_api_direct_or_cdk_version_synthesizes_again(
    first: SynthesizedStack, project_dir: Path, no_jsii: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = fingerprint.SynthesisFingerprint("f" * 64, "s" * 64)
    monkeypatch.setattr(synthesis, "synthesis_fingerprint", lambda project, settings: changed)
    with pytest.raises(NoSynthesis):
        synthesize(load_project(project_dir))
    assert fingerprint.code_fingerprint() == fingerprint.code_fingerprint.__wrapped__()


def test_a_failed_synthesis_leaves_no_record_to_match(
    first: SynthesizedStack, project_dir: Path, no_jsii: None
) -> None:
    path = project_dir / "apid.toml"
    original = path.read_text()
    path.write_text(original.replace('description = "', 'description = "Now ', 1))
    try:
        with pytest.raises(NoSynthesis):
            synthesize(load_project(project_dir))
        path.write_text(original)
        assert not (project_dir / ".apid" / "cdk.out" / SYNTHESIS_RECORD).exists()
        with pytest.raises(NoSynthesis):
            synthesize(load_project(project_dir))
    finally:
        path.write_text(original)


def test_the_code_fingerprint_covers_every_source_file_of_the_package() -> None:
    import api_direct

    package = Path(api_direct.__file__).resolve().parent
    digest_before = fingerprint.code_fingerprint.__wrapped__()
    probe = package / "runtime" / "_fingerprint_probe.py"
    probe.write_text("# a new file changes the fingerprint\n")
    try:
        assert fingerprint.code_fingerprint.__wrapped__() != digest_before
    finally:
        probe.unlink()


def test_a_code_only_edit_patches_the_assembly_into_what_a_full_synthesis_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_dir = copy_example(tmp_path)
    first = synthesize(load_project(project_dir))
    main = project_dir / "weather" / "main.py"
    main.write_text(main.read_text() + "\n# a code-only edit\n")

    import api_direct.user_stack as user_stack

    with monkeypatch.context() as patch:
        patch.setattr(user_stack, "UserApiStack", None)  # any synthesis would fail
        patched = synthesize(load_project(project_dir))
    fresh_dir = tmp_path / "fresh"
    fresh = synthesize_project(load_project(project_dir), fresh_dir, control_plane=CONTROL_PLANE)

    assert not patched.reused and patched.template != first.template
    assert patched.template == fresh.template
    assert [(a.asset_id, a.object_key, a.source.name) for a in patched.assets] == [
        (a.asset_id, a.object_key, a.source.name) for a in fresh.assets
    ]
    assert patched.template_asset.object_key == fresh.template_asset.object_key
    assembly = patched.template_path.parent
    for name in ("manifest.json", "UserApi.assets.json", "UserApi.template.json", "tree.json"):
        assert (assembly / name).read_text() == (fresh_dir / name).read_text(), name
    [app] = [a for a in patched.assets if a.asset_id not in {b.asset_id for b in first.assets}]
    [fresh_app] = [a for a in fresh.assets if a.asset_id == app.asset_id]
    assert _listing(app.source) == _listing(fresh_app.source)
    again = synthesize(load_project(project_dir))
    assert again.reused and again.template == fresh.template


def _listing(folder: Path) -> list[tuple[str, bytes]]:
    return [(p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]


def test_an_assembly_whose_app_was_never_checked_is_not_reused_unchecked(tmp_path: Path) -> None:
    """A deploy that fails before reading the deferred verdict (a denied assume-role) leaves a record without one."""
    project_dir = copy_example(tmp_path)
    main = project_dir / "weather" / "main.py"
    main.write_text(main.read_text() + "\nraise RuntimeError('broken at import')\n")
    unread = synthesize(load_project(project_dir), app_check="deferred")
    assert unread.app_check is not None
    unread.app_check.cancel()
    with pytest.raises(InputError, match="RuntimeError: broken at import"):
        synthesize(load_project(project_dir))


def test_an_assembly_with_a_staged_copy_of_the_app_is_not_patched(
    first: SynthesizedStack, project_dir: Path, no_jsii: None
) -> None:
    """An assembly written while CDK still copied bundles into it names the copy, which a patch cannot rename:
    a code-only edit then synthesizes in full, never a template naming new code beside a manifest naming old."""
    assembly = first.template_path.parent
    manifest = assembly / first.assets_manifest
    original_manifest = manifest.read_text()
    record = json.loads((assembly / SYNTHESIS_RECORD).read_text())
    [app] = [a for a in first.assets if a.source.name == record["app_bundle"]]
    staged = f"asset.{app.asset_id}"
    manifest.write_text(original_manifest.replace(str(app.source), staged))
    (assembly / staged).mkdir()
    main = project_dir / "weather" / "main.py"
    original_main = main.read_text()
    main.write_text(original_main + "\n# a code-only edit\n")
    try:
        with pytest.raises(NoSynthesis):
            synthesize(load_project(project_dir))
    finally:
        main.write_text(original_main)
        manifest.write_text(original_manifest)
        (assembly / staged).rmdir()


def test_a_deploys_synthesis_zips_every_bundle_before_jsii_starts(
    first: SynthesizedStack, project_dir: Path, no_jsii: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shipping, each bundle is handed to the zipper as it is built: the app's and ours, all before the stack
    is built (here it refuses to be), so the zips are made while jsii works."""
    asked: list[str] = []
    monkeypatch.setattr(synthesis, "zip_ahead", lambda asset_id, folder: asked.append(asset_id))
    record = first.template_path.parent / SYNTHESIS_RECORD
    kept = record.read_text()  # a synthesis that fails removes it
    with pytest.raises(NoSynthesis):
        synthesize(load_project(project_dir), control_plane=None, shipping=True)
    assert sorted(asked) == sorted(asset.asset_id for asset in first.assets)
    asked.clear()
    with pytest.raises(NoSynthesis):
        synthesize(load_project(project_dir), control_plane=None)
    assert asked == []  # `apid synth` and `apid plan` ship nothing
    record.write_text(kept)
    assert synthesize(load_project(project_dir), shipping=True).reused  # an assembly read back builds no bundle
    assert sorted(asked) == sorted(asset.asset_id for asset in first.assets)
