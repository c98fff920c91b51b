"""The wheel users install carries every template and static file of the UI."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from installed import ROOT, build_wheel

WEB = ROOT / "src" / "tokenward" / "web"


@pytest.mark.slow
def test_the_wheel_ships_every_template_and_static_file(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assets = [p for folder in ("templates", "static") for p in (WEB / folder).rglob("*.*")]
    assert len(assets) >= 20
    for asset in assets:
        assert f"tokenward/web/{asset.relative_to(WEB).as_posix()}" in names
