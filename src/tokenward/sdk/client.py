"""The management client: ``Client`` (blocking) and ``AsyncClient``, with the same methods.

    with Client("https://tokens.example.com", token) as tw:
        created = tw.create_token("ci deploy", expires_in_days=30, scopes=["tokens:read"])
        for info in tw.list_tokens(status="active"):
            ...

Methods return frozen values (the classes below) and raise a :class:`TokenwardError`
subclass when the server refuses or cannot be reached. ``list_*`` and ``audit`` return
iterators that fetch page after page as they are consumed. The token is sent only in the
``Authorization`` header; no ``repr``, message or exception shows it. Without a token,
``Client(base_url)`` can still report leaked tokens (``report_leaks``) and read the policy.
"""

from __future__ import annotations

from tokenward.sdk._client_async import AsyncClient
from tokenward.sdk._client_errors import (
    ConflictError,
    ForbiddenError,
    InvalidTokenError,
    NotFoundError,
    RateLimitedError,
    TokenwardError,
    UnavailableError,
    ValidationError,
)
from tokenward.sdk._client_sync import Client
from tokenward.sdk._models import (
    AuditEvent,
    CreatedToken,
    CreatedWebhook,
    Deactivation,
    Introspection,
    LifetimePolicy,
    LifetimeRule,
    Policy,
    Revocation,
    RotatedToken,
    SelfInfo,
    TokenInfo,
    User,
    UserRef,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "AsyncClient",
    "AuditEvent",
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
    "RateLimitedError",
    "Revocation",
    "RotatedToken",
    "SelfInfo",
    "TokenInfo",
    "TokenwardError",
    "UnavailableError",
    "User",
    "UserRef",
    "ValidationError",
    "Webhook",
    "WebhookDelivery",
]
