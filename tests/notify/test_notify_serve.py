"""Two real ``tokenward serve`` processes on one database, each with its notifier thread: every
event is delivered once (webhook and email), and when the lease holder stops, the other node
takes over."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from notify_support import WebhookReceiver, smtp_server

from installed import TOKENWARD
from tokenward.sdk import verify_signature

pytestmark = pytest.mark.slow

PASSWORD = "change-me-right-now"
RECEIVER_TOKEN = "receiver-token-123"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def _serve(folder: Path, env: dict[str, str], name: str) -> Iterator[str]:
    """A ``tokenward serve`` process; yields its base URL once /healthz answers."""
    port = _free_port()
    with (folder / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            [str(TOKENWARD), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _healthy(base), 20, f"{name} did not start")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_for(condition: Callable[[], bool], within: float, message: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def _cli(env: dict[str, str], folder: Path, *args: str) -> str:
    done = subprocess.run(
        [str(TOKENWARD), *args], cwd=folder, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _post(base: str, path: str, key: str, body: dict[str, Any]) -> Any:
    response = httpx.post(base + path, json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text
    return response.json()


def test_two_serving_nodes_deliver_each_event_once_and_take_over(
    database_url: str, tmp_path: Path
) -> None:
    with WebhookReceiver() as receiver, smtp_server() as (smtp_port, inbox):
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
        env |= {
            "TOKENWARD_DATABASE_URL": database_url,
            "TOKENWARD_ADMIN_PASSWORD": PASSWORD,
            "TOKENWARD_NOTIFY_INTERVAL_MS": "200",
            "TOKENWARD_SMTP_HOST": "127.0.0.1",
            "TOKENWARD_SMTP_PORT": str(smtp_port),
            "TOKENWARD_SMTP_STARTTLS": "false",
            "TOKENWARD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",  # the receiver's loopback
        }
        with _serve(tmp_path, env, "a") as a, _serve(tmp_path, env, "b") as b:
            key = _cli(env, tmp_path, "key", "create", "--label", "ops")
            events = ["token.created", "token.revoked"]
            url = f"{receiver.url}?key={RECEIVER_TOKEN}"  # a receiver's token, kept out of logs
            hook = _post(a, "/v1/admin/webhooks", key, {"url": url, "events": events})
            user = {"username": "bob", "password": PASSWORD, "email": "bob@example.org"}
            _post(b, "/v1/admin/users", key, user)
            for label in ("one", "two", "three"):
                _cli(env, tmp_path, "token", "create", "--user", "bob", "--label", label)
            _wait_for(lambda: len(receiver.received) >= 3 and len(inbox) >= 3, 20, "no delivery")
            time.sleep(1.5)  # several more ticks of both nodes: nothing may come twice
            _check_once(receiver, inbox, hook["secret"], ["one", "two", "three"])
        # Both stopped (each released the lease); one starts again and carries on.
        with _serve(tmp_path, env, "c"):
            _cli(env, tmp_path, "token", "create", "--user", "bob", "--label", "four")
            _wait_for(lambda: len(receiver.received) >= 4 and len(inbox) >= 4, 20, "no takeover")
            time.sleep(1.0)
        _check_once(receiver, inbox, hook["secret"], ["one", "two", "three", "four"])
    logs = "".join(log.read_text(errors="replace") for log in tmp_path.glob("*.log"))
    assert RECEIVER_TOKEN not in logs and hook["secret"] not in logs


def _check_once(
    receiver: WebhookReceiver, inbox: list[EmailMessage], secret: str, labels: list[str]
) -> None:
    bodies = [orjson.loads(r.body) for r in receiver.received]
    assert sorted(b["data"]["label"] for b in bodies) == sorted(labels)
    assert len({b["id"] for b in bodies}) == len(labels)
    for request in receiver.received:
        header = request.headers["Tokenward-Signature"]
        assert verify_signature(secret, header, request.body)  # real clocks: now
    assert sorted(m["Subject"] for m in inbox) == sorted(
        f"[tokenward] A new token \u201c{label}\u201d was created for your account"
        for label in labels
    )
