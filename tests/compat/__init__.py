"""Differential compatibility suite: each app answers the same under uvicorn and deployed (docs/compatibility.md)."""
