"""The wheel users install carries everything the code needs at run time."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_ships_migrations_and_the_typed_marker(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("tokenward-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tokenward/py.typed" in names
    assert "tokenward/store/migrations/env.py" in names
    assert "tokenward/store/migrations/script.py.mako" in names
    assert "tokenward/store/migrations/versions/0001_initial.py" in names
    assert "tokenward/domain/README.md" in names
    assert not any(name.startswith("tests/") for name in names)
