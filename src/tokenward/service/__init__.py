"""Use cases: the only code that changes state. Each change writes its event in one transaction."""

from tokenward.service.accounts import AccountService
from tokenward.service.tokens import (
    CreatedToken,
    NewToken,
    Revocation,
    Rotation,
    TokenPage,
    TokenService,
)

__all__ = [
    "AccountService",
    "CreatedToken",
    "NewToken",
    "Revocation",
    "Rotation",
    "TokenPage",
    "TokenService",
]
