"""The application's modules import one another one way, so no import hides in a function.

Services (and the callback outbox and delivery) enqueue tasks by importing the
tasks module; a task imports its service in its body, the HackSoft styleguide's
direction. The state machine writes the outbox and knows nothing of services
or delivery. This reads the module-level imports of the apps and refuses a
cycle among them, a step against that direction, and a first-party import
inside a function anywhere but in a task or an app config's ready().
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "invoices", "checkout", "connectors")
SERVICES = ("invoices.services", "invoices.operator_actions")
DELIVERY = ("invoices.callback_delivery", "invoices.callback_http")
MUST_NOT_IMPORT = {
    # Every task imports its service when it runs, so anything may import tasks.
    "invoices.tasks": ("invoices", "checkout"),
    "invoices.state_machine": (*SERVICES, *DELIVERY, "invoices.tasks"),
    "invoices.outbox": (*SERVICES, *DELIVERY, "invoices.state_machine"),
    "invoices.callback_delivery": (*SERVICES, "invoices.state_machine", "invoices.outbox"),
    "invoices.callback_http": (*SERVICES, *DELIVERY, "invoices.state_machine", "invoices.tasks"),
}
# Imports inside functions: a task's service, and an app config's ready() (Django
# loads models after every app config).
LATE_IMPORTS_ALLOWED = {"invoices.tasks", "invoices.apps"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(path): path
    for app in APPS
    for path in sorted((ROOT / app).rglob("*.py"))
    if "migrations" not in path.parts
}


def _imported(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The first-party modules an import statement loads: `from invoices import services`
    loads invoices.services."""
    for alias in node.names:
        if isinstance(node, ast.Import):
            name = alias.name
        else:
            submodule = f"{node.module}.{alias.name}"
            name = submodule if submodule in MODULES else node.module
        if name in MODULES:
            yield name


def _imports(module: str, *, inside_functions: bool) -> set[str]:
    def walk(node: ast.AST, in_function: bool) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom) and in_function == inside_functions:
                yield from _imported(child)
            nested = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            yield from walk(child, in_function or nested)

    tree = ast.parse(MODULES[module].read_text())
    return set(walk(tree, False)) - {module}


def test_no_module_imports_itself_back():
    graph = {module: _imports(module, inside_functions=False) for module in MODULES}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = path[path.index(module) :] + [module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module not in done:
            for imported in sorted(graph[module]):
                visit(imported, [*path, module])
            done.add(module)

    for module in sorted(graph):
        visit(module, [])


@pytest.mark.parametrize("module", sorted(MUST_NOT_IMPORT))
def test_imports_run_one_way(module):
    forbidden = MUST_NOT_IMPORT[module]
    wrong = {
        imported
        for imported in _imports(module, inside_functions=False)
        if any(imported == name or imported.startswith(f"{name}.") for name in forbidden)
    }
    assert not wrong, f"{module} imports {sorted(wrong)}"


def test_no_first_party_import_hides_in_a_function():
    late = {
        module: sorted(imported)
        for module in MODULES
        if module not in LATE_IMPORTS_ALLOWED
        and (imported := _imports(module, inside_functions=True))
    }
    assert not late, late
