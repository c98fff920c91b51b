"""Password hashing with argon2id. Verification is slow on purpose (~50-150 ms): call it off the
event loop."""

from __future__ import annotations

import argon2

__all__ = ["PasswordHasher", "check_password_rules"]

from tokenward.domain.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 1024


def check_password_rules(password: str) -> None:
    """Raise unless ``password`` is long enough to resist guessing (NIST SP 800-63B §3.1.1.2)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput("password", f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput("password", f"must be at most {MAX_LENGTH} characters")


class PasswordHasher:
    """argon2id with the library's recommended parameters (RFC 9106 second recommendation)."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()

    @classmethod
    def fast_for_tests(cls) -> PasswordHasher:
        """Deliberately weak parameters: only for test suites that create many users."""
        return cls(argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except argon2.exceptions.VerificationError:
            return False
