"""Outgoing mail is DKIM-signed per sending domain; dkimpy verifies it against the key we publish."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dkim as dkimpy
import pytest

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.config import ConfigError, load_settings
from sequences.sending import generate_key, public_record
from tests.conftest import Sink, make_env
from tests.procs import FOLLOWUP
from tests.sending_helpers import (
    drain,
    email,
    enroll_ids,
    make_mailbox,
    make_prospect,
    make_sequence,
)


def _key(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.pem"
    path.write_bytes(generate_key())
    return path


def _dns(records: dict[str, Path]) -> object:
    """A resolver stub for dkim.verify: selector._domainkey.domain -> our public key (no network)."""

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        path = records.get(name.decode().rstrip("."))
        return public_record(path.read_bytes()).encode() if path else b""

    return dnsfunc


@pytest.fixture
def signing_rt(
    database_url: str, smtp_sink: Sink, tmp_path: Path, clock: FrozenClock
) -> Iterator[tuple[runtime.Runtime, dict[str, Path]]]:
    new, old = _key(tmp_path, "new"), _key(tmp_path, "old")
    keys = f"sales.example:s2026b:{new},sales.example:s2026a:{old}"
    settings = load_settings(
        make_env(database_url, smtp_sink.port, tmp_path, FOLLOWUP_DKIM_KEYS=keys)
    )
    built = runtime.build(settings, clock)
    previous = runtime.install(built)
    # Both selectors are published during a rotation; only the first one signs.
    yield built, {"s2026b._domainkey.sales.example": new, "s2026a._domainkey.sales.example": old}
    runtime.install(previous)
    built.dispose()


def _send_three(rt: runtime.Runtime) -> None:
    mailbox = make_mailbox(rt, from_email="rita@sales.example")
    sequence = make_sequence(
        rt,
        [email(subject="Hello {{ first_name }}"), email(subject="Following up", thread_with=0)],
        mailbox_id=mailbox,
    )
    prospects = [make_prospect(rt, f"p{i}@prospect.example", first_name="Zoë") for i in range(3)]
    enroll_ids(rt, prospects, sequence)
    drain(rt)


def test_every_sent_message_carries_a_signature_dkimpy_verifies(
    signing_rt: tuple[runtime.Runtime, dict[str, Path]], smtp_sink: Sink
) -> None:
    rt, records = signing_rt
    _send_three(rt)
    captured = smtp_sink.messages()
    assert len(captured) >= 3
    for stored in captured:
        raw = stored.path.read_bytes().split(b"\r\n", 2)[2]  # without the sink's envelope lines
        signature = dkimpy.DKIM(raw)
        assert dkimpy.verify(raw, dnsfunc=_dns(records)), stored.path.name
        fields = dict(dkimpy.util.parse_tag_value(_signature_value(raw)))
        assert fields[b"d"] == b"sales.example" and fields[b"s"] == b"s2026b"
        assert fields[b"c"] == b"relaxed/relaxed"
        signed = set(fields[b"h"].replace(b" ", b"").split(b":"))
        assert {b"from", b"to", b"subject", b"date", b"message-id"} <= signed
        assert {b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version"} <= signed
        assert b"content-type" in signed
        del signature
    # The follow-up threads under the first: its threading headers are signed too.
    threaded = [s for s in captured if s.message.get("In-Reply-To")]
    assert threaded
    for stored in threaded:
        fields = dict(dkimpy.util.parse_tag_value(_signature_value(_raw(stored.path))))
        assert {b"in-reply-to", b"references"} <= set(fields[b"h"].replace(b" ", b"").split(b":"))


def _raw(path: Path) -> bytes:
    return path.read_bytes().split(b"\r\n", 2)[2]


def _signature_value(raw: bytes) -> bytes:
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"DKIM-Signature:")
    lines = head.split(b"\r\n")
    value = lines[0][len(b"DKIM-Signature:") :]
    for line in lines[1:]:
        if not line[:1].isspace():
            break
        value += line
    return value


def test_a_tampered_header_or_body_fails_verification(
    signing_rt: tuple[runtime.Runtime, dict[str, Path]], smtp_sink: Sink
) -> None:
    rt, records = signing_rt
    _send_three(rt)
    raw = _raw(smtp_sink.messages()[0].path)
    assert dkimpy.verify(raw, dnsfunc=_dns(records))
    subject_start = raw.index(b"\r\nSubject: ") + len(b"\r\nSubject: ")
    tampered = raw[:subject_start] + b"X" + raw[subject_start:]
    assert not dkimpy.verify(tampered, dnsfunc=_dns(records))
    to_start = raw.index(b"\r\nTo: ") + len(b"\r\nTo: ")
    assert not dkimpy.verify(raw[:to_start] + b"x" + raw[to_start:], dnsfunc=_dns(records))
    assert not dkimpy.verify(raw.replace(b"Hello", b"Hallo"), dnsfunc=_dns(records))
    # Against the retired key alone, the signature does not verify: the new one signs.
    only_old = {"s2026b._domainkey.sales.example": records["s2026a._domainkey.sales.example"]}
    assert not dkimpy.verify(raw, dnsfunc=_dns(only_old))


def test_mail_from_a_domain_without_a_key_goes_out_unsigned(
    signing_rt: tuple[runtime.Runtime, dict[str, Path]], smtp_sink: Sink
) -> None:
    rt, _ = signing_rt
    mailbox = make_mailbox(rt, from_email="rita@other.example")
    sequence = make_sequence(rt, [email()], mailbox_id=mailbox)
    enroll_ids(rt, [make_prospect(rt, "a@prospect.example")], sequence)
    drain(rt)
    (stored,) = smtp_sink.messages()
    assert b"DKIM-Signature" not in stored.path.read_bytes()


def test_a_key_from_the_settings_signs_too(tmp_path: Path) -> None:
    pem = generate_key().decode()
    settings = load_settings(
        {
            "FOLLOWUP_INSTANCE_PATH": str(tmp_path),
            "FOLLOWUP_DKIM_PRIVATE_KEY": pem,
            "FOLLOWUP_DKIM_DOMAIN": "sales.example",
            "FOLLOWUP_DKIM_SELECTOR": "k1",
        }
    )
    (key,) = settings.dkim_keys
    assert key.signing and key.domain == "sales.example" and key.selector == "k1"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"FOLLOWUP_DKIM_KEYS": "sales.example:s1:/no/such/key.pem"}, "FOLLOWUP_DKIM_KEYS"),
        ({"FOLLOWUP_DKIM_KEYS": "sales.example:s1"}, "FOLLOWUP_DKIM_KEYS"),
        ({"FOLLOWUP_DKIM_KEYS": "not a domain:s1:/etc/hostname"}, "FOLLOWUP_DKIM_KEYS"),
        ({"FOLLOWUP_DKIM_KEYS": "sales.example:s1:/etc/hostname"}, "FOLLOWUP_DKIM_KEYS"),
        (
            {
                "FOLLOWUP_DKIM_PRIVATE_KEY": "garbage",
                "FOLLOWUP_DKIM_DOMAIN": "sales.example",
                "FOLLOWUP_DKIM_SELECTOR": "k1",
            },
            "FOLLOWUP_DKIM_PRIVATE_KEY",
        ),
        ({"FOLLOWUP_DKIM_PRIVATE_KEY": "garbage"}, "FOLLOWUP_DKIM_DOMAIN"),
    ],
)
def test_a_wrong_key_setting_is_an_error_naming_it(
    env: dict[str, str], named: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"FOLLOWUP_INSTANCE_PATH": str(tmp_path), **env})
    assert str(caught.value).startswith(named + ":")
    assert "\n" not in str(caught.value)


def test_a_wrong_key_file_stops_the_command_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(
        FOLLOWUP_INSTANCE_PATH=str(tmp_path), FOLLOWUP_DKIM_KEYS=f"sales.example:s1:{tmp_path}/x"
    )
    done = subprocess.run(
        [FOLLOWUP, "scheduler"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: FOLLOWUP_DKIM_KEYS: cannot read")
    assert len(done.stderr.strip().splitlines()) == 1


def test_keygen_writes_a_private_key_and_prints_the_record_to_publish(tmp_path: Path) -> None:
    out = tmp_path / "keys" / "sales.pem"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    done = subprocess.run(
        [
            FOLLOWUP,
            "dkim",
            "keygen",
            "--domain",
            "sales.example",
            "--selector",
            "s1",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    record = public_record(out.read_bytes())
    printed = done.stdout.replace('" "', "")
    assert "s1._domainkey.sales.example. IN TXT" in done.stdout
    assert record in printed
    assert f"FOLLOWUP_DKIM_KEYS=sales.example:s1:{out}" in done.stdout
    # The key it wrote is one the settings accept.
    load_settings(
        {"FOLLOWUP_INSTANCE_PATH": str(tmp_path), "FOLLOWUP_DKIM_KEYS": f"sales.example:s1:{out}"}
    )
    again = subprocess.run(
        [
            FOLLOWUP,
            "dkim",
            "keygen",
            "--domain",
            "sales.example",
            "--selector",
            "s1",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode != 0 and "exists" in again.stderr
