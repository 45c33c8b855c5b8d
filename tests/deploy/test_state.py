"""Project state: round trip, owner-only permissions, atomic writes, corrupt files."""

import stat
from pathlib import Path

import pytest

from api_direct.deploy.state import STATE_FILE, LinkRecord, ProjectState, load_state, save_state
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
        tmp_path, ProjectState().with_link(LINK).with_hotswap("2026-11-25T01:00:00+00:00", {"App": "assets/x.zip"})
    )
    loaded = load_state(tmp_path)
    assert loaded.link == LINK and loaded.drifted_since == "2026-11-25T01:00:00+00:00"
    assert loaded.hotswapped_code == {"App": "assets/x.zip"}
    assert loaded.without_drift().hotswapped_code == {} and loaded.without_drift().drifted_since is None
    assert stat.S_IMODE((tmp_path / STATE_FILE).stat().st_mode) == 0o600
    assert not [p for p in (tmp_path / ".apid").iterdir() if p.name.startswith(".state-")]


def test_missing_state_is_unlinked(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="run `apid aws link` first"):
        load_state(tmp_path).require_link()


def test_corrupt_state_says_how_to_recover(tmp_path: Path) -> None:
    (tmp_path / ".apid").mkdir()
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(InputError, match="corrupt.*delete it and run `apid aws link` again"):
        load_state(tmp_path)
