"""Lambda entry point of the control plane API (Mangum adapts API Gateway events to ASGI)."""

from mangum import Mangum

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings

handler = Mangum(create_app(ControlPlaneSettings.from_env()), lifespan="off")
