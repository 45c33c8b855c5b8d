"""The control plane's client side: what the CLI, the deploy engine and the sandbox use to talk to a control plane.

``http`` is the JSON-over-HTTPS transport (problem+json errors as one line),
``sign_in`` the Cognito session it authenticates with, ``control_plane`` the typed
client with one method per operation, and ``publishing`` the one ``publish``
operation (``apid publish`` and the sandbox). It is its own package so that the
deploy engine can call a control plane without importing the control plane's
service, and the service never imports the deploy engine: what both sides must
agree on is in :mod:`api_direct.contracts`.
"""
