"""Arrows point down: the import graph of ``api_direct``, read from the source, has no cycle and keeps the layers.

The graph is built with :mod:`ast` from every module under ``api_direct/``: an
``import`` or ``from ... import`` anywhere in a module counts, at module level or
inside a function (a lazy import is still a dependency, only a later one). Imports
under ``if TYPE_CHECKING:`` are left out: they never run, they only name types for
the type checker (``constructs/__init__.py`` lists its constructs that way).
``from package import name`` counts as importing ``package.name`` when that is a
module, else ``package``. The implicit import of a module's parent packages is not
an edge: a package's ``__init__`` is checked by its own imports.

Every module belongs to one layer of :data:`LAYERS` (a new module with no layer
fails the test: place it in the table), and may import only the layers
:data:`MAY_IMPORT` lists for its own, or its own layer.
"""

import ast
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import api_direct

PACKAGE = Path(api_direct.__file__).parent

#: Which layer a module is in: the longest matching name wins (a name matches itself and its submodules).
#: Names marked exact match only themselves, so a module added beside them must be placed.
LAYERS = {
    "api_direct": "base",  # exact: the root package (version, bundled Node.js for jsii)
    "api_direct.errors": "base",
    "api_direct.durations": "base",  # 30s, 10m, 2h, 1d: the CLI's durations
    "api_direct.amounts": "base",  # 5.00: amounts typed to the CLI and the pages
    "api_direct.webhook_signature": "base",  # alert webhooks: signed by the service, verified by consumers
    "api_direct.node_runtime": "base",
    "api_direct.contracts": "contracts",
    "api_direct.aws_costs": "costs",  # AWS prices and the cost model: read by the CLI, the engine, the service
    "api_direct.project": "project",
    "api_direct.interpreter": "project",  # which Python runs the creator's app
    "api_direct.canary": "project",  # --canary: read by the CLI, built into the stack
    "api_direct.scaffold": "scaffold",
    "api_direct.runtime": "runtime",
    "api_direct.bundling": "bundling",
    "api_direct.constructs": "constructs",
    "api_direct.user_stack": "stacks",
    "api_direct.control_plane": "cognito",  # exact: the package's docstring
    "api_direct.control_plane.cognito": "cognito",  # exact: shared by the service's web sign-in and the client
    "api_direct.control_plane.stack": "stacks",
    "api_direct.control_plane.api": "service",
    "api_direct.control_plane.billing": "service",
    "api_direct.control_plane.web": "service",
    "api_direct.client": "client",
    "api_direct.deploy": "deploy",
    "api_direct.local": "local",
    "api_direct.cli": "cli",
    "api_direct.__main__": "main",
}
EXACT = {"api_direct", "api_direct.control_plane", "api_direct.control_plane.cognito"}

#: Layer -> the other layers its modules may import. Read down the list: each layer only reaches below it.
MAY_IMPORT: dict[str, set[str]] = {
    # Names every layer shares; the standard library only.
    "contracts": set(),
    # The root package, errors, bundled Node.js: imported by everything, importing nothing else.
    "base": set(),
    # What an API costs in AWS: pure arithmetic on shipped price files, so every side below can read it.
    "costs": {"base", "contracts"},
    # apid.toml's model.
    "project": {"base", "contracts"},
    "scaffold": {"base", "project"},
    # Lambda handler code: ships alone in its bundle.
    "runtime": {"contracts"},
    # Boto3's unsigned Cognito client, for calls before sign-in: the service's web form and the client use it.
    "cognito": set(),
    # Lambda bundles, built without the CDK: the app's adapter ships from the runtime.
    "bundling": {"base", "contracts", "project", "runtime"},
    # The control plane's FastAPI service and billing: never the deploy engine, the client, local or the CLI.
    "service": {"base", "contracts", "project", "runtime", "cognito", "costs"},
    # L3 constructs: never the service (its names come from contracts).
    "constructs": {"base", "contracts", "project", "runtime", "bundling"},
    # Stacks compose constructs.
    "stacks": {"base", "contracts", "project", "constructs"},
    # The control plane's client side (HTTP client, sign-in, publishing): never the service or the deploy engine.
    # Publishing sends the runtime profile its costs are priced at.
    "client": {"base", "contracts", "project", "cognito", "costs"},
    # The deploy engine: never the control plane's service, local or the CLI.
    "deploy": {"base", "contracts", "project", "runtime", "bundling", "constructs", "stacks", "client", "costs"},
    # The product on one machine: runs the service and the deploy engine together.
    "local": {
        "base",
        "contracts",
        "project",
        "runtime",
        "bundling",
        "cognito",
        "service",
        "constructs",
        "stacks",
        "client",
        "deploy",
        "costs",
    },
    # Click commands: imported by nobody but ``python -m api_direct``.
    "cli": {"base", "contracts", "project", "scaffold", "client", "deploy", "local", "costs"},
    "main": {"cli"},
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("api_direct", *path.relative_to(PACKAGE).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping the bodies of ``if TYPE_CHECKING:``."""
    yield from _imports_in(ast.iter_child_nodes(tree))


def _imports_in(nodes: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports_in(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``api_direct`` modules it imports."""
    known = modules()

    def nearest(name: str) -> str:
        while name not in known:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(nearest(alias.name) for alias in node.names if alias.name.split(".")[0] == "api_direct")
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            if source.split(".")[0] != "api_direct":
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                targets.add(full if full in known else nearest(source))
        graph[name] = targets - {name}
    return graph


def layer_of(module: str) -> str | None:
    candidates = [name for name in LAYERS if module == name or (name not in EXACT and module.startswith(name + "."))]
    return LAYERS[max(candidates, key=len)] if candidates else None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_graph_is_read_from_the_source(graph: dict[str, set[str]]) -> None:
    assert "api_direct.deploy.operations" in graph["api_direct.cli.stack"]  # from api_direct.deploy import operations
    assert "api_direct.local.sandbox" in graph["api_direct.cli.sandbox"]  # imported inside a function
    assert "api_direct.bundling.fastapi_code" in graph["api_direct.constructs"]  # the package's own imports


def test_imports_under_type_checking_are_not_edges() -> None:
    source = "if TYPE_CHECKING:\n    from api_direct.local import sandbox\nelse:\n    import api_direct.project\n"
    assert [ast.unparse(node) for node in _imports(ast.parse(source))] == ["import api_direct.project"]


def test_no_module_imports_itself_back(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_every_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    assert [module for module in sorted(graph) if layer_of(module) is None] == []


def test_every_import_points_down(graph: dict[str, set[str]]) -> None:
    wrong = [
        f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer_of(module) is not None
        and layer_of(target) != layer_of(module)
        and layer_of(target) not in MAY_IMPORT[str(layer_of(module))]
    ]
    assert wrong == []


def test_contracts_import_only_the_standard_library() -> None:
    tree = ast.parse((PACKAGE / "contracts.py").read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {str(node.module).split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names)


def test_the_cost_model_imports_only_the_standard_library_pydantic_errors_and_contracts(
    graph: dict[str, set[str]],
) -> None:
    """No boto3 and nothing of the engine's: the CLI, the deploy engine and the service all import it cheaply."""
    package = PACKAGE / "aws_costs"
    trees = [ast.parse(path.read_text()) for path in package.rglob("*.py")]
    imported = {
        alias.name for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {str(node.module) for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    outside = {name.split(".")[0] for name in imported if not name.startswith("api_direct")}
    assert outside <= set(sys.stdlib_module_names) | {"pydantic"}
    ours = {
        target for module, targets in graph.items() if module.startswith("api_direct.aws_costs") for target in targets
    }
    assert {target for target in ours if not target.startswith("api_direct.aws_costs")} <= {
        "api_direct.errors",
        "api_direct.contracts",
    }


def test_the_table_names_every_layer_it_allows() -> None:
    assert set(LAYERS.values()) == set(MAY_IMPORT)
    assert set().union(*MAY_IMPORT.values()) <= set(MAY_IMPORT)


def test_the_bundler_and_the_engine_s_reuse_path_load_no_cdk() -> None:
    """What keeps a reused synthesis and ``apid logs`` quick: the bundler and the deploy engine's modules load
    without ``aws_cdk`` (jsii starts a Node.js process), which only a full synthesis imports, in a function."""
    probe = (
        "import sys, api_direct.bundling.build, api_direct.bundling.fastapi_code, api_direct.deploy.synthesis,"
        " api_direct.deploy.operations, api_direct.cli.main; print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'aws_cdk', 'jsii', 'constructs'}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
