"""The webhook sender keeps the endpoint's URL (which may hold the receiver's token) out of the
logs, even with the INFO logging that ``tokenward serve`` sets up."""

from __future__ import annotations

import logging

import pytest
from notify_support import LOOPBACK_NETWORKS, WebhookReceiver

from tokenward.domain.addresses import AddressRules
from tokenward.domain.tokens import new_id
from tokenward.notify.webhooks import WebhookSender, new_secret
from tokenward.store.base import WebhookRecord
from tokenward.testing import TEST_ACTOR, FakeClock


def test_a_delivery_does_not_log_the_url_it_was_sent_to(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    with WebhookReceiver() as receiver:
        url = f"{receiver.url}?key=receiver-token-123"
        hook = WebhookRecord(
            new_id("whk"), url, ("token.created",), new_secret(), clock.now(), "t", 0
        )
        event = TEST_ACTOR.event("token.created", clock.now(), "tok_x", {"user_id": "usr_x"})
        with caplog.at_level(logging.DEBUG):
            sender = WebhookSender(rules=AddressRules(LOOPBACK_NETWORKS))
            attempt = sender.send(hook, "dlv_x", event, clock.now())
        assert attempt.ok
        assert receiver.received[0].path.endswith("?key=receiver-token-123")  # it was sent
    assert "receiver-token-123" not in caplog.text
    assert hook.secret not in caplog.text
