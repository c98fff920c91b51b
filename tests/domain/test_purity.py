"""The domain core says what it is; import-linter (``make lint``) keeps it so."""

from pathlib import Path

import tokenward.domain

DOMAIN = Path(tokenward.domain.__file__).parent


def test_the_domain_folder_says_so_in_its_readme() -> None:
    assert "imports a framework" in (DOMAIN / "README.md").read_text()
