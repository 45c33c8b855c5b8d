"""The platform operator's control plane: identity, marketplace, orchestration records.

``api/`` is the FastAPI service (it imports nothing from CDK, so it bundles into
Lambda with our own ``FastApiFunction``); ``stack.py`` is ``ControlPlaneStack``.
The client side (sign-in, the typed HTTP client, publishing) is
:mod:`api_direct.client`, and the names both sides share are
:mod:`api_direct.contracts`: the service imports neither the client nor the
deploy engine, and the constructs never import the service.
"""
