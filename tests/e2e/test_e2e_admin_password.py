"""``TOKENWARD_ADMIN_PASSWORD`` on a database that already has users is not applied, and
``tokenward serve`` says so in one line that never holds the password (issue 17, point 5)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from server import ADMIN_PASSWORD, Server

pytestmark = pytest.mark.slow

NOT_APPLIED = "TOKENWARD_ADMIN_PASSWORD is set but the database already has users"
OTHER_PASSWORD = "a-different-admin-password"


def test_an_admin_password_that_cannot_apply_is_reported_in_one_line_without_it(
    start_server: Callable[..., Server],
) -> None:
    first = start_server({"TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD}, "first")
    first.stop()
    assert NOT_APPLIED not in first.output  # it was applied: the admin was created with it

    second = start_server({"TOKENWARD_ADMIN_PASSWORD": OTHER_PASSWORD}, "second")
    second.stop()
    lines = [line for line in second.stderr.splitlines() if NOT_APPLIED in line]
    assert len(lines) == 1, second.output
    assert "tokenward user set-password NAME" in lines[0]
    assert OTHER_PASSWORD not in second.output and ADMIN_PASSWORD not in second.output

    third = start_server({}, "third")  # no password set: nothing to report
    third.stop()
    assert NOT_APPLIED not in third.output
