"""Project state: round trip, owner-only permissions, atomic writes, corrupt files."""

import json
import stat
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from api_direct.deploy.state import STATE_FILE, DeployNotes, LinkRecord, ProjectState, load_state, save_state
from api_direct.errors import InputError, StateError

LINK = LinkRecord(
    "123456789012",
    "us-east-1",
    "x" * 32,
    "123456789012",
    "apid-link",
    "arn:aws:iam::123456789012:role/apid-deploy-us-east-1",
    "arn:aws:iam::123456789012:role/apid-cfn-exec-us-east-1",
    "apid-assets-123456789012-us-east-1",
    "arn:aws:iam::123456789012:policy/apid-boundary-us-east-1",
    "2026-11-25T00:00:00+00:00",
)


def test_round_trip_with_owner_only_permissions(tmp_path: Path) -> None:
    save_state(
        tmp_path,
        ProjectState().with_link(LINK).with_hotswap(None, "2026-11-25T01:00:00+00:00", {"App": "assets/x.zip"}),
    )
    loaded = load_state(tmp_path)
    assert loaded.link == LINK and loaded.notes(None).drifted_since == "2026-11-25T01:00:00+00:00"
    assert loaded.notes(None).hotswapped_code == {"App": "assets/x.zip"}
    assert loaded.without_drift(None).notes(None) == DeployNotes() and loaded.without_drift(None).deploys == {}
    assert stat.S_IMODE((tmp_path / STATE_FILE).stat().st_mode) == 0o600
    assert not [p for p in (tmp_path / ".apid").iterdir() if p.name.startswith(".state-")]


def test_each_stage_keeps_its_own_drift(tmp_path: Path) -> None:
    """A hotswap of dev leaves prod's notes alone; a full deploy of prod clears only prod's."""
    state = ProjectState().with_hotswap("dev", "t1", {"App": "dev.zip"}).with_hotswap("prod", "t2", {"App": "p.zip"})
    save_state(tmp_path, state.without_drift("prod"))
    loaded = load_state(tmp_path)
    assert loaded.notes("dev") == DeployNotes("t1", {"App": "dev.zip"})
    assert loaded.notes("prod") == DeployNotes() and loaded.notes(None) == DeployNotes()


def test_a_state_file_from_before_stages_is_the_unnamed_stage_s(tmp_path: Path) -> None:
    (tmp_path / ".apid").mkdir()
    (tmp_path / STATE_FILE).write_text(
        json.dumps({"link": asdict(LINK), "drifted_since": "t0", "hotswapped_code": {"App": "a.zip"}, "extra": {}})
    )
    loaded = load_state(tmp_path)
    assert loaded.notes(None) == DeployNotes("t0", {"App": "a.zip"}) and loaded.notes("dev") == DeployNotes()
    save_state(tmp_path, loaded)
    assert set(json.loads((tmp_path / STATE_FILE).read_text())) == {"link", "deploys", "extra"}


def test_missing_state_is_unlinked(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="run `apid aws link` first"):
        load_state(tmp_path).require_link()


def test_corrupt_state_says_how_to_recover(tmp_path: Path) -> None:
    (tmp_path / ".apid").mkdir()
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(InputError, match="corrupt.*delete it and run `apid aws link` again"):
        load_state(tmp_path)


def test_github_settings_round_trip_and_older_files_load_without_them(tmp_path: Path) -> None:
    github = replace(
        LINK,
        github_repository="octo-org/weather",
        github_subjects=("repo:octo-org/weather:ref:refs/heads/main",),
        github_role_arn="arn:aws:iam::123456789012:role/api-direct-link/apid-github-us-east-1",
    )
    save_state(tmp_path, ProjectState().with_link(github))
    assert load_state(tmp_path).link == github
    older = {key: value for key, value in asdict(LINK).items() if not key.startswith("github_") and key != "ci"}
    (tmp_path / STATE_FILE).write_text(json.dumps({"link": older}))
    assert load_state(tmp_path).link == LINK


def test_a_link_built_from_ci_variables_is_never_written(tmp_path: Path) -> None:
    save_state(tmp_path, ProjectState().with_link(replace(LINK, external_id=None, ci=True)))
    assert load_state(tmp_path).link is None


def test_the_marketplace_is_where_the_control_plane_is() -> None:
    """Its pages are the control plane app's own (under /web): the origin creators link through, for CORS."""
    assert LINK.marketplace_origin is None  # linked without a control plane: no browser may call
    linked = replace(LINK, control_plane_url="https://Market.Example.com:8443/v1/")
    assert linked.marketplace_origin == "https://market.example.com:8443"
