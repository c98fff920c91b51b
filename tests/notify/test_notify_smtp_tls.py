"""Email over STARTTLS with a login, against a real relay (aiosmtpd) whose certificate comes
from a private CA made for the test: delivered with the CA of TOKENWARD_SMTP_CA_FILE, refused
for any other CA or host name, retried on a wrong password that no log or record repeats; a
bad CA file, or a login without STARTTLS to a remote host, stops the start."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from notify_support import (
    deliveries_of,
    node,
    notifier_of,
    tls_smtp_server,
    token,
    user_with_email,
)

from backends import require_service
from tokenward.notify.wiring import smtp_config
from tokenward.settings import Settings, SettingsError
from tokenward.store.base import DeliveryRecord
from tokenward.testing import FakeClock

LOGIN = ("tw-relay", "relay-pass-7f3a9c")
WRONG = "wrong-pass-c0ffee"


@dataclasses.dataclass(frozen=True)
class Pki:
    ca: str  # the CA that signed the certificates below
    other_ca: str  # a CA that signed nothing here
    cert: str  # for 127.0.0.1 and localhost
    key: str
    other_host_cert: str  # signed by ``ca``, for mail.example.org only
    other_host_key: str


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _ca(folder: Path, name: str) -> Path:
    config = folder / f"{name}.cnf"
    config.write_text(
        "[req]\ndistinguished_name = dn\nx509_extensions = v3\n[dn]\n[v3]\n"
        "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
        "subjectKeyIdentifier = hash\n"
    )
    cert = folder / f"{name}.pem"
    _openssl("req", "-x509", "-config", config, "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", folder / f"{name}.key",
             "-out", cert, "-days", "2", "-subj", f"/CN={name}")  # fmt: skip
    return cert


def _issue(folder: Path, name: str, ca: Path, names: str) -> tuple[str, str]:
    extensions = folder / f"{name}.ext"
    extensions.write_text(
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
        f"extendedKeyUsage = serverAuth\nsubjectAltName = {names}\n"
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"
    )
    key, request, cert = (folder / f"{name}.{ext}" for ext in ("key", "csr", "pem"))
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", request, "-subj", f"/CN={name}")  # fmt: skip
    _openssl("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca.with_suffix(".key"),
             "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", cert)  # fmt: skip
    return str(cert), str(key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway PKI, made with the openssl command line (no Python dependency)."""
    require_service("the openssl command", shutil.which("openssl") is not None)
    folder = tmp_path_factory.mktemp("pki")
    ca, other_ca = _ca(folder, "tokenward-test-ca"), _ca(folder, "another-ca")
    cert, key = _issue(folder, "relay", ca, "IP:127.0.0.1, DNS:localhost")
    other_cert, other_key = _issue(folder, "elsewhere", ca, "DNS:mail.example.org")
    return Pki(str(ca), str(other_ca), cert, key, other_cert, other_key)


def _deliver_once(
    database_url: str,
    clock: FakeClock,
    port: int,
    password: str,
    ca_file: str | None,
    host: str = "127.0.0.1",
) -> DeliveryRecord:
    """Alice's token.created notice, attempted once over STARTTLS with a login."""
    rt = node(database_url, clock, port, smtp_host=host, smtp_starttls=True,
              smtp_username=LOGIN[0], smtp_password=password, smtp_ca_file=ca_file)  # fmt: skip
    try:
        token(rt, user_with_email(rt, "alice"), "laptop", 30)
        notifier_of(rt).tick()
        deliveries: list[DeliveryRecord] = deliveries_of(rt, "alice@example.org", 10)
    finally:
        rt.close()
    [delivery] = deliveries
    return delivery


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record caught, message, arguments and traceback."""
    return caplog.text + "".join(f"{r.getMessage()}{r.args!r}" for r in caplog.records)


def test_a_notice_goes_over_starttls_with_the_login(
    pki: Pki, database_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with tls_smtp_server(pki.cert, pki.key, LOGIN) as relay:
        delivery = _deliver_once(database_url, clock, relay.port, LOGIN[1], pki.ca)
    assert (delivery.status, delivery.last_code, delivery.last_error) == ("delivered", 250, None)
    assert [m["Tokenward-Event"] for m in relay.messages] == ["token.created"]
    assert relay.messages[0]["To"] == "alice@example.org"
    assert relay.logins == [LOGIN[0]]  # the relay accepts AUTH only after STARTTLS
    assert LOGIN[1] not in _logged(caplog)


def test_a_wrong_password_is_retried_then_failed_and_never_logged_or_stored(
    pki: Pki, database_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with tls_smtp_server(pki.cert, pki.key, LOGIN) as relay:
        first = _deliver_once(database_url, clock, relay.port, WRONG, pki.ca)
        assert (first.status, first.attempts, first.last_code) == ("pending", 1, 535)
        assert first.last_error == "SMTP 535"
        rt = node(database_url, clock, relay.port, smtp_starttls=True,
                  smtp_username=LOGIN[0], smtp_password=WRONG, smtp_ca_file=pki.ca)  # fmt: skip
        for _ in range(10):  # past every backoff (capped at an hour) until it gives up
            clock.advance(hours=2)
            notifier_of(rt).tick()
        [last] = deliveries_of(rt, "alice@example.org", 10)
        rt.close()
    assert (last.status, last.attempts, last.last_code, last.last_error) == (
        "failed",
        8,
        535,
        "SMTP 535",
    )
    assert relay.messages == [] and relay.logins == []
    assert WRONG not in _logged(caplog)
    assert LOGIN[1] not in _logged(caplog)


@pytest.mark.parametrize("trusted", ["another CA", "the system's CAs"])
def test_a_certificate_from_a_ca_not_trusted_is_refused(
    pki: Pki, database_url: str, clock: FakeClock, trusted: str
) -> None:
    ca_file = pki.other_ca if trusted == "another CA" else None
    with tls_smtp_server(pki.cert, pki.key, LOGIN) as relay:
        delivery = _deliver_once(database_url, clock, relay.port, LOGIN[1], ca_file)
    assert (delivery.status, delivery.attempts, delivery.last_code) == ("pending", 1, None)
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("SSLCertVerificationError: ")
    assert "unable to get local issuer certificate" in delivery.last_error
    assert relay.messages == [] and relay.logins == []  # no login was sent


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_certificate_for_another_host_is_refused(
    pki: Pki, database_url: str, clock: FakeClock, host: str
) -> None:
    """Signed by the trusted CA, but for mail.example.org: the name (or IP) is checked too."""
    with tls_smtp_server(pki.other_host_cert, pki.other_host_key, LOGIN) as relay:
        delivery = _deliver_once(database_url, clock, relay.port, LOGIN[1], pki.ca, host)
    assert delivery.status == "pending" and delivery.last_error is not None
    assert f"mismatch, certificate is not valid for '{host}'" in delivery.last_error
    assert relay.messages == [] and relay.logins == []


def test_the_ca_file_comes_from_the_environment_into_the_mailer(pki: Pki) -> None:
    env = {"TOKENWARD_SMTP_HOST": "mail.example.org", "TOKENWARD_SMTP_CA_FILE": pki.ca}
    settings = Settings.from_env(env)
    assert settings.smtp_ca_file == pki.ca
    config = smtp_config(settings)
    assert config is not None and config.ca_file == pki.ca and config.starttls
    assert Settings.from_env({}).smtp_ca_file is None


@pytest.mark.parametrize("case", ["missing", "a directory", "not PEM", "empty"])
def test_a_ca_file_that_cannot_be_loaded_stops_the_start(tmp_path: Path, case: str) -> None:
    path = {
        "missing": tmp_path / "nowhere.pem",
        "a directory": tmp_path,
        "not PEM": tmp_path / "junk.pem",
        "empty": tmp_path / "empty.pem",
    }[case]
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    (tmp_path / "empty.pem").write_text("")
    env = {"TOKENWARD_SMTP_HOST": "mail.example.org", "TOKENWARD_SMTP_CA_FILE": str(path)}
    with pytest.raises(SettingsError, match=r"^TOKENWARD_SMTP_CA_FILE: cannot load"):
        Settings.from_env(env)


@pytest.mark.parametrize("credential", ["TOKENWARD_SMTP_USERNAME", "TOKENWARD_SMTP_PASSWORD"])
def test_a_login_without_starttls_to_a_remote_host_stops_the_start(credential: str) -> None:
    env = {
        "TOKENWARD_SMTP_HOST": "mail.example.org",
        "TOKENWARD_SMTP_STARTTLS": "false",
        credential: LOGIN[1],
    }
    with pytest.raises(SettingsError, match="TOKENWARD_SMTP_STARTTLS=true") as refused:
        Settings.from_env(env)
    assert LOGIN[1] not in str(refused.value)
    with pytest.raises(SettingsError, match="clear text"):  # settings built in code, too
        Settings(smtp_host="10.0.0.25", smtp_starttls=False, smtp_username="tw")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST"])
def test_a_login_without_starttls_is_allowed_on_loopback(host: str) -> None:
    env = {
        "TOKENWARD_SMTP_HOST": host,
        "TOKENWARD_SMTP_STARTTLS": "false",
        "TOKENWARD_SMTP_USERNAME": LOGIN[0],
        "TOKENWARD_SMTP_PASSWORD": LOGIN[1],
    }
    settings = Settings.from_env(env)
    assert (settings.smtp_host, settings.smtp_starttls) == (host, False)


def test_a_login_with_starttls_or_without_smtp_is_fine() -> None:
    login = {"TOKENWARD_SMTP_USERNAME": LOGIN[0], "TOKENWARD_SMTP_PASSWORD": LOGIN[1]}
    remote = Settings.from_env({"TOKENWARD_SMTP_HOST": "mail.example.org", **login})
    assert remote.smtp_starttls and remote.smtp_username == LOGIN[0]
    no_email = Settings.from_env({"TOKENWARD_SMTP_STARTTLS": "false", **login})
    assert no_email.smtp_host is None
