"""Response kinds: HTML and text, redirects, streams, files, static files, templates, the special status codes."""

import hashlib
import os
from email.utils import formatdate
from pathlib import Path

from tests.compat.differential import APPS, Case, Fleet, RecordProperty, assert_same_answer, case, each_case, get


def etag_of(path: Path) -> str:
    """The ETag Starlette gives a file (the bundle keeps the file's modification time)."""
    stat = path.stat()
    return '"' + hashlib.md5(f"{stat.st_mtime}-{stat.st_size}".encode(), usedforsecurity=False).hexdigest() + '"'


def modified_of(path: Path) -> str:
    return formatdate(os.stat(path).st_mtime, usegmt=True)


SITE_CSS = APPS / "static_files" / "static" / "css" / "site.css"
REPORT = APPS / "file_responses" / "data" / "report.csv"

CASES: dict[str, list[Case]] = {
    "html_plain": [
        get("html", "/page"),
        get("html-browser-accept", "/page", headers=[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]),
        get("plain", "/plain"),
        get("csv-with-disposition", "/csv"),
        get("xml", "/xml"),
        get("problem-json", "/problem"),
        get("caching-headers", "/headers"),
        get("latin-1-header", "/latin-1-header"),
        case("head-html", "HEAD", "/page"),
    ],
    "redirects": [
        get("temporary-relative", "/old"),
        get("moved-absolute", "/moved"),
        get("found-url-for", "/found"),
        case("see-other-after-post", "POST", "/submit"),
        get("permanent-relative", "/permanent"),
        get("trailing-slash-added", "/slash"),
        get("trailing-slash-added-query", "/slash", query="a=1"),
        get("trailing-slash-present", "/slash/"),
        get("response-class", "/response-class"),
        case("head-redirect", "HEAD", "/old"),
    ],
    "streaming": [
        get("async-text", "/count", query="to=7"),
        get("server-sent-events", "/events", headers=[("Accept", "text/event-stream")]),
        get("sync-bytes", "/bytes"),
        get("empty-stream", "/empty"),
    ],
    "file_responses": [
        get("attachment", "/report"),
        get("inline-unicode-name", "/inline"),
        get("binary", "/blob"),
        get("guessed-type", "/guessed"),
        case("head", "HEAD", "/report"),
        get("range", "/blob", headers=[("Range", "bytes=10-109")]),
        get("range-suffix", "/blob", headers=[("Range", "bytes=-50")]),
        get("range-unsatisfiable", "/blob", headers=[("Range", "bytes=999999-")]),
        get("if-none-match", "/report", headers=[("If-None-Match", etag_of(REPORT))]),
    ],
    "static_files": [
        get("css", "/static/css/site.css"),
        get("js", "/static/app.js"),
        get("json", "/static/manifest.json"),
        get("png", "/static/logo.png"),
        get("missing", "/static/missing.css"),
        get("traversal", "/static/..%2F..%2Fmain.py"),
        case("head", "HEAD", "/static/css/site.css"),
        get("not-modified-etag", "/static/css/site.css", headers=[("If-None-Match", etag_of(SITE_CSS))]),
        get("not-modified-since", "/static/css/site.css", headers=[("If-Modified-Since", modified_of(SITE_CSS))]),
        get("html-index", "/site/"),
        get("html-no-slash", "/site"),
        get("html-page", "/site/guide.html"),
        get("html-404-page", "/site/nothing"),
        case("post-not-allowed", "POST", "/static/app.js"),
    ],
    "templates": [
        get("index", "/"),
        get("station", "/stations/zrh"),
        get("station-missing", "/stations/xyz"),
        get("template-static", "/static/style.css"),
    ],
    "status_codes": [
        case("created-location", "POST", "/created"),
        case("accepted-empty", "POST", "/accepted"),
        case("no-content", "DELETE", "/things/3"),
        get("not-modified", "/not-modified"),
        get("teapot", "/teapot"),
        get("unavailable", "/unavailable"),
        get("custom-status", "/custom-status"),
        get("null-body", "/none"),
    ],
}


@each_case(CASES)
def test_answers_as_uvicorn(running: Fleet, app: str, exchange: Case, record_property: RecordProperty) -> None:
    assert_same_answer(running[app], exchange, record_property)
