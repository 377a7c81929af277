"""The sandbox stands in for Slack and the outside world: it reaches the app only over HTTP,
so no module of it imports one of the app's packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"
APP_PACKAGES = {
    "bot", "handlers", "blocks", "disputes", "policies", "connectors", "storage", "domain"
}  # fmt: skip


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    "module", sorted(SANDBOX.rglob("*.py")), ids=lambda p: str(p.relative_to(SANDBOX))
)
def test_no_sandbox_module_imports_the_app(module: Path) -> None:
    assert not imported_roots(module) & APP_PACKAGES
