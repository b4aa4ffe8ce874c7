"""Which port each listener of a command gets: an explicit busy port is an error, a default one moves.

Why: a newcomer's machine often already listens on our defaults (Mailpit and MailHog take 1025,
another dev server 8000). A port the user chose is a promise, so a busy one stops the command with
one line naming the setting and the fix; a default is only a suggestion, so it moves to a free
port nearby and the command says where. No click here: the CLI turns `PortUnavailable` into its
line and exit code.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass

# How many ports above a busy default are tried before asking the system for any free one:
# 1026 or 8001 are easier to remember and to type than a port from the ephemeral range.
NEARBY = 20


class PortUnavailable(Exception):
    """An explicitly given port cannot be listened on; str() is the one line to print."""


@dataclass(frozen=True)
class Listener:
    """One port a command wants to listen on, and where that port came from."""

    role: str  # what listens there, in the user's words: "the web app", "the mail sink"
    host: str
    port: int
    setting: str  # what set it: "--port", "FOLLOWUP_SMTP_URL"
    explicit: bool  # given by the user (flag or setting) rather than the built-in default
    fix: str = ""  # the way out, besides stopping what uses the port


@dataclass(frozen=True)
class Chosen:
    """The port a listener got; `moved` when its default was busy."""

    listener: Listener
    port: int

    @property
    def moved(self) -> bool:
        return self.port != self.listener.port

    def note(self) -> str:
        """The banner's line about a moved default ('' when it did not move)."""
        if not self.moved:
            return ""
        return (
            f"port {self.listener.port} was busy, so {self.listener.role} listens on "
            f"{self.port} instead (choose one with {self.listener.setting})"
        )


def probe(host: str, port: int) -> str | None:
    """None when `port` can be listened on now, else why not ("in use", "not permitted")."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # The servers we start (werkzeug, asyncio, gunicorn) set SO_REUSEADDR too, so a port
        # left in TIME_WAIT by a previous run counts as free, as it is for them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError as exc:
            return describe(exc)
    return None


def describe(exc: OSError) -> str:
    """An OSError from bind() in a few words."""
    if exc.errno == errno.EADDRINUSE:
        return "already in use"
    if exc.errno == errno.EACCES:
        return "not permitted (ports below 1024 need root)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "not available (no such local address)"
    return exc.strerror or type(exc).__name__


def unavailable(listener: Listener, port: int, reason: str) -> PortUnavailable:
    """The one line for an explicit port that cannot be used."""
    fix = f"stop what uses it or give another port in {listener.setting}"
    if listener.fix:
        fix += f", or {listener.fix}"
    return PortUnavailable(
        f"port {port} on {listener.host} ({listener.setting}, {listener.role}) is {reason}: {fix}"
    )


def choose(
    listener: Listener,
    taken: Collection[int] = (),
    check: Callable[[str, int], str | None] = probe,
) -> Chosen:
    """The port `listener` gets; raise PortUnavailable for an explicit port that is busy.

    `taken` holds ports already given to other listeners of the same command, which may not be
    listening yet.
    """
    if listener.port == 0:
        return Chosen(listener, 0)  # 0 means "none" for the optional listeners
    reason = "already in use" if listener.port in taken else check(listener.host, listener.port)
    if reason is None:
        return Chosen(listener, listener.port)
    if listener.explicit:
        raise unavailable(listener, listener.port, reason)
    for candidate in range(listener.port + 1, min(listener.port + 1 + NEARBY, 65536)):
        if candidate not in taken and check(listener.host, candidate) is None:
            return Chosen(listener, candidate)
    for _ in range(10):
        candidate = _any_free(listener.host)
        if candidate not in taken:
            return Chosen(listener, candidate)
    raise unavailable(listener, listener.port, reason)


def _any_free(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def choose_all(listeners: list[Listener]) -> list[Chosen]:
    """Ports for several listeners of one command, never the same port twice."""
    chosen: list[Chosen] = []
    for listener in listeners:
        got = choose(listener, taken={c.port for c in chosen if c.port})
        chosen.append(got)
    return chosen
