"""The import graph: each layer of the package imports only the layers below it, the package
never imports the dev tools, benchmarks or tests, and nothing imports from tests/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "zitadel_bff"

#: Lower layers first; a module may import its own layer and those before it.
LAYERS = {
    "zitadel_bff.errors": 0,
    "zitadel_bff.keyfile": 0,
    "zitadel_bff.config": 1,
    "zitadel_bff.observability": 1,  # metrics and logs: used by every layer above
    "zitadel_bff.oidc": 2,
    "zitadel_bff.sessions": 3,
    "zitadel_bff.web": 4,
    "zitadel_bff.auth": 5,
    "zitadel_bff": 6,  # the public API (the top-level __init__)
    "zitadel_bff.app": 7,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT / "src").with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    best = max((name for name in LAYERS if module == name or module.startswith(name + ".")),
               key=len)
    return LAYERS[best]


def imports_of(path: Path) -> list[str]:
    """Absolute names of everything ``path`` imports (relative imports resolved)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base)
                found.append(f"{prefix}.{node.module}" if node.module else prefix)
            elif node.module:
                found.append(node.module)
    return found


PACKAGE_FILES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", PACKAGE_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_package_imports_point_down(path: Path) -> None:
    module = module_name(path)
    own = layer_of(module)
    for imported in imports_of(path):
        root = imported.split(".")[0]
        assert root not in ("tests", "devtools", "bench"), f"{module} imports {imported}"
        if root != "zitadel_bff":
            continue
        if imported == "zitadel_bff" and own < LAYERS["zitadel_bff"]:
            raise AssertionError(f"{module} imports the public API from below it")
        assert layer_of(imported) <= own, f"{module} (layer {own}) imports {imported}"


@pytest.mark.parametrize("folder", ["devtools", "bench", "src"])
def test_nothing_imports_from_tests(folder: str) -> None:
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            assert not any(n == "tests" or n.startswith("tests.") for n in names), path


def test_the_layer_table_names_every_subpackage() -> None:
    """A new subpackage must be given its place in LAYERS (and in the README's layout)."""
    top = {module_name(p).split(".")[1] for p in PACKAGE.glob("*/__init__.py")}
    top |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert top == {name.split(".")[1] for name in LAYERS if name.count(".") == 1}
