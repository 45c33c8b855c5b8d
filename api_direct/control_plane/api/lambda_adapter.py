"""The control plane app behind API Gateway REST events: the same adapter a creator's app runs behind.

:class:`~api_direct.runtime.asgi_lambda.LambdaAsgiHandler` tells the app where it is
served (``root_path``: the stage, ``/v1``, or a custom domain's base path), so the
``/docs`` page fetches ``/openapi.json`` inside the stage and the web pages' links
stay under it; it passes binary bodies both ways and runs the app's lifespan once.
"""

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.runtime.asgi_lambda import LambdaAsgiHandler


def lambda_handler(settings: ControlPlaneSettings) -> LambdaAsgiHandler:
    return LambdaAsgiHandler(create_app(settings))
