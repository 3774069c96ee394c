"""Chain names from hashes: base32 of a SHA-256, as kube-proxy's iptables and nftables modes make them.

Both modes name per-Service and per-endpoint chains by hashing: iptables `portProtoHash` keeps 16
base32 characters, nftables `hashAndTruncate` 8 (Go's ``base32.StdEncoding`` of
``sha256.Sum256``). This computes them ten bits per table lookup, much faster than
`base64.b32encode` (pure Python) for the tens of thousands of names a large cluster needs.

>>> sha256_base32("ns1/svc1:p80tcp", 16)
'XPGD46QRK7WJZT7O'
>>> import base64, hashlib
>>> sha256_base32("x", 8) == base64.b32encode(hashlib.sha256(b"x").digest())[:8].decode()
True
"""

from __future__ import annotations

import hashlib

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648, Go's base32.StdEncoding
_B32_PAIRS = [a + b for a in _B32 for b in _B32]  # every 10-bit value as two characters
_SHIFTS = {length: tuple(range(5 * length - 10, -1, -10)) for length in (8, 16)}


def sha256_base32(text: str, length: int) -> str:
    """The first `length` (8 or 16) base32 characters of the SHA-256 of `text`.

    Eight characters encode exactly 40 bits (5 bytes) of the digest, sixteen 80 bits (10 bytes).
    """
    n = int.from_bytes(hashlib.sha256(text.encode()).digest()[: length * 5 // 8], "big")
    return "".join([_B32_PAIRS[(n >> shift) & 1023] for shift in _SHIFTS[length]])
