"""What an app keeps between requests: lifespan state and globals, background tasks, settings, SQLite in /tmp,
the compiled wheels (numpy, orjson), and the threads sync endpoints run on."""

import io
import struct

from tests.compat.differential import (
    Case,
    Fleet,
    RecordProperty,
    assert_same_answer,
    case,
    each_case,
    get,
    json_call,
    sequence,
)


def npy_float64(values: list[float]) -> bytes:
    """A .npy file made without numpy (the test process need not have it)."""
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({len(values)},), }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    out = io.BytesIO()
    out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1"))
    out.write(struct.pack(f"<{len(values)}d", *values))
    return out.getvalue()


CASES: dict[str, list[Case]] = {
    "lifespan_state": [
        get("state", "/state"),
        get("global-from-startup", "/config"),
        sequence("shared-counter", case("first", "POST", "/count"), case("second", "POST", "/count")),
        sequence("per-request-copy", get("changed", "/per-request"), get("after", "/after")),
    ],
    "background_tasks": [
        sequence("task-after-response", case("signup", "POST", "/signup/ann@example.com"), get("outbox", "/outbox")),
        sequence(
            "task-from-dependency",
            case("signup", "POST", "/signup/bo@example.com", query="q=promo"),
            get("outbox", "/outbox"),
        ),
    ],
    "settings_env": [
        get("info", "/info"),
        get("greet", "/greet/Welt"),
        get("capped", "/items", query="n=10"),
        get("openapi-title", "/openapi.json"),
    ],
    "sqlite_db": [
        get("created-at-startup", "/notes/1"),
        get("in-tmp", "/where"),
        sequence(
            "write-then-read",
            json_call("create", "POST", "/notes", {"title": "sequence", "body": "Grüße"}),
            get("search", "/notes", query="title=sequence"),
        ),
        get("missing", "/notes/999999"),
        json_call("invalid", "POST", "/notes", {"title": "no body"}),
    ],
    "numpy_arrays": [
        json_call("stats", "POST", "/stats", {"values": [1.5, 2.5, 3.0, 10.25, -4]}),
        json_call("stats-empty", "POST", "/stats", {"values": []}),
        get("matrix", "/matrix/4"),
        get("npy-bytes", "/array.npy", query="n=9"),
        case(
            "npy-upload",
            "POST",
            "/sum-npy",
            body=npy_float64([0.5, 1.25, 2.0]),
            headers=[("Content-Type", "application/octet-stream")],
        ),
    ],
    "orjson_responses": [
        get("datetimes-uuid", "/observation"),
        get("numpy-serialized", "/array"),
        get("list", "/list"),
        get("custom-render", "/pretty"),
        get("validation-error", "/nope"),
    ],
    "sync_async": [
        get("sync-in-threadpool", "/sync", query="n=1000"),
        get("run-in-threadpool", "/async", query="n=1000"),
        get("task-group", "/gather"),
    ],
}


@each_case(CASES)
def test_answers_as_uvicorn(running: Fleet, app: str, exchange: Case, record_property: RecordProperty) -> None:
    assert_same_answer(running[app], exchange, record_property)
