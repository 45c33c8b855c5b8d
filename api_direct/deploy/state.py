"""What a project remembers between commands: its account link and deploy notes.

Kept in ``.apid/state.json`` beside ``apid.toml`` (the scaffold git-ignores
``.apid/``), written atomically with owner-only permissions. The ExternalId is
not a secret in AWS's model, but it is one half of the trust in the deploy role,
so it is not left world-readable either.
"""

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from api_direct.errors import InputError, StateError

STATE_FILE = Path(".apid") / "state.json"


@dataclass(frozen=True)
class LinkRecord:
    """One linked account and region, as ``apid aws link`` left it.

    With a control plane (``control_plane_url`` set) the deploy role trusts only the
    control plane's account, which keeps the ExternalId and brokers short-lived
    deploy credentials to the link's owner: ``external_id`` is then ``None`` here.
    Without one, the creator's own account is trusted and the ExternalId kept here.
    """

    account_id: str
    region: str
    external_id: str | None
    trusted_account_id: str
    stack_name: str
    deploy_role_arn: str
    execution_role_arn: str
    asset_bucket: str
    permissions_boundary_arn: str
    linked_at: str
    control_plane_url: str | None = None
    #: The control plane bus usage records go to (metering is on when set).
    usage_bus_arn: str | None = None


@dataclass(frozen=True)
class ProjectState:
    link: LinkRecord | None = None
    #: Set by a hotswap; cleared by the next full deploy.
    drifted_since: str | None = None
    #: Function logical id -> code object key a hotswap put in place (the template
    #: still names the previous one).
    hotswapped_code: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def require_link(self) -> LinkRecord:
        if self.link is None:
            raise StateError("this project is not linked to an AWS account: run `apid aws link` first")
        return self.link

    def with_link(self, link: LinkRecord | None) -> "ProjectState":
        return replace(self, link=link)

    def with_hotswap(self, since: str, code: dict[str, str]) -> "ProjectState":
        return replace(self, drifted_since=since, hotswapped_code={**self.hotswapped_code, **code})

    def without_drift(self) -> "ProjectState":
        return replace(self, drifted_since=None, hotswapped_code={})


def load_state(project_root: Path) -> ProjectState:
    path = project_root / STATE_FILE
    if not path.is_file():
        return ProjectState()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        link = LinkRecord(**raw["link"]) if raw.get("link") else None
        return ProjectState(
            link=link,
            drifted_since=raw.get("drifted_since"),
            hotswapped_code=dict(raw.get("hotswapped_code", {})),
            extra=raw.get("extra", {}),
        )
    except (ValueError, TypeError, KeyError) as error:
        raise InputError(f"{path} is corrupt ({error}); delete it and run `apid aws link` again") from None


def save_state(project_root: Path, state: ProjectState) -> None:
    path = project_root / STATE_FILE
    path.parent.mkdir(mode=0o700, exist_ok=True)
    data = {
        "link": asdict(state.link) if state.link else None,
        "drifted_since": state.drifted_since,
        "hotswapped_code": state.hotswapped_code,
        "extra": state.extra,
    }
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".state-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
