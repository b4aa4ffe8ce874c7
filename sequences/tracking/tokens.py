"""Short signed tokens for pixels, clicks, unsubscribes and documents.

A token is base64url(kind + message token id + link position) followed by a truncated
HMAC-SHA256 of that payload. The message token id is random, so tokens reveal no row ids and
cannot be enumerated; the MAC binds kind, message and link together, so no part can be swapped.
Verification tries every configured key, so rotating FOLLOWUP_SECRET_KEY (new key first, old
key kept after it for a grace period) keeps links in mail already sent working.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

MAC_BYTES = 12  # 96 bits: forging one is out of reach, and links stay short
ID_BYTES = 12
KINDS = {"o": 1, "c": 2, "u": 3, "d": 4, "r": 5, "b": 6}  # open click unsub document reply bounce
_KIND_NAMES = {v: k for k, v in KINDS.items()}


def new_token_id() -> str:
    """A random id for a message, stored on it and carried by its tokens."""
    return secrets.token_hex(ID_BYTES)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.lru_cache(maxsize=16)
def _keyed(key: str) -> hmac.HMAC:
    """The HMAC state after the key and the fixed prefix, copied for each token (an email signs
    a dozen): the same MAC as hmac.new(key, prefix + payload), without redoing the key's work."""
    return hmac.new(key.encode(), b"followup-token\x00", hashlib.sha256)


def _mac(key: str, payload: bytes) -> bytes:
    mac = _keyed(key).copy()
    mac.update(payload)
    return mac.digest()[:MAC_BYTES]


@dataclass(frozen=True)
class TokenData:
    kind: str
    token_id: str
    position: int


def make_token(keys: Sequence[str], kind: str, token_id: str, position: int = 0) -> str:
    """Sign (kind, message, link position) with the first key."""
    if not 0 <= position < 65536:
        raise ValueError("link position out of range")
    payload = bytes([KINDS[kind]]) + bytes.fromhex(token_id) + position.to_bytes(2, "big")
    return _b64(payload + _mac(keys[0], payload))


def read_token(keys: Sequence[str], token: str, kind: str) -> TokenData | None:
    """Return the token's data if any key signed it for this kind, else None. Never raises.

    Answers are remembered per process: a pixel is fetched again and again (every open, every
    proxy refetch), and then costs a dictionary lookup instead of an HMAC per key. The answer
    depends on nothing but the arguments, so a cached one is always the right one.
    """
    if not isinstance(token, str) or not 20 <= len(token) <= 64:
        return None
    return _read_token(tuple(keys), token, kind)


@functools.lru_cache(maxsize=8192)
def _read_token(keys: tuple[str, ...], token: str, kind: str) -> TokenData | None:
    try:
        raw = _unb64(token)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 1 + ID_BYTES + 2 + MAC_BYTES:
        return None
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if not any(hmac.compare_digest(mac, _mac(key, payload)) for key in keys):
        return None
    if _KIND_NAMES.get(payload[0]) != kind:
        return None
    return TokenData(
        kind=kind,
        token_id=payload[1 : 1 + ID_BYTES].hex(),
        position=int.from_bytes(payload[1 + ID_BYTES :], "big"),
    )
