"""Revocation everywhere within a hard bound: the event log follower, buses, the fresh cache.

A node caches verified tokens, and applies the event log (in ``seq`` order) to evict what a
revocation or deactivation makes invalid. It serves from cache only while it has confirmed,
less than ``max_staleness`` ago, that it has applied every event there is.

The package itself imports nothing: ``cache`` is standard library + domain, which the
resource-server SDK uses too, while ``follower`` and ``buses`` need the server's drivers.
"""
