"""The application reaches Django only through its public, documented surface.

Speed must come from documented APIs (Django's, a well-kept library's,
PostgreSQL's, Redis's), never from Django's private internals: they change
without notice between releases, and code built on them answered requests
around Django's own handler, CSRF and ORM. This reads every module of the
apps (migrations aside) and refuses:
- an import of a private Django name, or of the SQL compiler's modules;
- a subclass of Django's request handlers;
- an attribute with a leading underscore reached on anything but `self`/`cls`,
  except the few that are documented (see DOCUMENTED_UNDERSCORED).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "invoices", "checkout", "connectors")
# Model._meta, Model._state and Model._default_manager are documented by Django;
# _replace and _asdict are the documented API of named tuples (urllib's results).
DOCUMENTED_UNDERSCORED = {"_meta", "_state", "_default_manager", "_replace", "_asdict"}
PRIVATE_MODULES = ("django.db.models.sql", "django.db.models.query", "django.core.handlers")
HANDLERS = {"WSGIHandler", "ASGIHandler", "BaseHandler"}


def _modules() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    )


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    problems = []
    for node in ast.walk(tree):
        where = f"{shown}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("django"):
            module = node.module or ""
            if module.startswith(PRIVATE_MODULES) or any(map(_is_private, module.split("."))):
                problems.append(f"{where}: imports from {module}")
            for alias in node.names:
                if _is_private(alias.name):
                    problems.append(f"{where}: imports {module}.{alias.name}")
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                if name in HANDLERS:
                    problems.append(f"{where}: {node.name} subclasses Django's {name}")
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if owner not in ("self", "cls") and node.attr not in DOCUMENTED_UNDERSCORED:
                problems.append(f"{where}: reaches {node.attr}")
    return problems


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_the_module_uses_only_djangos_public_surface(path):
    assert _problems(path) == []


def test_the_check_catches_what_it_is_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from django.db.models.sql.compiler import SQLCompiler\n"
        "from django.middleware.csrf import _unmask_cipher_token\n"
        "from django.core.handlers.wsgi import WSGIHandler\n"
        "class Replay(WSGIHandler):\n"
        "    pass\n"
        "client = cache._cache.get_client()\n"
        "fields = Invoice._meta.concrete_fields\n"
    )
    problems = [problem.split(": ", 1)[1] for problem in _problems(sample)]
    assert problems == [
        "imports from django.db.models.sql.compiler",
        "imports django.middleware.csrf._unmask_cipher_token",
        "imports from django.core.handlers.wsgi",
        "Replay subclasses Django's WSGIHandler",
        "reaches _cache",
    ]
