"""``apid synth``: build the API stack locally, without touching AWS."""

from pathlib import Path

import click
from rich.markup import escape

from api_direct.cli.settings import Settings, global_options, stage_option
from api_direct.deploy.state import load_state
from api_direct.deploy.synthesis import ControlPlaneRef, synthesize_project
from api_direct.errors import InputError
from api_direct.project import Project, load_project


@click.command()
@click.option(
    "--out",
    "outdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Cloud assembly folder (default: .apid/cdk.out in the project).",
)
@click.option(
    "--control-plane-account",
    envvar="APID_CONTROL_PLANE_ACCOUNT",
    default=None,
    help="Account allowed to send key events (default: the API's own account).",
)
@click.option(
    "--control-plane-bus",
    envvar="APID_CONTROL_PLANE_BUS_ARN",
    default=None,
    help="Event bus ARN usage is sent to (default: no metering).",
)
@stage_option
@global_options
@click.pass_obj
def synth(
    settings: Settings, outdir: Path | None, control_plane_account: str | None, control_plane_bus: str | None
) -> None:
    """Bundle the app and synthesize its CloudFormation template, offline.

    The app is imported first, in another interpreter and with the variables Lambda
    sets, so one that would fail in Lambda (no such attribute, not ASGI, an import
    error) fails here in one line; each WebSocket route it has is a warning (API
    Gateway REST APIs cannot serve them). `[runtime] check_import = false` skips it.

    Dependencies are installed for Lambda's platform once and cached; a re-run
    with unchanged requirements does not call pip, and one with nothing changed
    (project files, apid.toml, API-Direct and CDK versions) reuses the last
    assembly without synthesizing again.
    """
    project = load_project(settings.project_dir, settings.stage)
    outdir = outdir or project.assembly_dir
    control_plane = ControlPlaneRef(control_plane_account, control_plane_bus) if control_plane_account else None
    with settings.output.status(f"Bundling and synthesizing {project.stack_name}..."):
        stack = synthesize_project(project, outdir, control_plane=control_plane, region=_linked_region(project))
    for warning in stack.app_warnings:
        settings.output.warning(warning)
    size = stack.bundle_bytes
    settings.output.result(
        {
            "stack": stack.stack_name,
            "template": str(stack.template_path),
            "resources": stack.resource_count,
            "assets": len(stack.assets),
            "bundle_bytes": size,
            "reused": stack.reused,
            "warnings": list(stack.app_warnings),
        },
        f"[bold]{stack.stack_name}[/bold]: {stack.resource_count} resources, {len(stack.assets)} assets"
        f" ({size / 1e6:.1f} MB unzipped){' (unchanged: the last synthesis reused)' if stack.reused else ''}"
        f"\ntemplate: {escape(str(stack.template_path))}",
    )


def _linked_region(project: Project) -> str | None:
    """The region the project is linked in, which the app is imported with; synth itself needs no link."""
    try:
        link = load_state(project.root).link
    except InputError:  # a damaged state file is for the commands that use the link to report
        return None
    return link.region if link else None
