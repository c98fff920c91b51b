"""tokenward: a self-hosted API token service.

The public surface is small: the app factory, the settings and the runtime that wires them.
"""

from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.settings import Settings

__all__ = ["Runtime", "Settings", "create_app"]
__version__ = "0.1.0"
