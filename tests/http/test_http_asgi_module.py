"""``tokenward.http.asgi``, the module ASGI servers load: the app from the environment, with
what was built at start-up kept out of the cycle collector's walks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_PROBE = """
import gc
before = gc.get_freeze_count()
from tokenward.http.asgi import app
print(type(app).__name__, before, gc.get_freeze_count())
"""


def test_the_served_module_builds_the_app_and_freezes_what_start_up_made(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    env["TOKENWARD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'tokenward.db'}"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    name, before, after = done.stdout.split()
    assert name == "TokenwardApp"
    assert int(before) == 0
    # Modules, routes, schemas and services: far more than a bare interpreter holds.
    assert int(after) > 100_000
