"""The project's own documents stand on their own in a user's clone: every relative link in the
README and in docs/ names a file of this repository (a clone has nothing beside it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _relative_links(document: Path) -> list[str]:
    targets = (match.group(1).split("#")[0] for match in _LINK.finditer(document.read_text()))
    return [target for target in targets if target and "://" not in target]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_relative_link_names_a_file_in_the_repository(document: Path) -> None:
    for target in _relative_links(document):
        resolved = (document.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{document.name} links outside the clone: {target}"
        assert resolved.exists(), f"{document.name} links to a missing file: {target}"


def test_the_readme_links_to_the_design_and_the_contract() -> None:
    links = _relative_links(ROOT / "README.md")
    assert "docs/architecture.md" in links
    assert "docs/api.md" in links
