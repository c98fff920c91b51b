"""tokenward for resource servers and scripts: verify tokens in your own API with the same
guarantees as the tokenward server, and manage tokens from code."""

from tokenward.sdk.middleware import (
    CALLER,
    TokenwardMiddleware,
    caller_of,
    optional_token,
    require_token,
)
from tokenward.sdk.verifier import Caller, RemoteVerifier
from tokenward.sdk.wsgi import TokenwardWSGIMiddleware

__all__ = [
    "CALLER",
    "Caller",
    "RemoteVerifier",
    "TokenwardMiddleware",
    "TokenwardWSGIMiddleware",
    "caller_of",
    "optional_token",
    "require_token",
]
