"""Click destinations carried in the click URL itself, signed, so a click redirects without the database.

A click URL is /c/<token>/<blob>: the token names the message and the link (tokens.py); the blob
is base64url(MAC + URL), where the MAC (HMAC-SHA256 with the secret key, truncated) covers the
token and the URL together. Only the URL that was in the message at send time verifies, so the
redirect is never open, and the click still works while the database is down. The links table
keeps the same URL; a click URL without a blob (too long to carry) is looked up there.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Sequence

MAC_BYTES = 12
# Keep whole click URLs well under the request-line limits of servers and proxies (4 KiB).
MAX_CARRIED_URL = 1500


@functools.lru_cache(maxsize=16)
def _keyed(key: str) -> hmac.HMAC:
    """The HMAC state after the key and the fixed prefix, copied for each URL (as in tokens)."""
    return hmac.new(key.encode(), b"followup-destination\x00", hashlib.sha256)


def _mac(key: str, token: str, url: bytes) -> bytes:
    mac = _keyed(key).copy()
    mac.update(token.encode("ascii") + b"\x00" + url)
    return mac.digest()[:MAC_BYTES]


def carry(keys: Sequence[str], token: str, url: str) -> str | None:
    """The blob that carries `url` for this click token, or None when the URL is too long."""
    raw = url.encode("utf-8")
    if len(raw) > MAX_CARRIED_URL:
        return None
    return base64.urlsafe_b64encode(_mac(keys[0], token, raw) + raw).rstrip(b"=").decode("ascii")


def read(keys: Sequence[str], token: str, blob: str) -> str | None:
    """The URL a blob carries if any key signed it for this token, else None. Never raises.

    Remembered per process like tokens.read_token: the answer depends on the arguments alone.
    """
    if not isinstance(blob, str) or not blob or len(blob) > 4 * MAX_CARRIED_URL:
        return None
    if not isinstance(token, str):
        return None
    if len(blob) > 512:  # a long URL: rare, and not worth the memory
        return _read(tuple(keys), token, blob)
    return _read_cached(tuple(keys), token, blob)


def _read(keys: tuple[str, ...], token: str, blob: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        token.encode("ascii")
    except (binascii.Error, ValueError):
        return None
    if len(raw) <= MAC_BYTES:
        return None
    mac, url = raw[:MAC_BYTES], raw[MAC_BYTES:]
    if not any(hmac.compare_digest(mac, _mac(key, token, url)) for key in keys):
        return None
    try:
        return url.decode("utf-8")
    except UnicodeDecodeError:
        return None


_read_cached = functools.lru_cache(maxsize=4096)(_read)
