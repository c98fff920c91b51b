"""The wheel users install carries every template and static file of the UI."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src" / "tokenward" / "web"


@pytest.mark.slow
def test_the_wheel_ships_every_template_and_static_file(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path)]
    subprocess.run([*command, str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("tokenward-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assets = [p for folder in ("templates", "static") for p in (WEB / folder).rglob("*.*")]
    assert len(assets) >= 20
    for asset in assets:
        assert f"tokenward/web/{asset.relative_to(WEB).as_posix()}" in names
