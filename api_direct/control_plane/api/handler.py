"""Lambda entry point of the control plane API: settings from the environment the stack sets."""

from api_direct.control_plane.api.lambda_adapter import lambda_handler
from api_direct.control_plane.api.settings import ControlPlaneSettings

handler = lambda_handler(ControlPlaneSettings.from_env())
