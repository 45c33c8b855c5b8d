"""The platform operator's control plane: identity, marketplace, orchestration records.

``api/`` is the FastAPI service (it imports nothing from CDK, so it bundles into
Lambda with our own ``FastApiFunction``); ``stack.py`` is ``ControlPlaneStack``.
"""
