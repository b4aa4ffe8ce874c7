"""A local SMTP sink (aiosmtpd) that stores every message it receives as a .eml file."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

_MESSAGE_ID = re.compile(rb"^message-id:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
_counter_lock = threading.Lock()
_counter = 0


def _index_name(message_id: str) -> str:
    return hashlib.sha256(message_id.strip().encode()).hexdigest()


def store_message(directory: Path, envelope_from: str, recipients: list[str], data: bytes) -> Path:
    """Write one received message (with its envelope as headers) and index its Message-ID."""
    global _counter
    directory.mkdir(parents=True, exist_ok=True)
    with _counter_lock:
        _counter += 1
        serial = _counter
    name = f"{time.time_ns()}-{os.getpid()}-{serial:06d}.eml"
    envelope = (
        f"X-Sink-Envelope-From: {envelope_from}\r\nX-Sink-Envelope-To: {', '.join(recipients)}\r\n"
    ).encode()
    tmp = directory / (name + ".tmp")
    tmp.write_bytes(envelope + data)
    path = directory / name
    tmp.rename(path)  # readers never see half a message
    headers = data.split(b"\r\n\r\n", 1)[0]
    match = _MESSAGE_ID.search(headers)
    if match:
        index = directory / "by-message-id"
        index.mkdir(exist_ok=True)
        (index / _index_name(match.group(1).decode("ascii", "replace"))).write_text(name)
    return path


def was_delivered(directory: Path, message_id: str) -> bool:
    """Whether the sink holds a message with this Message-ID (a delivery probe)."""
    return (directory / "by-message-id" / _index_name(message_id)).exists()


@dataclass
class StoredMessage:
    path: Path
    envelope_from: str
    envelope_to: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))


def read_messages(directory: Path) -> list[StoredMessage]:
    """Every stored message, oldest first."""
    if not directory.exists():
        return []
    out = []
    for path in sorted(directory.glob("*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=default)
        out.append(
            StoredMessage(
                path=path,
                envelope_from=str(msg.get("X-Sink-Envelope-From", "")),
                envelope_to=[
                    a.strip()
                    for a in str(msg.get("X-Sink-Envelope-To", "")).split(",")
                    if a.strip()
                ],
                message=msg,
            )
        )
    return out


class SinkHandler:
    """aiosmtpd handler: accepts everything, hands the bytes to store_message."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        store_message(
            self.directory,
            envelope.mail_from,
            list(envelope.rcpt_tos),
            envelope.original_content or envelope.content,
        )
        return "250 OK: stored"


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now (aiosmtpd's Controller cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def start_sink(directory: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    controller = Controller(
        SinkHandler(directory),
        hostname=host,
        port=port,
        data_size_limit=50 * 1024 * 1024,
        enable_SMTPUTF8=True,
    )
    controller.start()
    return controller
