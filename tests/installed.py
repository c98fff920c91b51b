"""What the tests run as users run it: the wheel, installed in a venv of its own.

``make test`` builds the wheel, installs it with ``[server]`` from the lock into
``.venv-wheel``, and names both here: ``TOKENWARD_TEST_BIN`` (that venv's ``bin``) and
``TOKENWARD_TEST_WHEEL``. Run by hand without them, the tests use the editable install of the
running interpreter and build a wheel with uv (``TOKENWARD_TEST_UV``, or ``uv`` on PATH).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["BIN", "ROOT", "TOKENWARD", "build_wheel", "uv"]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("TOKENWARD_TEST_BIN") or Path(sys.executable).parent)
TOKENWARD = BIN / "tokenward"


def uv() -> str | None:
    """The uv the project installs with (``make`` puts one in ``.tools``), if any."""
    named = os.environ.get("TOKENWARD_TEST_UV")
    if named:
        return named
    local = ROOT / ".tools" / "bin" / "uv"
    return str(local) if local.exists() else shutil.which("uv")


def build_wheel(into: Path) -> Path:
    """The wheel ``make wheel`` built, or a fresh build of the working tree into ``into``."""
    named = os.environ.get("TOKENWARD_TEST_WHEEL")
    if named:
        return Path(named)
    command = [uv() or "uv", "build", "--quiet", "--wheel", "--out-dir", str(into)]
    command += ["--require-hashes", "--build-constraints", str(ROOT / "requirements/build.txt")]
    subprocess.run([*command, str(ROOT)], check=True, capture_output=True)
    (wheel,) = into.glob("tokenward-*.whl")
    return wheel
