"""The systemd unit in deploy/ is valid, hardened, and holds no secret."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from backends import require_service
from installed import ROOT, TOKENWARD

UNIT = ROOT / "deploy" / "tokenward.service"
ENV_FILE = ROOT / "deploy" / "tokenward.env"


def _as_installed(tmp_path: Path) -> Path:
    """The unit with its two paths pointing at this machine's install and example env file."""
    text = UNIT.read_text()
    text = text.replace("/opt/tokenward/bin/tokenward", str(TOKENWARD))
    text = text.replace("/etc/tokenward/tokenward.env", str(ENV_FILE))
    unit = tmp_path / "tokenward.service"
    unit.write_text(text)
    return unit


def _systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    require_service("systemd-analyze (Debian's systemd package)", tool is not None)
    assert tool is not None
    return tool


def test_systemd_accepts_the_unit_without_a_warning(tmp_path: Path) -> None:
    answer = subprocess.run(
        [_systemd_analyze(), "verify", str(_as_installed(tmp_path))],
        capture_output=True,
        text=True,
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stderr.strip() == ""  # verify only warns about unknown or bad settings


def test_the_unit_is_hardened_to_an_exposure_below_2(tmp_path: Path) -> None:
    answer = subprocess.run(
        [_systemd_analyze(), "security", "--offline=true", str(_as_installed(tmp_path))],
        capture_output=True,
        text=True,
    )
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", answer.stdout)
    assert found, answer.stdout + answer.stderr
    assert float(found.group(1)) < 2.0  # systemd rates 0-10; under 2 is "OK"


@pytest.mark.parametrize("setting", ["DynamicUser=yes", "ProtectSystem=strict", "PrivateTmp=yes"])
def test_the_unit_runs_as_a_dynamic_user_on_a_read_only_system(setting: str) -> None:
    assert setting in UNIT.read_text().splitlines()


def test_no_secret_is_written_in_the_unit_or_set_in_the_example_environment() -> None:
    unit = UNIT.read_text()
    assert "PASSWORD" not in unit and "Environment=" not in unit  # only EnvironmentFile=
    for line in ENV_FILE.read_text().splitlines():
        if line.startswith("TOKENWARD_") and "PASSWORD" in line:
            pytest.fail(f"the example environment sets a password: {line}")
