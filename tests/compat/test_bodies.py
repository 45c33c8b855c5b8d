"""Request bodies in every shape an app takes them (JSON, forms, multipart files, raw bytes) and bytes answered back."""

import hashlib

from tests.compat.differential import (
    Case,
    Fleet,
    RecordProperty,
    assert_same_answer,
    case,
    each_case,
    form_call,
    get,
    json_call,
    multipart_call,
)

STATION = {"name": "Zürich", "location": {"lat": 47.38, "lon": 8.54}, "tags": ["urban", "☀"], "secret": "s3cr3t"}
#: Bytes that are not UTF-8: what breaks an API Gateway without binary media types.
NOT_UTF8 = bytes(range(256)) + b"\xff\xfe\x00\x80" * 64
PNG_HEADER = b"\x89PNG\r\n\x1a\n" + bytes(range(200))

CASES: dict[str, list[Case]] = {
    "json_bodies": [
        json_call("create-filtered", "POST", "/stations", STATION),
        json_call("invalid-nested", "POST", "/stations", {"name": "", "location": {"lat": 95, "lon": 0}}),
        case("malformed", "POST", "/stations", body=b'{"name": "x",', headers=[("Content-Type", "application/json")]),
        case("no-content-type", "POST", "/echo", body=b'{"a": 1}'),
        json_call("put-with-query", "PUT", "/stations/7", STATION, headers=[("X-Ignored", "1")]),
        json_call("patch-dict", "PATCH", "/stations/7", {"b": 1, "a": None}),
        json_call("embedded", "POST", "/reading", {"value": "21.50", "unit": "°F"}),
        json_call("echo-unicode", "POST", "/echo", {"text": "Grüße 東京 🌧", "escaped": "\u00e9\n\t"}),
        json_call("echo-list", "POST", "/echo", [1, 2.5, None, True, "x"]),
        json_call(
            "charset-param", "POST", "/echo", {"a": "é"}, headers=[("Content-Type", "application/json; charset=utf-8")]
        ),
        case("empty-body", "POST", "/echo", headers=[("Content-Type", "application/json")]),
    ],
    "forms": [
        form_call("urlencoded", "/login", [("username", "alice"), ("password", "wonderland"), ("remember", "on")]),
        form_call("urlencoded-unicode", "/login", [("username", "zoë ü"), ("password", "pässwörd")]),
        form_call("too-short", "/login", [("username", "alice"), ("password", "abc")]),
        form_call("missing", "/login", [("username", "alice")]),
        multipart_call("multipart-fields", "/login", [("username", "bob"), ("password", "builder")]),
        form_call("repeated", "/choices", [("option", "a"), ("option", "b"), ("option", "c")]),
        form_call("model", "/feedback", [("name", "Ann"), ("rating", "5"), ("comment", "great & quick")]),
        form_call("model-invalid", "/feedback", [("name", "Ann"), ("rating", "five")]),
    ],
    "file_uploads": [
        multipart_call("text-file", "/upload", files=[("file", "notes.txt", "text/plain", "Grüße\n".encode())]),
        multipart_call("binary-file", "/upload", files=[("file", "data.bin", "application/octet-stream", NOT_UTF8)]),
        multipart_call("image", "/upload", files=[("file", "pixel.png", "image/png", PNG_HEADER)]),
        multipart_call("as-bytes", "/bytes", files=[("file", "raw.bin", "application/octet-stream", NOT_UTF8[::-1])]),
        multipart_call(
            "many",
            "/many",
            files=[
                ("files", "a.bin", "application/octet-stream", NOT_UTF8[:100]),
                ("files", "b.txt", "text/plain", b"second"),
            ],
        ),
        multipart_call(
            "with-fields",
            "/with-fields",
            fields=[("title", "Année"), ("public", "true")],
            files=[("file", "r\u00e9sum\u00e9.pdf", "application/pdf", b"%PDF-1.4\n" + NOT_UTF8)],
        ),
        multipart_call("missing-file", "/upload", fields=[("other", "x")]),
        case("optional-absent", "POST", "/optional"),
        multipart_call(
            "large",
            "/bytes",
            files=[("file", "big.bin", "application/octet-stream", hashlib.sha512(b"x").digest() * 16384)],
        ),
    ],
    "binary_bodies": [
        case("not-utf8-in", "POST", "/digest", body=NOT_UTF8, headers=[("Content-Type", "application/octet-stream")]),
        case("not-utf8-no-type", "POST", "/digest", body=NOT_UTF8),
        case("reverse", "POST", "/reverse", body=NOT_UTF8, headers=[("Content-Type", "application/octet-stream")]),
        get("png", "/image.png"),
        get("png-accept-image", "/image.png", headers=[("Accept", "image/png")]),
        get("png-browser-accept", "/image.png", headers=[("Accept", "image/webp,image/*,*/*;q=0.8")]),
        get("png-json-accept", "/image.png", headers=[("Accept", "application/json")]),
        get("all-bytes", "/all-bytes"),
        get("latin-1-text", "/latin-1"),
        get("utf-8-text", "/utf-8-text"),
        case(
            "text-echo",
            "POST",
            "/text-echo",
            body="Grüße ✓".encode(),
            headers=[("Content-Type", "text/plain; charset=utf-8")],
        ),
        case(
            "text-echo-latin-1",
            "POST",
            "/text-echo",
            body="Grüße".encode("latin-1"),
            headers=[("Content-Type", "text/plain; charset=latin-1")],
        ),
    ],
}


@each_case(CASES)
def test_answers_as_uvicorn(running: Fleet, app: str, exchange: Case, record_property: RecordProperty) -> None:
    assert_same_answer(running[app], exchange, record_property)
