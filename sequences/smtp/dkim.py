"""DKIM signatures on outgoing mail (dkimpy), one signing key per sending domain.

dkimpy does the DKIM work: relaxed/relaxed canonicalization, the body hash, the header hash and
the DKIM-Signature field. Only its last step, the RSA operation, is handed to `cryptography`
(OpenSSL): dkimpy's own is pure-Python modular exponentiation, about 9 ms per message on the
development machine against 0.8 ms, which alone would cut the send rate several times.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dkim as dkimpy
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from ..config import DkimKey

# What a receiver must see unchanged for the signature to mean anything (From is required);
# a header is signed only when the message has it, so an absent one may still be added by a
# relay without breaking the signature (e.g. a list's own List-Unsubscribe is not ours).
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"in-reply-to",
    b"references",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
)
_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)
_FROM = re.compile(rb"^from[ \t]*:((?:[^\r\n]|\r\n[ \t])*)", re.IGNORECASE | re.MULTILINE)
_ADDRESS = re.compile(rb"<([^<>\s]+@[^<>\s]+)>\s*$|([^\s<>,\"]+@[^\s<>,\"]+)\s*$")


_POLICY = dkimpy.CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")


class _Signing(dkimpy.DKIM):  # type: ignore[misc]
    """dkimpy's DKIM signer with the RSA step done by OpenSSL (see the module docstring).

    `sign` is dkimpy 1.1's DKIM.sign for the one case used here (rsa-sha256, relaxed/relaxed,
    no l= tag), minus its parse of the PEM key on every message (0.6 ms, half of dkimpy's
    share); `gen_header` is dkimpy's, but for the line that signs. Tests verify the result
    with dkimpy's own verifier.
    """

    def __init__(self, message: bytes, key: rsa.RSAPrivateKey) -> None:
        super().__init__(message, linesep=b"\r\n")
        self._rsa = key

    def sign_with(self, selector: bytes, domain: bytes, include: tuple[bytes, ...]) -> bytes:
        self.include_headers = include
        self.hasher = dkimpy.HASH_ALGORITHMS[b"rsa-sha256"]
        body_hash = base64.b64encode(self.hasher(_POLICY.canonicalize_body(self.body)).digest())
        fields = [
            (b"v", b"1"),
            (b"a", b"rsa-sha256"),
            (b"c", _POLICY.to_c_value()),
            (b"d", domain),
            (b"i", b"@" + domain),
            (b"q", b"dns/txt"),
            (b"s", selector),
            (b"t", str(int(time.time())).encode("ascii")),
            (b"h", b" : ".join(include)),
            (b"bh", body_hash),
            (b"b", b"0" * 60),  # folds b= onto its own line, as dkimpy does
        ]
        value: bytes = self.gen_header(fields, include, _POLICY, b"DKIM-Signature", None)
        return b"DKIM-Signature: " + value

    def gen_header(
        self,
        fields: list[tuple[bytes, bytes]],
        include_headers: tuple[bytes, ...],
        canon_policy: Any,
        header_name: bytes,
        pk: Any,
        standardize: bool = False,
    ) -> bytes:
        header_value = b"; ".join(b"=".join(x) for x in fields)
        header_value = dkimpy.fold(header_value, namelen=len(header_name), linesep=b"\r\n")
        header_value = dkimpy.RE_BTAG.sub(b"\\1", header_value)
        header = (header_name, b" " + header_value)
        hasher = dkimpy.HashThrough(self.hasher(), False)
        headers = canon_policy.canonicalize_headers(self.headers)
        self.signed_headers = dkimpy.hash_headers(
            hasher, canon_policy, headers, include_headers, header, dict(fields)
        )
        signature = self._rsa.sign(
            hasher.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
        index = next(i for i, (name, _) in enumerate(fields) if name == b"b")
        fields[index] = (b"b", base64.b64encode(signature))
        header_value = b"; ".join(b"=".join(x) for x in fields) + self.linesep
        folded: bytes = dkimpy.fold(header_value, namelen=len(header_name), linesep=self.linesep)
        return folded


@dataclass(frozen=True)
class _DomainKey:
    domain: bytes
    selector: bytes
    key: rsa.RSAPrivateKey


class DkimSigner:
    """Signs each message with the key of its From domain (or of a parent domain); leaves a
    message from a domain without a key as it is."""

    def __init__(self, keys: Iterable[DkimKey]) -> None:
        self._keys: dict[str, _DomainKey] = {}
        for key in keys:
            if not key.signing or key.domain in self._keys:
                continue
            private = serialization.load_pem_private_key(key.pem, password=None)
            assert isinstance(private, rsa.RSAPrivateKey)  # config.py accepts only RSA
            self._keys[key.domain] = _DomainKey(
                key.domain.encode("idna"), key.selector.encode("ascii"), private
            )

    def __bool__(self) -> bool:
        return bool(self._keys)

    def key_for(self, domain: str) -> _DomainKey | None:
        """The key for `domain`, or for the nearest parent (relaxed DMARC alignment)."""
        domain = domain.lower().rstrip(".")
        while domain:
            found = self._keys.get(domain)
            if found is not None:
                return found
            domain = domain.partition(".")[2]
        return None

    def sign(self, payload: bytes) -> bytes:
        """`payload` with a DKIM-Signature field in front (unchanged when no key applies)."""
        head = payload.split(b"\r\n\r\n", 1)[0]
        domain = from_domain(head)
        key = self.key_for(domain) if domain else None
        if key is None:
            return payload
        present = {name.lower() for name in _FIELD_NAME.findall(head)}
        include = tuple(name for name in SIGNED_HEADERS if name in present)
        return _Signing(payload, key.key).sign_with(key.selector, key.domain, include) + payload


def from_domain(head: bytes) -> str | None:
    """The domain of the From address in a header block (mime.build's, possibly folded)."""
    found = _FROM.search(head)
    if found is None:
        return None
    value = found.group(1).replace(b"\r\n", b"").strip()
    address = _ADDRESS.search(value)
    if address is None:
        return None
    email = (address.group(1) or address.group(2)).decode("utf-8", "replace")
    return email.rpartition("@")[2]


def generate_key(bits: int = 2048) -> bytes:
    """A new RSA private key as PEM (RFC 8017, what OpenDKIM writes), for `followup dkim keygen`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def public_record(pem: bytes) -> str:
    """The DNS TXT value that publishes the public half of `pem` (v=DKIM1; k=rsa; p=...)."""
    private = serialization.load_pem_private_key(pem, password=None)
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"
