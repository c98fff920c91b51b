"""Accounts: create users, bootstrap the first admin."""

from __future__ import annotations

import secrets

from tokenward.domain.clock import Clock
from tokenward.domain.errors import Conflict, NotFound
from tokenward.domain.model import Event, UserRecord, UserStatus, normalise_username
from tokenward.domain.tokens import new_id
from tokenward.passwords import PasswordHasher, check_password_rules
from tokenward.store.base import Store

__all__ = ["BOOTSTRAP_ADMIN", "AccountService"]

BOOTSTRAP_ADMIN = "admin"


class AccountService:
    def __init__(self, store: Store, clock: Clock, passwords: PasswordHasher) -> None:
        self.store = store
        self.clock = clock
        self.passwords = passwords

    def create_user(
        self, username: str, password: str, *, is_admin: bool, actor: str, ip: str | None = None
    ) -> UserRecord:
        """Create an active user; the name is normalised (see :func:`normalise_username`)."""
        name = normalise_username(username)
        check_password_rules(password)
        user = UserRecord(
            id=new_id("usr"),
            username=name,
            password_hash=self.passwords.hash(password),
            is_admin=is_admin,
            status=UserStatus.ACTIVE,
            created_at=self.clock.now(),
        )
        with self.store.transaction() as tx:
            tx.add_user(user)
            tx.append_event(
                Event(
                    "user.created",
                    user.created_at,
                    actor,
                    user.id,
                    ip,
                    {"username": name, "is_admin": is_admin},
                )
            )
        return user

    def ensure_admin(self, password: str | None) -> str | None:
        """On an empty database, create the org admin ``admin``.

        Uses ``password`` if given; otherwise generates one and returns it so the caller can show
        it once. Returns ``None`` when users already exist (nothing is changed then).
        """
        with self.store.transaction() as tx:
            if tx.count_users():
                return None
        chosen = password or secrets.token_urlsafe(18)
        try:
            self.create_user(BOOTSTRAP_ADMIN, chosen, is_admin=True, actor="system:bootstrap")
        except Conflict:  # another worker starting at the same moment won the race
            return None
        return None if password else chosen

    def by_name(self, username: str) -> UserRecord:
        with self.store.transaction() as tx:
            user = tx.user_by_name(normalise_username(username))
        if user is None:
            raise NotFound(f"no user named {username!r}")
        return user
