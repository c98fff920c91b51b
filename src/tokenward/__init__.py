"""tokenward: a self-hosted API token service.

The public surface is small: the app factory, the settings and the runtime that wires them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenward.runtime import Runtime
from tokenward.settings import Settings

if TYPE_CHECKING:
    from tokenward.http.app import create_app

__all__ = ["Runtime", "Settings", "create_app"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The HTTP stack (FastAPI) takes most of a second to import: the CLI should not pay for it.
    if name == "create_app":
        from tokenward.http.app import create_app

        return create_app
    raise AttributeError(name)
