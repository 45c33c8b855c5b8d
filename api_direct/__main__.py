"""``python -m api_direct`` runs the ``apid`` CLI."""

from api_direct.cli.main import cli

cli(prog_name="apid")
