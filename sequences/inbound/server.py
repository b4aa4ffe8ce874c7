"""The inbound SMTP server (`followup inbound`): accepts mail for our reply and bounce addresses.

A thin aiosmtpd adapter: the async handler does protocol work and hands the bytes, in a worker
thread, to inbound.receive, which holds all the logic. Whatever a message contains, the server
answers and keeps serving; a database outage answers 451 so the sender's MTA retries later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from aiosmtpd.controller import Controller

from ..runtime import Runtime
from .ingest import receive

log = logging.getLogger(__name__)


class InboundHandler:
    """aiosmtpd handler: RCPT checks the domain, DATA ingests the message."""

    def __init__(self, rt: Runtime, domains: Iterable[str] = ()) -> None:
        self.rt = rt
        self.domains = {d.lower().strip() for d in domains if d.strip()}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if self.domains and domain not in self.domains:
            return "550 5.1.2 not a domain this server receives mail for"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(
                None,
                partial(
                    receive,
                    self.rt,
                    raw,
                    source="smtp",
                    envelope_from=envelope.mail_from,
                    recipients=list(envelope.rcpt_tos),
                ),
            )
        except Exception:  # the database, most likely: let the sending MTA retry
            log.exception("inbound: could not store a message; answering 451")
            return "451 4.3.0 temporary failure, try again later"
        if outcome.verdict == "unprocessable" and outcome.reason.startswith("oversize"):
            return "552 5.3.4 message too big for this server"
        return f"250 OK {outcome.verdict}"


def start_inbound(
    rt: Runtime, host: str = "127.0.0.1", port: int = 2525, domains: Iterable[str] = ()
) -> Controller:
    """Start the server in a background thread; `.stop()` the returned controller to end it."""
    controller = Controller(
        InboundHandler(rt, domains),
        hostname=host,
        port=port,
        # Past twice the limit aiosmtpd answers 552 itself and drops the bytes as they come;
        # between the two, the message is seen, stored as unprocessable, and refused.
        data_size_limit=rt.settings.inbound_max_bytes * 2,
        enable_SMTPUTF8=True,
    )
    controller.start()
    return controller
