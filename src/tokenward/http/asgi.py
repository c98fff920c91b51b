"""``tokenward.http.asgi:app``: the app built from the environment, for ASGI servers."""

from __future__ import annotations

from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.settings import Settings

__all__ = ["app"]

app = create_app(Runtime.build(Settings.from_env()))
