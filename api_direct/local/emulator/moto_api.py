"""The patch to moto's own API (``/moto-api``): the model listing the sandbox reads SES's sent emails from."""

import json
from typing import Any

#: moto's route for the listing of every model it tracks.
DATA_JSON = "{0}/moto-api/data.json"


def model_data_skips_unreadable_attributes() -> None:
    """Serve ``/moto-api/data.json`` even when reading one of a model's attributes raises.

    The listing (moto's, not an AWS API; :func:`~api_direct.local.emulator.sent_emails`
    reads the emails SES accepted from it) gives each tracked model's JSON-serialisable
    attributes, skipping those whose reading raises ``TypeError``, ``AttributeError`` or
    ``ValueError``. A Lambda function's ``docker_client`` raises ``DockerException``
    where no Docker runs, so once any function exists (every stack we deploy has some)
    the whole listing is a 500. The patch skips an attribute whatever its reading raises,
    as moto skips the others; what it lists is unchanged.
    """
    from moto.core.model_instances import model_data
    from moto.moto_api._internal import urls

    def listing(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        results: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for service in sorted(model_data):
            results[service] = {}
            for name in sorted(model_data[service]):
                results[service][name] = [
                    _readable(instance)
                    for instance in model_data[service][name].instances_tracked  # type: ignore[attr-defined]
                ]
        return 200, {"Content-Type": "application/javascript"}, json.dumps(results)

    listing.__name__ = "model_data"  # Flask names the route's endpoint after its handler
    urls.url_paths[DATA_JSON] = listing


def _readable(instance: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for attribute in dir(instance):
        if attribute.startswith("_"):
            continue
        try:
            value = getattr(instance, attribute)
            json.dumps(value)
        except Exception:  # noqa: BLE001 (any attribute that cannot be read or written as JSON is left out)
            continue
        found[attribute] = value
    return found
