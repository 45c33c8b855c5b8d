"""What the page tests share: a user signed in to the pages, the Origin a form must carry, a page's words."""

import html
import re

from fastapi.testclient import TestClient

from api_direct.control_plane.web.web_session import COOKIE

#: The header a browser sends with a form from the site itself (forms without it are refused).
ORIGIN = {"Origin": "http://testserver"}


def as_user(api: TestClient, token: str) -> TestClient:
    """``api`` with ``token`` as the pages' session cookie, as after signing in."""
    api.cookies.set(COOKIE, token, path="/web")
    return api


def text(page: str) -> str:
    """The page's words, tags dropped and spaces collapsed, to assert on what a reader sees."""
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))
