"""SMTP out: one reused connection with its failure classes, and the DKIM signature on the way.

This is wiring, like the database: `runtime.build()` opens the transport every process sends
through, so it sits below both the runtime and `sending` (which decides what to send and
records what happened). Other packages import only the names below.

- `transport`: one reused SMTP connection, its failure classes (temporary, permanent, unknown);
- `dkim`: DKIM-signs each message with its From domain's key (dkimpy), on its way out.
"""

from __future__ import annotations

from .dkim import DkimSigner, generate_key, public_record
from .transport import OutcomeUnknown, PermanentFailure, SmtpTransport, TemporaryFailure

__all__ = [
    "DkimSigner",
    "OutcomeUnknown",
    "PermanentFailure",
    "SmtpTransport",
    "TemporaryFailure",
    "generate_key",
    "public_record",
]
