"""The organisation's lifetime policy: defaults from settings, overridden by what admins store."""

from __future__ import annotations

from tokenward.domain.clock import Clock
from tokenward.domain.model import Actor
from tokenward.domain.policy import Policy, policy_from_document, policy_to_document
from tokenward.store.base import Store

__all__ = ["PolicyService"]


class PolicyService:
    def __init__(self, store: Store, clock: Clock, defaults: Policy) -> None:
        self.store = store
        self.clock = clock
        self.defaults = defaults

    def current(self) -> Policy:
        """The policy in force: the stored one, or the defaults if none was ever stored."""
        with self.store.transaction() as tx:
            document = tx.policy.load()
        return self.defaults if document is None else policy_from_document(document)

    def update(self, document: dict[str, object], by: Actor) -> Policy:
        """Validate and store a whole new policy; the change is audited with before and after."""
        policy = policy_from_document(document)
        now = self.clock.now()
        with self.store.transaction() as tx:
            stored = tx.policy.load()
            before = policy_to_document(self.defaults) if stored is None else stored
            after = policy_to_document(policy)
            tx.policy.save(after, now)
            tx.events.append(
                by.event("policy.updated", now, "policy", {"before": before, "after": after})
            )
        return policy
