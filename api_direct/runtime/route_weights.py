"""How many units a call counts: ``[[routes]]`` weights, keyed as the deployed API's access log names routes.

The construct gives API Gateway a resource per weighted route, so a call's
``resourcePath`` in the access log is that route (``/forecast/{city}``), and
hands the weights to the usage forwarder in :data:`~api_direct.contracts.ROUTE_WEIGHTS_ENV`;
the forwarder, ``apid dev`` and the local gateway look calls up here. ``apid dev``
logs the app's own route template (``/files/{name:path}``), which reads as the
same route. Standard library only: the forwarder's bundle and ``apid dev`` import it.
"""

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from api_direct.contracts import ROUTE_WEIGHTS_ENV

#: API Gateway's catch-all below a resource: what the app's own routing gets the rest of the paths through.
PROXY = "{proxy+}"
#: A call's units when no route names it.
DEFAULT_WEIGHT = 1
#: The most units one call may count (``weight`` in ``apid.toml`` stops there too); what the control plane
#: checks a record's units against.
MAX_WEIGHT = 1000
_PATH_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):path\}")


def resource_path(route_path: str) -> str:
    """API Gateway's resource path of a FastAPI route path: ``{name:path}`` (the rest of the path) is ``{name+}``."""
    return _PATH_PARAMETER.sub(r"{\1+}", route_path)


class RouteSpec(Protocol):
    """What a route weight is made of (``apid.toml``'s :class:`~api_direct.project.RouteWeight` is one)."""

    @property
    def path(self) -> str: ...
    @property
    def methods(self) -> tuple[str, ...]: ...
    @property
    def weight(self) -> int: ...


@dataclass(frozen=True)
class WeightedRoute:
    """One ``[[routes]]`` entry by its resource path; ``methods`` empty means every method."""

    resource_path: str
    methods: tuple[str, ...]
    weight: int

    def matches(self, method: str, path: str) -> bool:
        return self.resource_path == resource_path(path) and (not self.methods or method.upper() in self.methods)


@dataclass(frozen=True)
class RouteWeights:
    """Every weighted route of an API, in ``apid.toml``'s order: the first that matches a call wins."""

    routes: tuple[WeightedRoute, ...] = ()

    @classmethod
    def of(cls, routes: Iterable[RouteSpec]) -> "RouteWeights":
        return cls(tuple(WeightedRoute(resource_path(r.path), tuple(r.methods), r.weight) for r in routes))

    def weight_of(self, method: str, path: str) -> int:
        """The units one ``method`` call of the resource (or route template) ``path`` counts."""
        return next((route.weight for route in self.routes if route.matches(method, path)), DEFAULT_WEIGHT)

    def to_json(self) -> str:
        """What :data:`~api_direct.contracts.ROUTE_WEIGHTS_ENV` holds: a JSON list, compact."""
        listed = [{"path": r.resource_path, "methods": list(r.methods), "weight": r.weight} for r in self.routes]
        return json.dumps(listed, separators=(",", ":"))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "RouteWeights":
        """The weights the construct set; none (every call one unit) when the variable is absent."""
        listed = json.loads(environ.get(ROUTE_WEIGHTS_ENV) or "[]")
        return cls(tuple(WeightedRoute(r["path"], tuple(r["methods"]), int(r["weight"])) for r in listed))


class RouteConflict(ValueError):
    """Weighted routes API Gateway cannot make resources of; the message is one line naming them."""


def gateway_resources(weights: RouteWeights) -> tuple[str, ...]:
    """Every resource the API needs below its root, parents first: each weighted route, the resources above it,
    and a :data:`PROXY` below each one that has no path parameter child.

    API Gateway matches a path one segment at a time, a literal child before a
    parameter, and never backs out of a matched resource to try another (``/forecast``
    matched, ``/forecast/a/b`` goes nowhere unless ``/forecast`` has a child for it):
    the catch-alls keep every path the root's ``{proxy+}`` reached reaching the app,
    through a resource that is not a weighted route. A resource may have one
    parameter child only, so two routes naming different parameters at one level
    (``/a/{x}``, ``/a/{y}/b``, or ``/a/{x}`` beside ``/a/{rest:path}``) raise :class:`RouteConflict`.
    """
    children: dict[str, set[str]] = {"/": set()}
    for route in weights.routes:
        parent = "/"
        for part in route.resource_path.strip("/").split("/") if route.resource_path != "/" else ():
            children[parent].add(part)
            parent = _join(parent, part)
            children.setdefault(parent, set())
    for parent, parts in children.items():
        parameters = sorted(part for part in parts if part.startswith("{"))
        if len(parameters) > 1:
            named = " and ".join(_join(parent, part) for part in parameters)
            raise RouteConflict(f"routes {named}: API Gateway allows one path parameter per level; name them alike")
    needed = [path for path in children if path != "/"]
    needed += [
        _join(path, PROXY)
        for path, parts in children.items()
        if not path.endswith("+}") and not any(part.startswith("{") for part in parts)
    ]
    return tuple(sorted(needed, key=lambda path: (path.count("/"), path)))


def _join(parent: str, part: str) -> str:
    return f"{parent.rstrip('/')}/{part}"
