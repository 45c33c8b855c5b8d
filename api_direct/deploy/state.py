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
from api_direct.runtime.cors import origin_of

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
    #: ``OWNER/REPO`` whose GitHub Actions may deploy (``apid aws link --github``), and the ``sub``
    #: claims admitted (``repo:OWNER/REPO:ref:refs/heads/main``, ``...:environment:prod``).
    github_repository: str | None = None
    github_subjects: tuple[str, ...] = ()
    github_role_arn: str | None = None
    #: The deploy role may read the account's costs from Cost Explorer (``apid aws link --cost-explorer``),
    #: which `apid costs` then shows beside its estimate.
    cost_explorer: bool = False
    #: Built from the CI environment (``APID_LINK_*``), not this file: the deploy role is assumed from the
    #: GitHub role, with no ExternalId, and the control plane is not told. Never saved.
    ci: bool = False

    def __post_init__(self) -> None:
        # JSON has no tuples: a loaded record's list becomes one again, so records compare equal.
        object.__setattr__(self, "github_subjects", tuple(self.github_subjects))

    @property
    def marketplace_origin(self) -> str | None:
        """Where the marketplace's pages are, for CORS: the control plane serves them itself (under ``/web``),
        so its URL's origin, the one creators sign in to; ``None`` without a control plane."""
        return origin_of(self.control_plane_url) if self.control_plane_url else None


@dataclass(frozen=True)
class DeployNotes:
    """What one stage's stack holds that its template does not say."""

    #: Set by a hotswap; cleared by the next full deploy.
    drifted_since: str | None = None
    #: Function logical id -> code object key a hotswap put in place (the template
    #: still names the previous one).
    hotswapped_code: dict[str, str] = field(default_factory=dict)


#: The key of the unnamed stage's notes (a project deployed without ``--stage`` or a default stage).
UNNAMED_STAGE = ""


@dataclass(frozen=True)
class ProjectState:
    """The link (one per project, shared by its stages) and each stage's deploy notes."""

    link: LinkRecord | None = None
    #: Stage name (:data:`UNNAMED_STAGE` for none) -> its notes; a stage never deployed has none.
    deploys: dict[str, DeployNotes] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def notes(self, stage: str | None) -> DeployNotes:
        return self.deploys.get(stage or UNNAMED_STAGE, DeployNotes())

    def require_link(self) -> LinkRecord:
        if self.link is None:
            raise StateError("this project is not linked to an AWS account: run `apid aws link` first")
        return self.link

    def with_link(self, link: LinkRecord | None) -> "ProjectState":
        return replace(self, link=link)

    def with_hotswap(self, stage: str | None, since: str, code: dict[str, str]) -> "ProjectState":
        notes = self.notes(stage)
        return self._with(stage, DeployNotes(since, {**notes.hotswapped_code, **code}))

    def without_drift(self, stage: str | None) -> "ProjectState":
        return self._with(stage, DeployNotes())

    def _with(self, stage: str | None, notes: DeployNotes) -> "ProjectState":
        deploys = {key: value for key, value in self.deploys.items() if key != (stage or UNNAMED_STAGE)}
        if notes != DeployNotes():
            deploys[stage or UNNAMED_STAGE] = notes
        return replace(self, deploys=deploys)


def load_state(project_root: Path) -> ProjectState:
    path = project_root / STATE_FILE
    if not path.is_file():
        return ProjectState()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        link = LinkRecord(**raw["link"]) if raw.get("link") else None
        deploys = {stage: DeployNotes(**notes) for stage, notes in raw.get("deploys", {}).items()}
        if raw.get("drifted_since") or raw.get("hotswapped_code"):  # written before stages: the unnamed one's
            deploys[UNNAMED_STAGE] = DeployNotes(raw.get("drifted_since"), dict(raw.get("hotswapped_code", {})))
        return ProjectState(link=link, deploys=deploys, extra=raw.get("extra", {}))
    except (ValueError, TypeError, KeyError) as error:
        raise InputError(f"{path} is corrupt ({error}); delete it and run `apid aws link` again") from None


def save_state(project_root: Path, state: ProjectState) -> None:
    path = project_root / STATE_FILE
    path.parent.mkdir(mode=0o700, exist_ok=True)
    data = {
        "link": asdict(state.link) if state.link and not state.link.ci else None,
        "deploys": {stage: asdict(notes) for stage, notes in state.deploys.items()},
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
