"""tokenward for resource servers and scripts: verify tokens in your own API with the same
guarantees as the tokenward server, and manage tokens from code.

Names are imported on first use, so ``import tokenward.sdk`` loads only what the light install
(``pip install tokenward``) carries: the standard library and httpx. ``require_token`` and
``optional_token`` load Starlette, which a FastAPI app has anyway.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenward.sdk.client import (
        AsyncClient,
        AuditEvent,
        Client,
        ConflictError,
        CreatedToken,
        CreatedWebhook,
        Deactivation,
        ForbiddenError,
        Introspection,
        InvalidTokenError,
        LifetimePolicy,
        LifetimeRule,
        NotFoundError,
        Policy,
        RateLimitedError,
        Revocation,
        RotatedToken,
        SelfInfo,
        TokenInfo,
        TokenwardError,
        UnavailableError,
        User,
        UserRef,
        ValidationError,
        Webhook,
        WebhookDelivery,
    )
    from tokenward.sdk.fastapi import (
        optional_token,
        require_token,
    )
    from tokenward.sdk.middleware import (
        CALLER,
        ProtectedResource,
        TokenwardMiddleware,
        caller_of,
    )
    from tokenward.sdk.verifier import (
        Caller,
        RemoteVerifier,
    )
    from tokenward.sdk.webhooks import (
        verify_signature,
    )
    from tokenward.sdk.wsgi import (
        TokenwardWSGIMiddleware,
    )

__all__ = [
    "CALLER",
    "AsyncClient",
    "AuditEvent",
    "Caller",
    "Client",
    "ConflictError",
    "CreatedToken",
    "CreatedWebhook",
    "Deactivation",
    "ForbiddenError",
    "Introspection",
    "InvalidTokenError",
    "LifetimePolicy",
    "LifetimeRule",
    "NotFoundError",
    "Policy",
    "ProtectedResource",
    "RateLimitedError",
    "RemoteVerifier",
    "Revocation",
    "RotatedToken",
    "SelfInfo",
    "TokenInfo",
    "TokenwardError",
    "TokenwardMiddleware",
    "TokenwardWSGIMiddleware",
    "UnavailableError",
    "User",
    "UserRef",
    "ValidationError",
    "Webhook",
    "WebhookDelivery",
    "caller_of",
    "optional_token",
    "require_token",
    "verify_signature",
]

_HOMES = {
    "AsyncClient": "client",
    "AuditEvent": "client",
    "CALLER": "middleware",
    "Caller": "verifier",
    "Client": "client",
    "ConflictError": "client",
    "CreatedToken": "client",
    "CreatedWebhook": "client",
    "Deactivation": "client",
    "ForbiddenError": "client",
    "Introspection": "client",
    "InvalidTokenError": "client",
    "LifetimePolicy": "client",
    "LifetimeRule": "client",
    "NotFoundError": "client",
    "Policy": "client",
    "ProtectedResource": "middleware",
    "RateLimitedError": "client",
    "RemoteVerifier": "verifier",
    "Revocation": "client",
    "RotatedToken": "client",
    "SelfInfo": "client",
    "TokenInfo": "client",
    "TokenwardError": "client",
    "TokenwardMiddleware": "middleware",
    "TokenwardWSGIMiddleware": "wsgi",
    "UnavailableError": "client",
    "User": "client",
    "UserRef": "client",
    "ValidationError": "client",
    "Webhook": "client",
    "WebhookDelivery": "client",
    "caller_of": "middleware",
    "optional_token": "fastapi",
    "require_token": "fastapi",
    "verify_signature": "webhooks",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'tokenward.sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tokenward.sdk.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
