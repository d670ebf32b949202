"""Each module of the apps can be read at once: none over MAX_LINES lines. A module that
grows past it is split by what it is about (see the README's layout)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("invoices", "checkout", "connectors")
MAX_LINES = 450

MODULES = sorted(
    path for app in APPS for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts
)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_is_longer_than_can_be_read_at_once(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
