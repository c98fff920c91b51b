"""tokenward: a self-hosted API token service.

The public surface is small: the app factory, the settings and the runtime that wires them.
They are imported on first use, so ``tokenward.sdk`` and the CLI do not pay for the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenward.http.app import create_app
    from tokenward.runtime import Runtime
    from tokenward.settings import Settings

__all__ = ["Runtime", "Settings", "create_app"]
__version__ = "0.1.0"

_HOMES = {
    "Runtime": "tokenward.runtime",
    "Settings": "tokenward.settings",
    "create_app": "tokenward.http.app",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(name)
