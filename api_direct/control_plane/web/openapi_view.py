"""An API's OpenAPI document as the API page lists it: each operation with its parameters and responses.

Rendered on the server from the document the creator published, rather than with
Swagger UI, which would mean shipping (or fetching from a CDN) a large script.
Only local ``$ref``s are followed, once: a document is the creator's input, and a
page must render whatever it holds, never loop on it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    type: str
    description: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: tuple[Parameter, ...]
    #: (status, description), in the document's order.
    responses: tuple[tuple[str, str], ...]

    @property
    def anchor(self) -> str:
        return f"op-{self.method}-{''.join(c if c.isalnum() else '-' for c in self.path).strip('-')}"


def operations(document: Mapping[str, Any]) -> list[Operation]:
    found = []
    for path, item in _mapping(document.get("paths")).items():
        item = _mapping(item)
        shared = _list(item.get("parameters"))
        for method in _METHODS:
            operation = _mapping(item.get(method))
            if not operation:
                continue
            parameters = [_parameter(document, p) for p in (*shared, *_list(operation.get("parameters")))]
            found.append(
                Operation(
                    method=method.upper(),
                    path=str(path),
                    summary=_text(operation.get("summary")),
                    description=_text(operation.get("description")),
                    parameters=tuple(p for p in parameters if p is not None),
                    responses=tuple(
                        (str(status), _text(_resolve(document, answer).get("description")))
                        for status, answer in _mapping(operation.get("responses")).items()
                    ),
                )
            )
    return found


def example_path(document: Mapping[str, Any]) -> str:
    """A GET without path parameters, for the curl example beside a new key; ``/`` if there is none."""
    for operation in operations(document):
        if operation.method == "GET" and "{" not in operation.path:
            return operation.path
    return "/"


def _parameter(document: Mapping[str, Any], value: Any) -> Parameter | None:
    parameter = _resolve(document, value)
    if "name" not in parameter:
        return None
    schema = _resolve(document, parameter.get("schema"))
    kind = schema.get("type") or " | ".join(
        str(_resolve(document, s).get("type", "")) for s in _list(schema.get("anyOf"))
    )
    return Parameter(
        name=_text(parameter["name"]),
        location=_text(parameter.get("in")),
        required=bool(parameter.get("required")),
        type=_text(kind) or "any",
        description=_text(parameter.get("description")),
    )


def _resolve(document: Mapping[str, Any], value: Any) -> Mapping[str, Any]:
    value = _mapping(value)
    reference = value.get("$ref")
    if not isinstance(reference, str) or not reference.startswith("#/"):
        return value
    target: Any = document
    for part in reference[2:].split("/"):
        target = _mapping(target).get(part.replace("~1", "/").replace("~0", "~"))
    return _mapping(target)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
