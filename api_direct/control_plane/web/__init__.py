"""The marketplace's web pages and the creator portal, served by the control plane app itself.

Server-rendered (Jinja2) from the same services the JSON API uses, so they deploy
with the control plane, run unchanged in the sandbox, and need no CDN: the one
stylesheet and the one small script are served from ``/web/static``.
"""
