"""Calls any app can be sent, read from its own OpenAPI document: each GET and POST operation, filled in.

``apid sandbox`` and ``apid dev`` know nothing of a creator's routes, so they ask
the document FastAPI writes for them. Every value an operation needs (path
parameters, required query, header and cookie parameters, a JSON or form body)
comes from an example the app gives, the parameter's or media type's
``example``/``examples`` first, then the schema's (where pydantic's
``Field(examples=[...])`` lands), or else is made from the schema itself: its
type, format, enum, bounds, lengths, a simple pattern, ``$ref``s resolved,
objects with their required properties, arrays, ``anyOf``/``oneOf``/nullable
(the first option that can be made, not ``null``).

What cannot be filled that way is skipped with the reason, not guessed at: a
multipart upload, a parameter described by ``content``, an operation that needs
the app's own credentials (its ``security``), a pattern with lookarounds.
Nothing is random: the same document gives the same calls, byte for byte.
"""

import json
import math
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import quote, urlencode

#: The operations called, in this order within a path.
METHODS = ("get", "post")
#: How deep a value may nest before its schema counts as recursive; past half of it, ``null`` is preferred.
MAX_DEPTH = 16
#: Values for string formats; each also satisfies the format's usual checks (pydantic's included).
FORMATS: Mapping[str, str] = {
    "date": "2025-01-15",
    "date-time": "2025-01-15T12:00:00Z",
    "time": "12:00:00",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "uuid1": "a8098c1a-f86e-11da-bd1a-00112444be1e",
    "uuid3": "a3bb189e-8bf9-3888-9912-ace4e6543002",
    "uuid4": "123e4567-e89b-42d3-a456-426614174000",
    "uuid5": "886313e1-3b8a-5372-9b90-0c9aee199e5d",
    "byte": "c2FtcGxl",
    "binary": "sample",
    "password": "sample-password",
    "json-string": '"sample"',
}
#: Header parameters OpenAPI says are ignored (the request's own headers decide them), and the gateway's key.
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization", "x-api-key"})
_MISSING = object()


class Unsupported(Exception):
    """A schema or operation the calls cannot be made for; the message says why, in a few words."""


@dataclass(frozen=True)
class SampleCall:
    """One request to an operation, ready to send: ``path`` is below the stage, percent-encoded."""

    #: ``GET /hello/{who}``: the operation as the document names it.
    operation: str
    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def target(self) -> str:
        """Path and query string, as in a URL."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def curl(self, base_url: str, *extra_headers: tuple[str, str]) -> str:
        """The ``curl`` command that makes this call against ``base_url``, quoted for a POSIX shell."""
        inferred = "POST" if self.body else "GET"
        words = ["curl"] if self.method == inferred else ["curl", "-X", self.method]
        for name, value in (*extra_headers, *self.headers):
            words += ["-H", f"{name}: {value}"]
        if self.body:
            words += ["--data-binary", self.body.decode("utf-8", errors="replace")]
        words.append(base_url.rstrip("/") + self.target)
        return shlex.join(words)


@dataclass(frozen=True)
class SkippedOperation:
    operation: str
    reason: str

    def __str__(self) -> str:
        return f"{self.operation} ({self.reason})"


@dataclass(frozen=True)
class SampleCalls:
    """What a document offers: the calls, the operations skipped and why, and a path no route matches."""

    calls: tuple[SampleCall, ...]
    skipped: tuple[SkippedOperation, ...]
    #: A path none of the document's paths matches, for a call that must get the app's 404; None if every path may.
    unknown_path: str | None


def sample_calls(document: Mapping[str, Any]) -> SampleCalls:
    """One call for each GET and POST operation of ``document`` that can be filled in, in the document's order."""
    calls: list[SampleCall] = []
    skipped: list[SkippedOperation] = []
    paths: Mapping[str, Any] = document.get("paths") or {}
    for template, item in paths.items():
        item = _resolved(item, document)
        for method, operation in item.items():
            if method in ("parameters", "servers", "summary", "description", "$ref") or not isinstance(
                operation, Mapping
            ):
                continue
            name = f"{method.upper()} {template}"
            if method not in METHODS:
                skipped.append(SkippedOperation(name, "only GET and POST operations are called"))
                continue
            try:
                calls.append(_call(name, method.upper(), template, item, operation, document))
            except Unsupported as reason:
                skipped.append(SkippedOperation(name, str(reason)))
    return SampleCalls(tuple(calls), tuple(skipped), unknown_path(paths))


def unknown_path(templates: Sequence[str] | Mapping[str, Any]) -> str | None:
    """A path that none of ``templates`` (``/items/{item_id}``...) matches, even with a parameter spanning ``/``."""
    patterns = [_template_pattern(template) for template in templates]
    for candidate in ("/apid-sandbox-no-such-route", "/apid-sandbox/no/such/route", "/.apid-sandbox-no-such-route"):
        if not any(pattern.fullmatch(candidate) for pattern in patterns):
            return candidate
    return None


def path_matches(template: str, path: str) -> bool:
    """Whether ``path`` could be served by the route ``template`` (a parameter may span ``/``, as ``:path`` does)."""
    return _template_pattern(template).fullmatch(path) is not None


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]*\}", template)
    return re.compile(".+".join(re.escape(part) for part in parts))


# One operation.


def _call(
    name: str,
    method: str,
    template: str,
    item: Mapping[str, Any],
    operation: Mapping[str, Any],
    document: Mapping[str, Any],
) -> SampleCall:
    security = operation.get("security", document.get("security"))
    if security and not any(requirement == {} for requirement in security):
        schemes = sorted({scheme for requirement in security for scheme in requirement})
        raise Unsupported(f"needs the app's own credentials: {', '.join(schemes)}")
    path_values: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    headers: list[tuple[str, str]] = []
    cookies: list[tuple[str, str]] = []
    for parameter in _parameters(item, operation, document):
        where, param_name = parameter.get("in"), parameter.get("name", "")
        if where != "path" and not parameter.get("required", False):
            continue
        if where == "header" and param_name.lower() in _IGNORED_HEADERS:
            continue
        value = _parameter_value(parameter, document)
        if where == "path":
            path_values[param_name] = quote(_scalar_text(value, param_name), safe="")
        elif where == "query":
            values = value if isinstance(value, list) else [value]
            query += [(param_name, _scalar_text(one, param_name)) for one in values]
        elif where == "header":
            headers.append((param_name, _joined_text(value, param_name)))
        elif where == "cookie":
            cookies.append((param_name, _joined_text(value, param_name)))
        else:
            raise Unsupported(f"parameter {param_name!r} in {where!r}")

    def filled(match: re.Match[str]) -> str:
        key = match.group(1).split(":", 1)[0]
        if key not in path_values:
            raise Unsupported(f"path parameter {{{key}}} is not described")
        return path_values[key]

    path = re.sub(r"\{([^}]*)\}", filled, template)
    if cookies:
        headers.append(("cookie", "; ".join(f"{key}={value}" for key, value in cookies)))
    body, content_type = _request_body(operation, document)
    if content_type:
        headers.append(("content-type", content_type))
    return SampleCall(name, method, path, urlencode(query), tuple(headers), body)


def _parameters(
    item: Mapping[str, Any], operation: Mapping[str, Any], document: Mapping[str, Any]
) -> Iterator[Mapping[str, Any]]:
    """The path item's parameters overridden by the operation's (a parameter is its name and location)."""
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for parameter in (*(item.get("parameters") or ()), *(operation.get("parameters") or ())):
        parameter = _resolved(parameter, document)
        merged[(parameter.get("name", ""), parameter.get("in", ""))] = parameter
    yield from merged.values()


def _parameter_value(parameter: Mapping[str, Any], document: Mapping[str, Any]) -> Any:
    example = _example(parameter)
    if example is not _MISSING:
        return example
    if "schema" not in parameter:
        raise Unsupported(f"parameter {parameter.get('name')!r} is described by content, not a schema")
    return sample_value(parameter["schema"], document)


def _request_body(operation: Mapping[str, Any], document: Mapping[str, Any]) -> tuple[bytes, str]:
    """The body bytes and their ``Content-Type``; ``(b"", "")`` for none."""
    request_body = operation.get("requestBody")
    if not request_body:
        return b"", ""
    request_body = _resolved(request_body, document)
    content: Mapping[str, Any] = request_body.get("content") or {}
    required = bool(request_body.get("required", False))
    for media_type, media in content.items():
        kind = media_type.split(";")[0].strip().lower()
        if kind == "application/json" or kind.endswith("+json"):
            try:
                return json.dumps(_media_value(media, document), separators=(",", ":")).encode(), media_type
            except Unsupported:
                if required:
                    raise
                return b"", ""
        if kind == "application/x-www-form-urlencoded":
            value = _media_value(media, document)
            if not isinstance(value, Mapping):
                raise Unsupported("a form body that is not an object")
            fields = [
                (key, _scalar_text(one, key))
                for key, field_value in value.items()
                for one in (field_value if isinstance(field_value, list) else [field_value])
            ]
            return urlencode(fields).encode(), media_type
    if required:
        raise Unsupported(f"request body only as {', '.join(content) or 'an undescribed type'}")
    return b"", ""


def _media_value(media: Mapping[str, Any], document: Mapping[str, Any]) -> Any:
    example = _example(media)
    return example if example is not _MISSING else sample_value(media.get("schema") or {}, document)


def _scalar_text(value: Any, name: str) -> str:
    """A parameter value as text in a URL or header: ``true``, ``3``, ``1.5``, the string itself."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    raise Unsupported(f"parameter {name!r} is an object")


def _joined_text(value: Any, name: str) -> str:
    """A header or cookie value: a list comma-joined (OpenAPI's ``simple``/``form`` styles)."""
    if isinstance(value, list):
        return ",".join(_scalar_text(one, name) for one in value)
    return _scalar_text(value, name)


# Values from schemas.


def sample_value(schema: Any, document: Mapping[str, Any] | None = None) -> Any:
    """A value valid against ``schema`` (refs resolved in ``document``): its example, else one made from it.

    ``Unsupported`` when no value can be made with confidence.
    """
    return _value(schema, document or {}, 0)


def _value(schema: Any, document: Mapping[str, Any], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Unsupported("a schema nested too deeply (recursive?)")
    if schema is True or schema == {}:
        return "sample"
    if not isinstance(schema, Mapping):
        raise Unsupported("a schema that admits nothing")
    schema = _resolved(schema, document)
    example = _example(schema)
    if example is not _MISSING:
        return example
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        if not schema["enum"]:
            raise Unsupported("an empty enum")
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return _first_option(schema[combinator], document, depth)
    if "allOf" in schema:
        return _value(_merged(schema, document), document, depth + 1)
    if "not" in schema:
        raise Unsupported("a 'not' schema")
    kind = _type_of(schema)
    if kind == "null":
        return None
    if kind == "boolean":
        return True
    if kind == "integer":
        return _integer(schema)
    if kind == "number":
        return _number(schema)
    if kind == "string":
        return _string(schema)
    if kind == "array":
        return _array(schema, document, depth)
    if kind == "object":
        return _object(schema, document, depth)
    if kind is None:
        return "sample"
    raise Unsupported(f"a schema of type {kind!r}")


def _type_of(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        choices = [one for one in kind if one != "null"]
        kind = choices[0] if choices else ("null" if kind else None)
    if kind is not None:
        return str(kind)
    if any(key in schema for key in ("properties", "required", "additionalProperties", "minProperties")):
        return "object"
    if any(key in schema for key in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(key in schema for key in ("minLength", "maxLength", "pattern", "format")):
        return "string"
    if any(key in schema for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return None


def _first_option(options: Sequence[Any], document: Mapping[str, Any], depth: int) -> Any:
    """The first option a value can be made for, ``null`` options last (a real value says more), but first when deep.

    Deep in a value, ``null`` ends a recursive schema (a tree's optional children) early.
    """
    deep = depth > MAX_DEPTH // 2
    ordered = sorted(options, key=lambda option: (isinstance(option, Mapping) and option.get("type") == "null") != deep)
    reasons = []
    for option in ordered:
        try:
            return _value(option, document, depth + 1)
        except Unsupported as reason:
            reasons.append(str(reason))
    raise Unsupported(reasons[0] if reasons else "an empty anyOf")


def _merged(schema: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """``allOf`` as one schema: its parts' keywords together, properties and required lists joined."""
    merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    for part in schema["allOf"]:
        part = _resolved(part, document) if isinstance(part, Mapping) else {}
        if "allOf" in part:
            part = _merged(part, document)
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            elif key in merged and merged[key] != value and key not in ("title", "description"):
                raise Unsupported(f"allOf parts that disagree on {key!r}")
            else:
                merged[key] = value
    return merged


def _integer(schema: Mapping[str, Any]) -> int:
    low, high = _bounds(schema)
    low_int = None if low is None else (math.floor(low[0]) + 1 if low[1] else math.ceil(low[0]))
    high_int = None if high is None else (math.ceil(high[0]) - 1 if high[1] else math.floor(high[0]))
    value = _clamped(1, low_int, high_int)
    candidates = [value]
    if schema.get("multipleOf") is not None:
        step = Fraction(str(schema["multipleOf"]))
        if step <= 0 or step.denominator != 1:
            raise Unsupported(f"an integer multiple of {schema['multipleOf']}")
        candidates = [math.ceil(value / step) * int(step), math.floor(value / step) * int(step)]
    for candidate in candidates:
        if (low_int is None or candidate >= low_int) and (high_int is None or candidate <= high_int):
            return int(candidate)
    raise Unsupported("integer bounds no value meets")


def _number(schema: Mapping[str, Any]) -> float:
    low, high = _bounds(schema)
    candidates = [Fraction(1)]
    if low is not None and high is not None:
        candidates.append((low[0] + high[0]) / 2)
    if low is not None:
        candidates += [low[0] + 1, low[0]]
    if high is not None:
        candidates += [high[0] - 1, high[0]]
    step = None if schema.get("multipleOf") is None else Fraction(str(schema["multipleOf"]))
    if step is not None and step <= 0:
        raise Unsupported(f"a multiple of {schema['multipleOf']}")
    for candidate in candidates:
        if step is not None:
            candidate = math.ceil(candidate / step) * step
        value = float(candidate)
        if _within(candidate, low, high) and _within(value, low, high):
            return value
    raise Unsupported("number bounds no value meets")


def _bounds(schema: Mapping[str, Any]) -> tuple[tuple[Fraction, bool] | None, tuple[Fraction, bool] | None]:
    """``((low, exclusive), (high, exclusive))`` from either OpenAPI 3.1's or 3.0's way of writing them."""

    def bound(inclusive: str, exclusive: str) -> tuple[Fraction, bool] | None:
        flag = schema.get(exclusive)
        if isinstance(flag, int | float) and not isinstance(flag, bool):
            return Fraction(str(flag)), True
        if inclusive in schema:
            return Fraction(str(schema[inclusive])), flag is True
        return None

    return bound("minimum", "exclusiveMinimum"), bound("maximum", "exclusiveMaximum")


def _within(value: Fraction | float, low: tuple[Fraction, bool] | None, high: tuple[Fraction, bool] | None) -> bool:
    """Whether ``value`` meets the bounds: exactly for a fraction, as a float compares with them for a float."""

    def exact(bound: Fraction) -> Fraction | float:
        return float(bound) if isinstance(value, float) else bound

    if low is not None and (value < exact(low[0]) or (low[1] and value == exact(low[0]))):
        return False
    return not (high is not None and (value > exact(high[0]) or (high[1] and value == exact(high[0]))))


def _clamped(value: int, low: int | None, high: int | None) -> int:
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    return value


def _string(schema: Mapping[str, Any]) -> str:
    shortest, longest = int(schema.get("minLength", 0)), schema.get("maxLength")
    pattern, form = schema.get("pattern"), schema.get("format")
    if pattern is not None:
        value = pattern_sample(str(pattern), shortest, longest)
    elif isinstance(form, str) and form in FORMATS:
        value = FORMATS[form]
    else:
        value = "sample"
        if len(value) < shortest:
            value += "x" * (shortest - len(value))
        if longest is not None:
            value = value[: int(longest)]
    if len(value) < shortest or (longest is not None and len(value) > int(longest)):
        raise Unsupported(f"no {form or 'string'} value of {shortest} to {longest} characters")
    return value


def _array(schema: Mapping[str, Any], document: Mapping[str, Any], depth: int) -> list[Any]:
    prefix = list(schema.get("prefixItems") or ())
    fewest, most = int(schema.get("minItems", 0)), schema.get("maxItems")
    count = max(fewest, len(prefix), 1)
    if most is not None:
        count = min(count, int(most))
    items = schema.get("items", True)
    try:
        values = [_value(prefix[i] if i < len(prefix) else items, document, depth + 1) for i in range(count)]
    except Unsupported:
        if fewest or prefix:
            raise
        return []
    if schema.get("uniqueItems") and len({json.dumps(value, sort_keys=True) for value in values}) < len(values):
        if fewest > 1:
            raise Unsupported(f"{fewest} unique items") from None
        values = values[:1]
    if count < fewest:
        raise Unsupported("array bounds no length meets")
    return values


def _object(schema: Mapping[str, Any], document: Mapping[str, Any], depth: int) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    additional = schema.get("additionalProperties", True)
    names = list(dict.fromkeys(schema.get("required") or ()))
    optional = [name for name in properties if name not in names]
    fewest = int(schema.get("minProperties", 0))
    names += optional[: max(fewest - len(names), 0)]
    value: dict[str, Any] = {}
    for name in names:
        if name in properties:
            value[name] = _value(properties[name], document, depth + 1)
        elif additional is False:
            raise Unsupported(f"required property {name!r} that is not allowed")
        else:
            value[name] = _value(additional, document, depth + 1)
    extra = 1
    while len(value) < fewest:
        if additional is False:
            raise Unsupported(f"{fewest} properties when only {len(properties)} are allowed")
        value[f"key{extra}"] = _value(additional, document, depth + 1)
        extra += 1
    most = schema.get("maxProperties")
    if most is not None and len(value) > int(most):
        raise Unsupported("object bounds no value meets")
    return value


def _example(holder: Mapping[str, Any]) -> Any:
    """The holder's ``example``, or its first ``examples`` (a JSON Schema list, or OpenAPI's map of Example Objects)."""
    if "example" in holder:
        return holder["example"]
    examples = holder.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    if isinstance(examples, Mapping):
        for example in examples.values():
            if isinstance(example, Mapping) and "value" in example:
                return example["value"]
    return _MISSING


def _resolved(value: Any, document: Mapping[str, Any]) -> Any:
    """``value`` with its local ``$ref`` (``#/components/schemas/City``) followed, sibling keywords kept over it."""
    seen: set[str] = set()
    while isinstance(value, Mapping) and isinstance(value.get("$ref"), str):
        reference = value["$ref"]
        if reference in seen or not reference.startswith("#/"):
            raise Unsupported(f"a reference that cannot be followed: {reference}")
        seen.add(reference)
        target: Any = document
        for part in reference[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise Unsupported(f"a reference to nothing: {reference}")
            target = target[part]
        siblings = {key: item for key, item in value.items() if key != "$ref"}
        value = {**target, **siblings} if isinstance(target, Mapping) else target
    return value


# Strings from simple patterns.

_CLASS_ESCAPES = {"d": "0123456789", "w": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", "s": " "}
#: Characters tried, in order, for ``.`` and negated classes.
_PLAIN = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-"


@dataclass
class _Piece:
    """A pattern atom with its repetition: ``text`` once per repeat."""

    text: str
    fewest: int
    most: int | None
    count: int = 0


def pattern_sample(pattern: str, shortest: int = 0, longest: int | None = None) -> str:
    """A string ``re.search(pattern, ...)`` finds, of ``shortest`` to ``longest`` characters, for simple patterns.

    Simple: literals, escapes, ``.``, character classes, groups (the first
    alternative), ``|`` and quantifiers. Anything else (lookarounds,
    back-references, ``\\b``) is ``Unsupported``, as is a result that does not match.
    """
    pieces = _PatternReader(pattern).top()
    for piece in pieces:
        piece.count = piece.fewest
    length = sum(len(piece.text) * piece.count for piece in pieces)
    for piece in pieces:
        while length < shortest and piece.text and (piece.most is None or piece.count < piece.most):
            piece.count += 1
            length += len(piece.text)
    value = "".join(piece.text * piece.count for piece in pieces)
    fits = len(value) >= shortest and (longest is None or len(value) <= longest)
    try:
        matched = re.search(pattern, value) is not None
    except re.error:
        matched = False
    if not matched:
        raise Unsupported(f"pattern {pattern!r} is not simple enough to fill")
    if not fits:
        raise Unsupported(f"pattern {pattern!r} in {shortest} to {longest} characters")
    return value


class _PatternReader:
    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.at = 0

    def top(self) -> list[_Piece]:
        """The pattern's first alternative as pieces; anchors dropped."""
        pieces = self.sequence()
        if self.at < len(self.text) and self.text[self.at] == "|":
            self.at = len(self.text)  # the first alternative is enough
        if self.at != len(self.text):
            raise Unsupported(f"pattern {self.text!r} is not simple enough to fill")
        return pieces

    def sequence(self) -> list[_Piece]:
        pieces: list[_Piece] = []
        while self.at < len(self.text) and self.text[self.at] not in "|)":
            atom = self.atom()
            if atom is None:
                continue
            fewest, most = self.quantifier()
            pieces.append(_Piece(atom, fewest, most))
        return pieces

    def atom(self) -> str | None:
        char = self.text[self.at]
        self.at += 1
        if char in "^$":
            return None
        if char == ".":
            return "a"
        if char == "[":
            return self.char_class()
        if char == "(":
            return self.group()
        if char == "\\":
            return self.escape(in_class=False)
        if char in "*+?{":
            raise Unsupported(f"pattern {self.text!r} is not simple enough to fill")
        return char

    def group(self) -> str:
        if self.text.startswith("?:", self.at):
            self.at += 2
        elif self.text.startswith("?", self.at):
            raise Unsupported(f"pattern {self.text!r} is not simple enough to fill")
        pieces = self.sequence()
        depth = 0
        while self.at < len(self.text):  # skip the other alternatives
            char = self.text[self.at]
            if char == "\\":
                self.at += 2
                continue
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            self.at += 1
        if self.at >= len(self.text):
            raise Unsupported(f"pattern {self.text!r} is not simple enough to fill")
        self.at += 1
        return "".join(piece.text * piece.fewest for piece in pieces)

    def escape(self, *, in_class: bool) -> str:
        if self.at >= len(self.text):
            raise Unsupported(f"pattern {self.text!r} is not simple enough to fill")
        char = self.text[self.at]
        self.at += 1
        if char in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[char] if in_class else _CLASS_ESCAPES[char][0]
        if char in "DWSbBAZz0123456789pPkxuUNcg":
            raise Unsupported(f"pattern {self.text!r} is not simple enough to fill")
        return {"n": "\n", "t": "\t", "r": "\r"}.get(char, char)

    def char_class(self) -> str:
        negated = self.text.startswith("^", self.at)
        if negated:
            self.at += 1
        members = ""
        first = True
        while self.at < len(self.text) and (self.text[self.at] != "]" or first):
            first = False
            char = self.text[self.at]
            self.at += 1
            if char == "\\":
                members += self.escape(in_class=True)
            elif char == "[":
                raise Unsupported(f"pattern {self.text!r} is not simple enough to fill")
            elif self.at + 1 < len(self.text) and self.text[self.at] == "-" and self.text[self.at + 1] != "]":
                end = self.text[self.at + 1]
                self.at += 2
                if end == "\\" or ord(end) < ord(char):
                    raise Unsupported(f"pattern {self.text!r} is not simple enough to fill")
                members += "".join(chr(code) for code in range(ord(char), ord(end) + 1))
            else:
                members += char
        if self.at >= len(self.text):
            raise Unsupported(f"pattern {self.text!r} is not simple enough to fill")
        self.at += 1
        if negated:
            choice = next((char for char in _PLAIN if char not in members), None)
        else:
            choice = next((char for char in _PLAIN if char in members), members[:1] or None)
        if choice is None:
            raise Unsupported(f"pattern {self.text!r} is not simple enough to fill")
        return choice

    def quantifier(self) -> tuple[int, int | None]:
        if self.at >= len(self.text):
            return 1, 1
        char = self.text[self.at]
        bounds: tuple[int, int | None]
        if char == "*":
            bounds, self.at = (0, None), self.at + 1
        elif char == "+":
            bounds, self.at = (1, None), self.at + 1
        elif char == "?":
            bounds, self.at = (0, 1), self.at + 1
        elif char == "{":
            match = re.compile(r"\{(\d+)(,(\d*))?\}").match(self.text, self.at)
            if match is None:
                return 1, 1
            fewest = int(match.group(1))
            most = fewest if match.group(2) is None else (int(match.group(3)) if match.group(3) else None)
            bounds, self.at = (fewest, most), match.end()
        else:
            return 1, 1
        if self.at < len(self.text) and self.text[self.at] in "?+":
            self.at += 1  # lazy or possessive: the same strings
        return bounds
