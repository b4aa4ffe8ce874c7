"""IMAP polling against a real dovecot started by the fixture: TLS, UID cursor, read-only."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select, update

from sequences import runtime
from sequences.config import ConfigError
from sequences.inbound.imap import parse_imap_url, poll_all
from sequences.models import ImapCursor, InboundMessage, Mailbox
from sequences.sending.sink import free_port
from sequences.workspace.accounts import default_team

from .conftest import CI, make_env
from .procs import run_cli
from .test_inbound import enrollment_of, mail, seed

DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain
auth_failure_delay = 0
mail_location = maildir:{dir}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    port: int
    cafile: str
    user: str = "rep"
    password: str = "s3cret pass"

    def url(self) -> str:
        return f"imaps://{self.user}:s3cret%20pass@127.0.0.1:{self.port}/INBOX?cafile={self.cafile}"

    def client(self) -> IMAPClient:
        context = ssl.create_default_context(cafile=self.cafile)
        client = IMAPClient("127.0.0.1", port=self.port, ssl=True, ssl_context=context, timeout=10)
        client.login(self.user, self.password)
        return client

    def deliver(self, raw: bytes) -> None:
        with self.client() as client:
            client.append("INBOX", raw)

    def flags(self) -> list[tuple[bytes, ...]]:
        with self.client() as client:
            client.select_folder("INBOX", readonly=True)
            fetched = client.fetch(client.search(["ALL"]), ["FLAGS"])
            return [tuple(fetched[uid][b"FLAGS"]) for uid in sorted(fetched)]


def _missing(what: str) -> None:
    if CI:
        pytest.fail(f"{what} is not installed and CI=true requires it (see .ci/run)")
    pytest.skip(f"{what} not installed (apt-get install dovecot-imapd)")


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A real dovecot IMAP server over TLS on a free port, with a self-signed certificate."""
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" * os.path.exists("/usr/sbin/dovecot"))
    if not binary:
        _missing("dovecot")
    if not shutil.which("openssl"):
        _missing("openssl")
    # Dovecot refuses to store mail as root; a world-traversable directory lets "nobody" in.
    directory = Path(tempfile.mkdtemp(prefix="followup-dovecot-"))
    directory.chmod(0o755)
    user = pwd.getpwnam("nobody") if os.getuid() == 0 else pwd.getpwuid(os.getuid())
    for sub in ("run", "state", "mail", "home"):
        (directory / sub).mkdir()
    for sub in ("mail", "home"):
        os.chown(directory / sub, user.pw_uid, user.pw_gid)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = Dovecot(port=free_port(), cafile=str(directory / "cert.pem"))
    (directory / "users").write_text(f"{server.user}:{{PLAIN}}{server.password}::::::\n")
    conf = directory / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(dir=directory, uid=user.pw_uid, gid=user.pw_gid, port=server.port)
    )
    process = subprocess.Popen(
        [binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log = (directory / "dovecot.log").read_text(errors="replace")[-2000:]
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"dovecot did not start: {stderr} {log}") from None
            time.sleep(0.05)
    yield server
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stderr:
        process.stderr.close()
    shutil.rmtree(directory, ignore_errors=True)


def _mailbox(rt: runtime.Runtime, url: str | None) -> int:
    with rt.sessions.begin() as s:
        box = Mailbox(
            team_id=default_team(s).id,
            from_name="Rita Rep",
            from_email="rita@example.com",
            imap_url=url,
        )
        s.add(box)
        s.flush()
        return box.id


def _stored(rt: runtime.Runtime) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(InboundMessage)) or 0


def test_imap_poll_reads_new_mail_once_and_never_marks_it_read(
    rt: runtime.Runtime, dovecot: Dovecot
) -> None:
    world = seed(rt)
    box = _mailbox(rt, dovecot.url())
    dovecot.deliver(mail("Yes, let's talk.", message_id="<imap1@prospect.example>"))
    dovecot.deliver(
        mail("Who are you?", sender="x@elsewhere.example", message_id="<imap2@e.example>")
    )

    assert poll_all(rt) == {box: 2}

    assert enrollment_of(rt, world).status == "replied"
    assert _stored(rt) == 2
    flags = dovecot.flags()
    assert len(flags) == 2  # nothing moved or deleted
    assert all(b"\\Seen" not in f and b"\\Deleted" not in f for f in flags)
    assert poll_all(rt) == {box: 0}
    assert _stored(rt) == 2


def test_imap_cursor_survives_a_restart_and_a_uidvalidity_change(
    rt: runtime.Runtime, dovecot: Dovecot
) -> None:
    seed(rt)
    box = _mailbox(rt, dovecot.url())
    dovecot.deliver(mail("First", message_id="<c1@prospect.example>"))
    assert poll_all(rt) == {box: 1}

    restarted = runtime.build(rt.settings, rt.clock)  # a new process: only the database remains
    try:
        dovecot.deliver(mail("Second", message_id="<c2@prospect.example>"))
        assert poll_all(restarted) == {box: 1}
        # The folder was rebuilt (new UIDVALIDITY): everything is read again, nothing acts twice.
        with restarted.sessions.begin() as s:
            s.execute(update(ImapCursor).values(uidvalidity=1))
        assert poll_all(restarted) == {box: 2}
        assert _stored(restarted) == 2
    finally:
        restarted.dispose()


def test_imap_oversize_mail_is_stored_unprocessable_from_its_headers(
    rt: runtime.Runtime, dovecot: Dovecot
) -> None:
    world = seed(rt)
    rt.settings = replace(rt.settings, inbound_max_bytes=4096)
    box = _mailbox(rt, dovecot.url())
    dovecot.deliver(mail("x" * 20_000, message_id="<huge@prospect.example>"))
    assert poll_all(rt) == {box: 1}
    with rt.sessions() as s:
        row = s.scalar(select(InboundMessage))
        assert row is not None and row.verdict == "unprocessable"
        assert row.reason.startswith("oversize") and row.dedupe_key == "<huge@prospect.example>"
        assert row.source == "imap" and row.mailbox_id == box
    assert enrollment_of(rt, world).status == "active"


def test_a_wrong_password_fails_that_mailbox_only(rt: runtime.Runtime, dovecot: Dovecot) -> None:
    bad = _mailbox(rt, dovecot.url().replace("s3cret%20pass", "wrong"))
    good = _mailbox(rt, dovecot.url())
    results = poll_all(rt)
    assert results[good] == 0
    # In words with the fix and an error id, never the server's raw answer.
    said = str(results[bad])
    assert said.startswith("error: could not read the inbox: the IMAP server refused the sign-in")
    assert re.search(r"\(error E-[0-9a-f]{8}\)$", said), said
    assert "AUTHENTICATIONFAILED" not in said and "b'" not in said and "IMAP4" not in said


def test_imap_url_requires_tls_and_credentials() -> None:
    assert parse_imap_url("imaps://u:p@h/INBOX").port == 993
    assert parse_imap_url("imap://u:p@h?starttls=true").starttls
    for bad in ("imap://u:p@h/INBOX", "imaps://h/INBOX", "http://u:p@h", "imaps://u:p@h?x=1"):
        with pytest.raises(ConfigError):
            parse_imap_url(bad)


def test_followup_imap_poll_command_sets_the_url_and_polls_once(
    rt: runtime.Runtime, dovecot: Dovecot, database_url: str, tmp_path: Path
) -> None:
    world = seed(rt)
    box = _mailbox(rt, None)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")},
        **make_env(database_url, free_port(), tmp_path),
    }
    refused = run_cli(["imap-poll", "--mailbox", str(box), "--url", "imap://u:p@h/INBOX"], env)
    assert refused.returncode != 0 and "TLS is required" in refused.stderr
    configured = run_cli(["imap-poll", "--mailbox", str(box), "--url", dovecot.url()], env)
    assert configured.returncode == 0, configured.stderr
    dovecot.deliver(mail("Yes, via IMAP.", message_id="<cli@prospect.example>"))
    polled = run_cli(["imap-poll", "--once"], env)
    assert polled.returncode == 0, polled.stderr
    assert f"mailbox {box}: 1" in polled.stdout
    assert enrollment_of(rt, world).status == "replied"
