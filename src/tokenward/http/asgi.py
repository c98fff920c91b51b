"""``tokenward.http.asgi:app``: the app built from the environment, for ASGI servers."""

from __future__ import annotations

import gc

from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.settings import Settings

__all__ = ["app"]

app = create_app(Runtime.build(Settings.from_env()))

# What exists now (modules, routes, schemas, the services) lives as long as the process: the
# cycle collector need never scan it again. Without this, each full collection walked all of
# it, and with 2,000 event streams open that was a 70-200 ms pause of every request on the
# node (bench/events.py); now a full collection walks only what was made since.
gc.freeze()
