"""The inbound SMTP server (`followup inbound`): accepts mail for our reply and bounce addresses.

A thin aiosmtpd adapter: the async handler does protocol work and hands the bytes, in a worker
thread, to inbound.receive, which holds all the logic. Whatever a message contains, the server
answers and keeps serving; a database outage answers 451 so the sender's MTA retries later.

STARTTLS: with FOLLOWUP_INBOUND_TLS_CERT and _KEY the server offers it (and with
FOLLOWUP_INBOUND_REQUIRE_TLS refuses MAIL FROM before it). Each connection takes the TLS
context current when it opens, so `reload_tls` (SIGHUP in `followup inbound`) swaps in a
renewed certificate for new connections while the listener and the sessions in flight go on:
no mail is refused during a renewal. A pair that does not load keeps the previous one.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from ..config import ConfigError
from ..runtime import Runtime
from .ingest import receive

log = logging.getLogger(__name__)


def load_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for STARTTLS from PEM files; a bad pair is one ConfigError line."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except FileNotFoundError as exc:
        which = (
            "FOLLOWUP_INBOUND_TLS_CERT"
            if Path(str(exc.filename)) == cert
            else "FOLLOWUP_INBOUND_TLS_KEY"
        )
        raise ConfigError(f"{which}: no such file {exc.filename}") from None
    except OSError as exc:
        if isinstance(exc, ssl.SSLError) and "KEY_VALUES_MISMATCH" in str(exc):
            raise ConfigError(
                f"FOLLOWUP_INBOUND_TLS_CERT: the certificate {cert} does not match the key "
                f"{key} (FOLLOWUP_INBOUND_TLS_KEY)"
            ) from None
        if not isinstance(exc, ssl.SSLError):
            raise ConfigError(
                f"FOLLOWUP_INBOUND_TLS_CERT: cannot read {cert} or {key}: {exc.strerror}"
            ) from None
        raise ConfigError(
            f"FOLLOWUP_INBOUND_TLS_CERT: {cert} and {key} (FOLLOWUP_INBOUND_TLS_KEY) are not a "
            "PEM certificate chain and its private key"
        ) from None
    return context


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


class InboundController(Controller):
    """aiosmtpd's threaded controller, with a TLS context each new connection reads afresh."""

    def __init__(
        self,
        handler: InboundHandler,
        *,
        tls_files: tuple[Path, Path] | None,
        require_tls: bool,
        **kwargs: Any,
    ) -> None:
        self.tls_files = tls_files
        self.tls_context = load_tls_context(*tls_files) if tls_files else None
        super().__init__(handler, require_starttls=require_tls and tls_files is not None, **kwargs)

    def factory(self) -> SMTP:
        kwargs = dict(self.SMTP_kwargs)
        if self.tls_context is not None:
            kwargs["tls_context"] = self.tls_context
        return SMTP(self.handler, **kwargs)

    def reload_tls(self) -> bool:
        """Read the certificate and key again (after a renewal); keep the old pair if bad."""
        if self.tls_files is None:
            return False
        try:
            self.tls_context = load_tls_context(*self.tls_files)
        except ConfigError as exc:
            log.error("inbound: kept the previous certificate: %s", exc)
            return False
        log.info("inbound: TLS certificate reloaded from %s", self.tls_files[0])
        return True


def start_inbound(
    rt: Runtime, host: str = "127.0.0.1", port: int = 2525, domains: Iterable[str] = ()
) -> InboundController:
    """Start the server in a background thread; `.stop()` the returned controller to end it.

    A certificate and key that do not load raise ConfigError before anything listens.
    """
    settings = rt.settings
    tls_files = None
    if settings.inbound_tls_cert is not None and settings.inbound_tls_key is not None:
        tls_files = (settings.inbound_tls_cert, settings.inbound_tls_key)
    controller = InboundController(
        InboundHandler(rt, domains),
        tls_files=tls_files,
        require_tls=settings.inbound_require_tls,
        hostname=host,
        port=port,
        # Past twice the limit aiosmtpd answers 552 itself and drops the bytes as they come;
        # between the two, the message is seen, stored as unprocessable, and refused.
        data_size_limit=settings.inbound_max_bytes * 2,
        enable_SMTPUTF8=True,
    )
    controller.start()
    return controller
