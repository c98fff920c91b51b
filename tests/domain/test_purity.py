"""The domain core imports nothing but the standard library and itself."""

import ast
import sys
from pathlib import Path

import tokenward.domain

DOMAIN = Path(tokenward.domain.__file__).parent


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module)
    return roots


def test_domain_modules_import_only_the_standard_library_and_the_domain() -> None:
    modules = sorted(DOMAIN.glob("*.py"))
    assert len(modules) >= 6
    for module in modules:
        for name in _imported_roots(module):
            top = name.split(".")[0]
            allowed = top in sys.stdlib_module_names or name.startswith("tokenward.domain")
            assert allowed, f"{module.name} imports {name}"


def test_the_domain_folder_says_so_in_its_readme() -> None:
    assert "imports a framework" in (DOMAIN / "README.md").read_text()
