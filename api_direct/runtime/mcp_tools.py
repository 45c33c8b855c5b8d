"""An app's OpenAPI operations as MCP tools, and each tool call as the HTTP request to its route.

Pure: no AWS, no MCP SDK, no network (standard library only), so the deployed MCP
function, ``apid dev`` and the marketplace describe the same tools from the same
document.

A tool is one operation: its name the ``operationId`` (made to fit MCP's tool-name
rule), its description the summary and description, its input schema one object
whose properties are the operation's parameters by name (path, query, header and
cookie: FastAPI names them apart) and, when it takes a JSON or form body, that body
as one property ``body`` (``request_body`` if a parameter is already called
``body``). The schemas are the app's own (pydantic's JSON Schema), with their
``#/components/schemas/...`` references carried along as ``$defs``, so each tool's
schema stands alone.

Operations an agent cannot call through JSON are left out: a ``multipart/form-data``
or other non-JSON body (uploads), or a deprecated operation. ``exclude`` in
``[mcp]`` leaves out more (:func:`excluded`).
"""

import fnmatch
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast
from urllib.parse import quote, urlencode

ParameterIn = Literal["path", "query", "header", "cookie"]

#: Where every API serves MCP, under its stage (``https://<id>.execute-api.<region>.amazonaws.com/v1/mcp``): the
#: gateway's own resource, in front of the app's routes. Its requests are counted in the access log, never billed.
MCP_PATH = "/mcp"

#: MCP's rule for a tool name (spec 2025-11-25 on): 1 to 128 of these characters.
_TOOL_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_MAX_NAME = 128
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
#: Headers a tool call never sets from arguments: the key is the caller's, the rest HTTP's or the gateway's.
_RESERVED_HEADERS = frozenset({"x-api-key", "host", "content-length", "content-type", "authorization", "cookie"})
#: What a cookie's value may hold as it is (RFC 6265's cookie-octet): the rest is percent-encoded, so a token
#: (base64's ``+/=`` included) reaches the route unchanged, as no server decodes a cookie.
_COOKIE_OCTETS = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) not in '",;\\')


class ToolArgumentError(ValueError):
    """The arguments cannot make a request to the route: one line, for the agent to correct."""


@dataclass(frozen=True)
class Parameter:
    name: str
    location: ParameterIn
    required: bool


@dataclass(frozen=True)
class Body:
    #: The tool argument that carries the body.
    argument: str
    media_type: str
    required: bool


@dataclass(frozen=True)
class Tool:
    """One operation of the app as an MCP tool, with what turning its arguments into a request needs."""

    name: str
    description: str
    method: str
    path: str
    input_schema: dict[str, Any]
    parameters: tuple[Parameter, ...] = ()
    body: Body | None = None
    #: ``"GET /forecast/{city}"``: how the route is named in excludes and messages.
    route: str = field(default="")


@dataclass(frozen=True)
class RouteCall:
    """The HTTP request a tool call is, relative to the API's base URL."""

    method: str
    #: The path with its query string, percent-encoded.
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None


@dataclass(frozen=True)
class Skipped:
    route: str
    why: str


@dataclass(frozen=True)
class Toolset:
    tools: tuple[Tool, ...]
    skipped: tuple[Skipped, ...] = ()

    def named(self, name: str) -> Tool | None:
        return next((tool for tool in self.tools if tool.name == name), None)


def tools_of(openapi: Mapping[str, Any], exclude: Sequence[str] = ()) -> Toolset:
    """Every callable operation of ``openapi`` as a tool, in the document's order; names unique."""
    tools: list[Tool] = []
    skipped: list[Skipped] = []
    taken: set[str] = set()
    components = cast(Mapping[str, Any], openapi.get("components", {})).get("schemas", {})
    for path, item in cast(Mapping[str, Any], openapi.get("paths", {})).items():
        shared = cast(list[Mapping[str, Any]], item.get("parameters", []))
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, Mapping):
                continue
            route = f"{method.upper()} {path}"
            operation_id = str(operation.get("operationId") or f"{method}_{path}")
            if excluded(route, operation_id, exclude):
                skipped.append(Skipped(route, "excluded by [mcp] exclude"))
                continue
            if operation.get("deprecated"):
                skipped.append(Skipped(route, "deprecated"))
                continue
            try:
                tool = _tool(route, method, path, operation, [*shared, *operation.get("parameters", [])], components)
            except _Uncallable as reason:
                skipped.append(Skipped(route, str(reason)))
                continue
            name = _unique(_tool_name(operation_id), taken)
            taken.add(name)
            tools.append(replace(tool, name=name))
    return Toolset(tuple(tools), tuple(skipped))


def excluded(route: str, operation_id: str, patterns: Iterable[str]) -> bool:
    """Whether ``[mcp] exclude`` names the operation: by operation id, path or ``METHOD path``, with ``*`` globs.

    ``"/admin/*"`` leaves out every method under ``/admin/``; ``"DELETE /items/{item_id}"`` one operation;
    ``"read_secrets"`` the operation with that id.
    """
    method, _, path = route.partition(" ")
    for pattern in patterns:
        if " " in pattern:
            wanted_method, _, wanted_path = pattern.partition(" ")
            if wanted_method.upper() == method and fnmatch.fnmatchcase(path, wanted_path):
                return True
        elif pattern.startswith("/"):
            if fnmatch.fnmatchcase(path, pattern):
                return True
        elif fnmatch.fnmatchcase(operation_id, pattern):
            return True
    return False


def route_call(tool: Tool, arguments: Mapping[str, Any]) -> RouteCall:
    """The request to ``tool``'s route that ``arguments`` (already valid against its schema) make."""
    path = tool.path
    query: list[tuple[str, str]] = []
    headers: list[tuple[str, str]] = []
    cookies: list[str] = []
    for parameter in tool.parameters:
        if parameter.name not in arguments or arguments[parameter.name] is None:
            if parameter.required:
                raise ToolArgumentError(f"missing required argument {parameter.name!r}")
            continue
        value = arguments[parameter.name]
        if parameter.location == "path":
            segment = _text(value)
            if segment in ("", ".", ".."):  # "/items/", "/items/.." would call another route, or none
                raise ToolArgumentError(f"argument {parameter.name!r} is {segment!r}, which a path segment cannot be")
            path = path.replace("{" + parameter.name + "}", quote(segment, safe=""))
        elif parameter.location == "query":
            values = value if isinstance(value, list) else [value]
            query.extend((parameter.name, _text(one)) for one in values)
        elif parameter.location == "header":
            headers.append((parameter.name, _header_value(parameter.name, _text(value))))
        else:
            cookies.append(f"{parameter.name}={quote(_text(value), safe=_COOKIE_OCTETS)}")
    if cookies:
        headers.append(("cookie", "; ".join(cookies)))
    body: bytes | None = None
    if tool.body is not None and tool.body.argument in arguments:
        payload = arguments[tool.body.argument]
        if tool.body.media_type == _FORM:
            if not isinstance(payload, Mapping):
                raise ToolArgumentError(f"{tool.body.argument!r} must be an object of form fields")
            body = urlencode([(key, _text(value)) for key, value in payload.items()], doseq=False).encode()
        else:
            body = json.dumps(payload, separators=(",", ":")).encode()
        headers.append(("content-type", tool.body.media_type))
    elif tool.body is not None and tool.body.required:
        raise ToolArgumentError(f"missing required argument {tool.body.argument!r}")
    target = path + (f"?{urlencode(query)}" if query else "")
    return RouteCall(tool.method.upper(), target, tuple(headers), body)


def _text(value: Any) -> str:
    """A parameter's value as its route reads it: JSON's ``true``/``false`` for booleans, strings as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _header_value(name: str, value: str) -> str:
    """``value`` if a header can carry it (HTTP's latin-1, no control characters), else the agent's error."""
    if any(ord(char) > 0xFF or (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F for char in value):
        raise ToolArgumentError(f"argument {name!r} holds characters a header cannot carry")
    return value


class _Uncallable(Exception):
    """Why an operation cannot be a tool."""


def _tool(
    route: str,
    method: str,
    path: str,
    operation: Mapping[str, Any],
    parameters: list[Mapping[str, Any]],
    components: Mapping[str, Any],
) -> Tool:
    properties: dict[str, Any] = {}
    required: list[str] = []
    taken: list[Parameter] = []
    by_name: dict[tuple[str, str], Mapping[str, Any]] = {}
    for parameter in parameters:  # an operation's own parameter overrides the path item's of the same name
        by_name[(str(parameter.get("name")), str(parameter.get("in")))] = parameter
    for (name, location), parameter in by_name.items():
        if location not in ("path", "query", "header", "cookie"):
            raise _Uncallable(f"parameter {name!r} is in {location!r}")
        if location == "header" and name.lower() in _RESERVED_HEADERS:
            continue
        if name in properties:
            raise _Uncallable(f"two parameters are named {name!r}")
        schema = dict(parameter.get("schema") or {})
        if parameter.get("description") and "description" not in schema:
            schema["description"] = parameter["description"]
        is_required = bool(parameter.get("required")) or location == "path"
        properties[name] = schema
        if is_required:
            required.append(name)
        taken.append(Parameter(name, cast(ParameterIn, location), is_required))
    body = _body(operation.get("requestBody"), set(properties))
    if body is not None:
        content = cast(Mapping[str, Any], operation["requestBody"]["content"])
        schema = dict(content[body.media_type].get("schema") or {})
        description = operation["requestBody"].get("description")
        if description and "description" not in schema:
            schema["description"] = description
        properties[body.argument] = schema
        if body.required:
            required.append(body.argument)
    input_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = required
    definitions = _definitions(input_schema, components)
    if definitions:
        input_schema["$defs"] = definitions
    return Tool(
        name="",
        description=_description(operation, route),
        method=method,
        path=path,
        input_schema=_rewrite_refs(input_schema),
        parameters=tuple(taken),
        body=body,
        route=route,
    )


def _body(request_body: Any, parameter_names: set[str]) -> Body | None:
    if not isinstance(request_body, Mapping):
        return None
    content = cast(Mapping[str, Any], request_body.get("content", {}))
    media_type = next((kind for kind in (_JSON, _FORM) if kind in content), None)
    if media_type is None:
        if content:
            raise _Uncallable(f"its body is {', '.join(content)}, which a tool's JSON arguments cannot carry")
        return None
    argument = next(name for name in ("body", "request_body", "_body") if name not in parameter_names)
    return Body(argument, media_type, bool(request_body.get("required")))


def _description(operation: Mapping[str, Any], route: str) -> str:
    parts = [str(part).strip() for part in (operation.get("summary"), operation.get("description")) if part]
    return "\n\n".join(dict.fromkeys(parts)) or route


def _definitions(schema: Any, components: Mapping[str, Any]) -> dict[str, Any]:
    """The components ``schema`` refers to, directly or through each other."""
    found: dict[str, Any] = {}
    pending = list(_refs(schema))
    while pending:
        name = pending.pop()
        if name in found or name not in components:
            continue
        found[name] = components[name]
        pending.extend(_refs(components[name]))
    return {name: _rewrite_refs(found[name]) for name in sorted(found)}


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.removeprefix("#/components/schemas/")
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {
            key: (
                value.replace("#/components/schemas/", "#/$defs/")
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(value) for value in node]
    return node


def _tool_name(operation_id: str) -> str:
    return _TOOL_NAME.sub("_", operation_id)[:_MAX_NAME] or "operation"


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    for n in itertools.count(2):
        suffix = f"_{n}"
        candidate = name[: _MAX_NAME - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable")
