"""The wheel users install: it carries everything the code needs at run time, and the light
install (no extras) is the SDK alone."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from backends import require_service
from installed import ROOT, build_wheel, uv

# What only the server needs: the light install must not carry or load any of it.
SERVER_ONLY = ("sqlalchemy", "psycopg", "redis", "uvicorn", "fastapi", "alembic", "starlette")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.mark.slow
def test_the_wheel_ships_migrations_and_the_typed_marker(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tokenward/py.typed" in names
    assert "tokenward/store/migrations/env.py" in names
    assert "tokenward/store/migrations/script.py.mako" in names
    assert "tokenward/store/migrations/versions/0001_initial.py" in names
    assert "tokenward/domain/README.md" in names
    assert not any(name.startswith("tests/") for name in names)


@pytest.mark.slow
def test_the_wheel_requires_only_httpx_and_click_unless_the_server_extra_is_asked(
    wheel: Path,
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    requires = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist")]
    light = sorted(r.split(">")[0].split("<")[0] for r in requires if "extra ==" not in r)
    assert light == ["click", "httpx"]
    server = " ".join(r for r in requires if 'extra == "server"' in r)
    for name in (*SERVER_ONLY, "uvloop", "httptools"):
        assert name in server


@pytest.fixture(scope="module")
def light_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and no extras, its dependencies taken from the lock."""
    tool = uv()
    require_service("uv (make installs it in .tools)", tool is not None)
    assert tool is not None
    home = tmp_path_factory.mktemp("light")
    venv, requirements = home / "venv", home / "requirements.txt"

    def run(*args: str) -> None:
        subprocess.run([tool, *args], check=True, capture_output=True, cwd=ROOT)

    run("venv", "--quiet", "--python", "python3", str(venv))
    export = ["export", "--quiet", "--frozen", "--no-dev", "--no-emit-project"]
    run(*export, "--format", "requirements-txt", "-o", str(requirements))
    install = ["pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    run(*install, "--require-hashes", "-r", str(requirements))
    run(*install, "--no-deps", str(wheel))
    return venv


_LOADED = """
import json, sys
import tokenward.sdk, tokenward.testing
from tokenward.sdk import Client, RemoteVerifier, TokenwardMiddleware, TokenwardWSGIMiddleware
from tokenward.testing import FakeVerifier
verifier = FakeVerifier()
token = verifier.issue("alice", scopes=["read"])
print(json.dumps({"modules": sorted({m.split(".")[0] for m in sys.modules}),
                  "caller": verifier.verify(token).username}))
"""


@pytest.mark.slow
def test_the_light_install_imports_the_sdk_and_testing_without_the_server_stack(
    light_env: Path,
) -> None:
    python = light_env / "bin" / "python"
    probe = f"import importlib.util as u; print([n for n in {SERVER_ONLY!r} if u.find_spec(n)])"
    installed = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert installed.strip() == "[]"  # not even installed
    answer = subprocess.run(
        [str(python), "-c", _LOADED], check=True, capture_output=True, text=True
    )
    loaded = json.loads(answer.stdout)
    assert loaded["caller"] == "alice"  # the SDK verifies, with nothing of the server
    assert not set(SERVER_ONLY) & set(loaded["modules"])
    assert "httpx" in loaded["modules"]


@pytest.mark.slow
def test_serve_on_the_light_install_names_the_extra_in_one_line(light_env: Path) -> None:
    answer = subprocess.run(
        [str(light_env / "bin" / "tokenward"), "serve"], capture_output=True, text=True
    )
    assert answer.returncode == 1
    message = answer.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "pip install 'tokenward[server]'" in message
