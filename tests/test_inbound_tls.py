"""STARTTLS on the inbound SMTP server, for real: a certificate made here, smtplib as the MTA."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import signal
import smtplib
import ssl
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from sequences import runtime
from sequences.config import ConfigError, load_settings
from sequences.inbound.server import start_inbound
from sequences.models import InboundMessage
from sequences.sending.sink import free_port

from .conftest import make_env
from .procs import FOLLOWUP, Proc, _port_open, run_cli, wait_for
from .test_inbound import mail as _mail


def mail(subject: str) -> bytes:
    """A distinct message per subject (the same Message-ID twice is stored once)."""
    return _mail(
        "Hello there", subject=subject, message_id=f"<{abs(hash(subject))}@prospect.example>"
    )


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    # A distinct name per certificate: a client trusting an old and a renewed one tells them apart.
    serial = x509.random_serial_number()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"inbound test {serial:x}")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _client_context(*cafiles: Path) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for cafile in cafiles:
        context.load_verify_locations(cafile)
    return context


def _fingerprint(cert_path: Path) -> str:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex()


def _send_tls(port: int, rcpt: str, raw: bytes, context: ssl.SSLContext) -> tuple[Any, str]:
    """EHLO, STARTTLS, EHLO, MAIL, RCPT, DATA; returns DATA's answer and the server cert's hash."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        smtp.starttls(context=context)
        der = smtp.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
        smtp.ehlo()
        assert smtp.mail("")[0] == 250
        assert smtp.rcpt(rcpt)[0] == 250
        return smtp.data(raw), hashlib.sha256(der or b"").hexdigest()


def _stored(rt: runtime.Runtime) -> list[InboundMessage]:
    with rt.sessions() as s:
        return list(s.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def test_mail_arrives_over_starttls_with_the_configured_certificate(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    cert, key = make_cert(tmp_path / "tls", "one")
    rt.settings = replace(rt.settings, inbound_tls_cert=cert, inbound_tls_key=key)
    port = free_port()
    controller = start_inbound(rt, "127.0.0.1", port, [rt.settings.mail_domain])
    try:
        (code, _), seen = _send_tls(
            port, f"sales@{rt.settings.mail_domain}", mail("Over TLS"), _client_context(cert)
        )
    finally:
        controller.stop()
    assert code == 250 and seen == _fingerprint(cert)
    [stored] = _stored(rt)
    assert stored.subject == "Over TLS" and stored.source == "smtp"


def test_require_tls_refuses_mail_from_in_clear_and_accepts_it_after_starttls(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    cert, key = make_cert(tmp_path / "tls", "one")
    rt.settings = replace(
        rt.settings, inbound_tls_cert=cert, inbound_tls_key=key, inbound_require_tls=True
    )
    port = free_port()
    controller = start_inbound(rt, "127.0.0.1", port, [rt.settings.mail_domain])
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo()
            code, reply = smtp.mail("")
            assert code == 530 and b"STARTTLS" in reply
        (code, _), _ = _send_tls(
            port, f"sales@{rt.settings.mail_domain}", mail("Secure"), _client_context(cert)
        )
        assert code == 250
    finally:
        controller.stop()
    assert [m.subject for m in _stored(rt)] == ["Secure"]


def test_a_renewed_certificate_is_used_by_new_connections_without_a_restart(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    cert, key = make_cert(tmp_path / "tls", "live")
    rt.settings = replace(rt.settings, inbound_tls_cert=cert, inbound_tls_key=key)
    port = free_port()
    controller = start_inbound(rt, "127.0.0.1", port, [rt.settings.mail_domain])
    first = _fingerprint(cert)
    try:
        # A session opened before the renewal finishes under the old certificate.
        open_session = smtplib.SMTP("127.0.0.1", port, timeout=10)
        open_session.ehlo()
        open_session.starttls(context=_client_context(cert))
        old_ca = tmp_path / "old.crt"
        old_ca.write_bytes(cert.read_bytes())
        renewed_cert, renewed_key = make_cert(tmp_path / "renewed", "live")
        cert.write_bytes(renewed_cert.read_bytes())
        key.write_bytes(renewed_key.read_bytes())
        assert controller.reload_tls()

        open_session.ehlo()
        assert open_session.mail("")[0] == 250
        assert open_session.rcpt(f"sales@{rt.settings.mail_domain}")[0] == 250
        assert open_session.data(mail("Before renewal"))[0] == 250
        open_session.quit()
        (code, _), seen = _send_tls(
            port,
            f"sales@{rt.settings.mail_domain}",
            mail("After renewal"),
            _client_context(old_ca, cert),
        )
        assert code == 250 and seen == _fingerprint(cert) != first

        # A bad renewal (a key that is not the certificate's) keeps serving the last good pair.
        other_cert, _ = make_cert(tmp_path / "other", "x")
        cert.write_bytes(other_cert.read_bytes())
        assert not controller.reload_tls()
        (code, _), seen = _send_tls(
            port,
            f"sales@{rt.settings.mail_domain}",
            mail("Still fine"),
            _client_context(old_ca, renewed_cert),
        )
        assert code == 250 and seen == _fingerprint(renewed_cert)
    finally:
        controller.stop()
    assert [m.subject for m in _stored(rt)] == ["Before renewal", "After renewal", "Still fine"]


def test_a_certificate_that_does_not_match_its_key_is_one_line_at_start(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    cert, _ = make_cert(tmp_path / "a", "a")
    _, other_key = make_cert(tmp_path / "b", "b")
    rt.settings = replace(rt.settings, inbound_tls_cert=cert, inbound_tls_key=other_key)
    with pytest.raises(ConfigError) as raised:
        start_inbound(rt, "127.0.0.1", free_port())
    assert str(raised.value).startswith("FOLLOWUP_INBOUND_TLS_CERT: the certificate ")
    assert "does not match the key" in str(raised.value)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    rt.settings = replace(rt.settings, inbound_tls_cert=garbage, inbound_tls_key=other_key)
    with pytest.raises(ConfigError, match=r"^FOLLOWUP_INBOUND_TLS_CERT: .* are not a PEM"):
        start_inbound(rt, "127.0.0.1", free_port())


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"FOLLOWUP_INBOUND_TLS_CERT": "/etc/ssl/x.pem"}, "FOLLOWUP_INBOUND_TLS_KEY"),
        ({"FOLLOWUP_INBOUND_TLS_KEY": "/etc/ssl/x.key"}, "FOLLOWUP_INBOUND_TLS_CERT"),
        ({"FOLLOWUP_INBOUND_REQUIRE_TLS": "true"}, "FOLLOWUP_INBOUND_REQUIRE_TLS"),
    ],
)
def test_half_a_tls_configuration_names_what_is_missing(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        load_settings(env)


def test_followup_inbound_offers_starttls_and_reloads_on_sighup(
    rt: runtime.Runtime, database_url: str, smtp_sink: Any, tmp_path: Path
) -> None:
    cert, key = make_cert(tmp_path / "tls", "live")
    first = _fingerprint(cert)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")},
        **make_env(
            database_url,
            smtp_sink.port,
            tmp_path,
            FOLLOWUP_INBOUND_TLS_CERT=str(cert),
            FOLLOWUP_INBOUND_TLS_KEY=str(key),
            FOLLOWUP_INBOUND_REQUIRE_TLS="true",
        ),
    }
    # A mismatched pair: one line, before anything listens.
    _, other_key = make_cert(tmp_path / "other", "x")
    bad = run_cli(
        ["inbound", "--port", str(port)], {**env, "FOLLOWUP_INBOUND_TLS_KEY": str(other_key)}
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    [line] = bad.stderr.strip().splitlines()
    assert line.startswith("error: FOLLOWUP_INBOUND_TLS_CERT: the certificate")

    proc = Proc("inbound", [FOLLOWUP, "inbound", "--port", str(port)], env, tmp_path / "in.log")
    proc.start()
    try:
        wait_for(lambda: _port_open(port) or not proc.alive(), 30, "followup inbound")
        assert proc.alive(), proc.log()
        rcpt = "sales@mail.example.test"
        (code, _), seen = _send_tls(port, rcpt, mail("One"), _client_context(cert))
        assert code == 250 and seen == first
        old_ca = tmp_path / "old.crt"
        old_ca.write_bytes(cert.read_bytes())
        renewed_cert, renewed_key = make_cert(tmp_path / "renewed", "live")
        cert.write_bytes(renewed_cert.read_bytes())
        key.write_bytes(renewed_key.read_bytes())
        os.kill(proc.pid, signal.SIGHUP)  # what the certbot deploy hook does
        wait_for(lambda: "certificate reloaded" in proc.log(), 30, "the reload")
        (code, _), seen = _send_tls(port, rcpt, mail("Two"), _client_context(old_ca, cert))
        assert code == 250 and seen == _fingerprint(cert) != first
    finally:
        proc.stop()
    assert proc.popen is not None and proc.popen.returncode == 0, proc.log()
    assert [m.subject for m in _stored(rt)] == ["One", "Two"]
