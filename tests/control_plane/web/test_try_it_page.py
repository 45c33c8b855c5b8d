"""The API page's console as the server renders it: the document it reads, where it may call, and no key in it.

What it does in a browser is tested in Chromium: tests/e2e/test_consumer_journey.py
(through the sandbox's API) and tests/e2e/test_try_it_schemas.py (OpenAPI shapes).
"""

import json
import re

from fastapi.testclient import TestClient

from tests.control_plane.billing.usage import API, CAROL, marketplace
from tests.control_plane.marketplace import listing_body
from tests.control_plane.tokens import Mint
from tests.control_plane.web.pages import as_user

BASE_URL = listing_body()["base_url"]
API_ORIGIN = "https://abc123.execute-api.eu-west-1.amazonaws.com"
#: A description that would end the page's data block early if it were not escaped.
SNEAKY = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "paths": {"/x": {"get": {"summary": "</script><script>alert(1)</script>", "responses": {}}}},
}


def test_the_console_reads_the_published_document_and_may_call_only_the_api(api: TestClient, mint: Mint) -> None:
    marketplace(api, mint, openapi=SNEAKY)
    page = api.get(f"/web/apis/{API}")
    policy = page.headers["content-security-policy"]
    assert f"connect-src 'self' {API_ORIGIN};" in policy and "default-src 'self'" in policy
    assert "script-src" not in policy  # scripts stay 'self' (default-src): the data block is not a script
    assert f'data-base-url="{BASE_URL}"' in page.text and 'src="/web/static/try_it.js"' in page.text
    [data] = re.findall(r'<script type="application/json" id="openapi-document">(.*?)</script>', page.text, re.S)
    assert json.loads(data) == SNEAKY and "</script>" not in data
    assert '<option value="GET /x">' in page.text
    # Another page calls nowhere but the site.
    assert "connect-src 'self';" in api.get("/web/").headers["content-security-policy"]


def test_a_subscriber_s_page_holds_no_key(api: TestClient, mint: Mint) -> None:
    marketplace(api, mint)
    as_user(api, mint(CAROL, "consumers"))
    page = api.get(f"/web/apis/{API}")
    assert "You subscribe to the" in page.text
    [key_field] = re.findall(r'<input id="try-key"[^>]*>', page.text)
    assert "value=" not in key_field and 'type="password"' in key_field
    assert not re.search(r"apid_[A-Za-z0-9_-]{43}", page.text)


def test_an_api_without_operations_has_no_console(api: TestClient, mint: Mint) -> None:
    marketplace(api, mint, openapi={"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}})
    page = api.get(f"/web/apis/{API}")
    assert "try-it" not in page.text and "try_it.js" not in page.text
