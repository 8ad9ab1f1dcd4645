"""NTLM for the server side ([MS-NLMP]): the acceptor's three legs and the session's sign/seal.

Clients use pyspnego (`idlgen[ntlm]`). The server does not, for two reasons its public API
cannot work around: pyspnego's acceptor reads credentials only from the process-wide
`NTLM_USER_FILE` environment variable (no callback, one store per process), and it verifies an
NTLMv2 response by re-encoding the client's blob, which rejects impacket's (impacket omits the
trailing four zero bytes that Windows and Samba tolerate). Here the NTProofStr is checked over
the blob exactly as sent, which is what Windows does.

Only NTLMv2 with extended session security is accepted (NTLMv1 and LM responses are refused);
RC4 comes from `cryptography` (a dependency of pyspnego), imported when a session starts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AuthError",
    "NtlmAcceptor",
    "NtlmSession",
    "nt_hash",
]

SIGNATURE = b"NTLMSSP\0"
NEGOTIATE_MESSAGE, CHALLENGE_MESSAGE, AUTHENTICATE_MESSAGE = 1, 2, 3

# NegotiateFlags ([MS-NLMP] 2.2.2.5).
UNICODE = 0x00000001
OEM = 0x00000002
REQUEST_TARGET = 0x00000004
SIGN = 0x00000010
SEAL = 0x00000020
NTLM = 0x00000200
ALWAYS_SIGN = 0x00008000
TARGET_TYPE_SERVER = 0x00020000
EXTENDED_SESSIONSECURITY = 0x00080000
TARGET_INFO = 0x00800000
VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000

# What the acceptor grants of what the client asks for.
_GRANTABLE = (
    (UNICODE | SIGN | SEAL | NTLM | ALWAYS_SIGN | EXTENDED_SESSIONSECURITY | VERSION)
    | NEGOTIATE_128
    | KEY_EXCH
    | NEGOTIATE_56
)

# AV_PAIR ids ([MS-NLMP] 2.2.2.1).
AV_EOL, AV_NB_COMPUTER, AV_NB_DOMAIN, AV_DNS_COMPUTER = 0, 1, 2, 3
AV_FLAGS, AV_TIMESTAMP = 6, 7
AV_FLAG_MIC = 0x2

_MSG_HEAD = struct.Struct("<8sI")
_FIELD = struct.Struct("<HHI")  # length, max length, offset
_AUTH_FIXED = 64  # signature .. NegotiateFlags
_MIC_AT = 72  # after the 8-byte Version
_VERSION = struct.pack("<BBHBBBB", 10, 0, 20348, 0, 0, 0, 15)  # 10.0.20348, NTLMSSP rev 15


class AuthError(Exception):
    """A token or signature the acceptor refuses; the PDU layer turns it into a refusal."""


# ------------------------------------------------------------------ hashes


def _md4(data: bytes) -> bytes:
    """MD4 (RFC 1320): NTOWFv1 needs it and OpenSSL 3 no longer offers it by default."""

    def rol(x: int, n: int) -> int:
        x &= 0xFFFFFFFF
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

    length = len(data)
    data += b"\x80" + b"\0" * ((55 - length) % 64) + struct.pack("<Q", length * 8)
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for block in range(0, len(data), 64):
        x = struct.unpack("<16I", data[block : block + 64])
        a, b, c, d = h
        for i in (0, 4, 8, 12):  # round 1: F(b,c,d) = (b & c) | (~b & d)
            for k, s in zip(range(i, i + 4), (3, 7, 11, 19), strict=True):
                a = rol(a + ((b & c) | (~b & d)) + x[k], s)
                a, b, c, d = d, a, b, c
        for i in (0, 1, 2, 3):  # round 2: G = majority, constant 0x5A827999
            for k, s in zip((i, i + 4, i + 8, i + 12), (3, 5, 9, 13), strict=True):
                a = rol(a + ((b & c) | (b & d) | (c & d)) + x[k] + 0x5A827999, s)
                a, b, c, d = d, a, b, c
        for i in (0, 2, 1, 3):  # round 3: H = parity, constant 0x6ED9EBA1
            for k, s in zip((i, i + 8, i + 4, i + 12), (3, 9, 11, 15), strict=True):
                a = rol(a + (b ^ c ^ d) + x[k] + 0x6ED9EBA1, s)
                a, b, c, d = d, a, b, c
        h = [(v + w) & 0xFFFFFFFF for v, w in zip(h, (a, b, c, d), strict=True)]
    return struct.pack("<4I", *h)


def nt_hash(password: str) -> bytes:
    """NTOWFv1: MD4 of the UTF-16LE password (what smbpasswd files store, in hex)."""
    return _md4(password.encode("utf-16-le"))


def _hmac_md5(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.md5).digest()


def _rc4(key: bytes) -> Any:
    """A streaming RC4 encryptor (encryption and decryption are the same operation)."""
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
    except ImportError:  # cryptography < 43
        from cryptography.hazmat.primitives.ciphers.algorithms import ARC4
    from cryptography.hazmat.primitives.ciphers import Cipher

    return Cipher(ARC4(key), mode=None).encryptor()


# ------------------------------------------------------------------ messages


def _field(msg: bytes, at: int) -> bytes:
    if at + _FIELD.size > len(msg):
        raise AuthError("NTLM message truncated")
    length, _max, offset = _FIELD.unpack_from(msg, at)
    if offset + length > len(msg):
        raise AuthError("NTLM field points outside the message")
    return msg[offset : offset + length]


def _check_type(msg: bytes, kind: int) -> None:
    if len(msg) < _MSG_HEAD.size:
        raise AuthError("NTLM message truncated")
    signature, msg_type = _MSG_HEAD.unpack_from(msg)
    if signature != SIGNATURE or msg_type != kind:
        raise AuthError(f"expected an NTLM message of type {kind}")


def _av_pairs(data: bytes) -> dict[int, bytes]:
    pairs: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(data):
        av_id, av_len = struct.unpack_from("<HH", data, pos)
        pos += 4
        if av_id == AV_EOL:
            return pairs
        pairs[av_id] = data[pos : pos + av_len]
        pos += av_len
    raise AuthError("AV_PAIR list without MsvAvEOL")


def _av_encode(pairs: list[tuple[int, bytes]]) -> bytes:
    out = b"".join(struct.pack("<HH", i, len(v)) + v for i, v in pairs)
    return out + struct.pack("<HH", AV_EOL, 0)


def _filetime_now() -> bytes:
    return struct.pack("<Q", int(time.time() * 10_000_000) + 116444736000000000)


@dataclass(frozen=True)
class Identity:
    """Who authenticated: what the AUTHENTICATE message named, after its proof checked out."""

    user: str
    domain: str
    workstation: str


HashLookup = Callable[[str, str], bytes | None]


class NtlmAcceptor:
    """One security context being established: NEGOTIATE in, CHALLENGE out, AUTHENTICATE in.

    `lookup(domain, user)` gives the NT hash of a user (None: unknown). When `accept` returns,
    `session` signs and seals for this context and `identity` says who the client is.
    """

    def __init__(self, lookup: HashLookup, computer: str | None = None, domain: str = "WORKGROUP"):
        self._lookup = lookup
        self._computer = (computer or socket.gethostname().split(".")[0]).upper()[:15]
        self._domain = domain.upper()
        self._negotiate = b""
        self._challenge = b""
        self._server_challenge = b""
        self.flags = 0
        self.session: NtlmSession | None = None
        self.identity: Identity | None = None

    def challenge(self, negotiate: bytes) -> bytes:
        """The CHALLENGE message answering the client's NEGOTIATE."""
        _check_type(negotiate, NEGOTIATE_MESSAGE)
        if len(negotiate) < 16:
            raise AuthError("NEGOTIATE message truncated")
        (client_flags,) = struct.unpack_from("<I", negotiate, 12)
        if not client_flags & UNICODE:
            raise AuthError("client does not speak Unicode NTLM")
        flags = (client_flags & _GRANTABLE) | REQUEST_TARGET | TARGET_INFO | TARGET_TYPE_SERVER
        flags |= NTLM | ALWAYS_SIGN | UNICODE
        self.flags = flags
        self._server_challenge = os.urandom(8)
        target = self._computer.encode("utf-16-le")
        info = _av_encode(
            [
                (AV_NB_DOMAIN, self._domain.encode("utf-16-le")),
                (AV_NB_COMPUTER, target),
                (AV_DNS_COMPUTER, self._computer.lower().encode("utf-16-le")),
                (AV_TIMESTAMP, _filetime_now()),
            ]
        )
        head = 56
        msg = _MSG_HEAD.pack(SIGNATURE, CHALLENGE_MESSAGE)
        msg += _FIELD.pack(len(target), len(target), head)
        msg += struct.pack("<I", flags) + self._server_challenge + b"\0" * 8
        msg += _FIELD.pack(len(info), len(info), head + len(target)) + _VERSION
        msg += target + info
        self._negotiate, self._challenge = bytes(negotiate), msg
        return msg

    def accept(self, authenticate: bytes) -> None:
        """Check the AUTHENTICATE message; AuthError if the proof or the MIC is wrong."""
        if not self._challenge:
            raise AuthError("AUTHENTICATE before CHALLENGE")
        msg = bytes(authenticate)
        _check_type(msg, AUTHENTICATE_MESSAGE)
        if len(msg) < _AUTH_FIXED:
            raise AuthError("AUTHENTICATE message truncated")
        nt_response = _field(msg, 20)
        domain = _text(_field(msg, 28))
        user = _text(_field(msg, 36))
        workstation = _text(_field(msg, 44))
        encrypted_key = _field(msg, 52)
        (flags,) = struct.unpack_from("<I", msg, 60)
        if not user or not nt_response:
            raise AuthError("anonymous NTLM logons are not accepted")
        if len(nt_response) <= 24:
            raise AuthError("NTLMv1 responses are not accepted")
        hash_ = self._lookup(domain, user)
        if hash_ is None:
            raise AuthError(f"unknown user {domain}\\{user}")
        response_key = _hmac_md5(hash_, (user.upper() + domain).encode("utf-16-le"))
        proof, blob = nt_response[:16], nt_response[16:]
        # The blob as sent, with or without the four trailing zero bytes ([MS-NLMP] 3.3.2).
        expected = _hmac_md5(response_key, self._server_challenge + blob)
        if not hmac.compare_digest(proof, expected):
            raise AuthError(f"wrong password for {domain}\\{user}")
        key_exchange_key = _hmac_md5(response_key, proof)
        session_key = key_exchange_key
        if flags & KEY_EXCH and len(encrypted_key) == 16:
            session_key = _rc4(key_exchange_key).update(encrypted_key)
        self._check_mic(msg, blob, session_key)
        self.flags = flags
        self.identity = Identity(user, domain, workstation)
        self.session = NtlmSession(session_key, flags, server=True)

    def _check_mic(self, msg: bytes, blob: bytes, session_key: bytes) -> None:
        pairs = _av_pairs(blob[28:]) if len(blob) > 28 else {}
        av_flags = (
            struct.unpack("<I", pairs[AV_FLAGS])[0] if len(pairs.get(AV_FLAGS, b"")) == 4 else 0
        )
        if not av_flags & AV_FLAG_MIC:
            return
        if len(msg) < _MIC_AT + 16:
            raise AuthError("AUTHENTICATE message without its MIC")
        mic = msg[_MIC_AT : _MIC_AT + 16]
        zeroed = msg[:_MIC_AT] + b"\0" * 16 + msg[_MIC_AT + 16 :]
        expected = _hmac_md5(session_key, self._negotiate + self._challenge + zeroed)
        if not hmac.compare_digest(mic, expected):
            raise AuthError("AUTHENTICATE message MIC does not match")


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-16-le")
    except UnicodeDecodeError:
        raise AuthError("NTLM name is not UTF-16") from None


def _key(session_key: bytes, direction: str, use: str) -> bytes:
    magic = f"session key to {direction} {use} key magic constant\0".encode("ascii")
    return hashlib.md5(session_key + magic).digest()


class NtlmSession:
    """Sign and seal with extended session security ([MS-NLMP] 3.4.4.2, 3.4.3).

    One RC4 stream and one sequence number per direction; messages must be protected in the
    order they are sent and checked in the order they arrive.
    """

    def __init__(self, session_key: bytes, flags: int, server: bool) -> None:
        if not flags & EXTENDED_SESSIONSECURITY:
            raise AuthError("NTLM without extended session security is not accepted")
        seal_key = session_key
        if not flags & NEGOTIATE_128:
            seal_key = session_key[:7] if flags & NEGOTIATE_56 else session_key[:5]
        ours, theirs = ("server-to-client", "client-to-server")
        if not server:
            ours, theirs = theirs, ours
        self._sign_out = _key(session_key, ours, "signing")
        self._sign_in = _key(session_key, theirs, "signing")
        self._rc4_out = _rc4(_key(seal_key, ours, "sealing"))
        self._rc4_in = _rc4(_key(seal_key, theirs, "sealing"))
        self._seq_out = 0
        self._seq_in = 0
        self._key_exch = bool(flags & KEY_EXCH)

    def _mac(self, key: bytes, rc4: Any, seq: int, message: bytes) -> bytes:
        seq_bytes = struct.pack("<I", seq)
        checksum = _hmac_md5(key, seq_bytes + message)[:8]
        if self._key_exch:
            checksum = rc4.update(checksum)
        return struct.pack("<I", 1) + checksum + seq_bytes

    def sign(self, message: bytes) -> bytes:
        sig = self._mac(self._sign_out, self._rc4_out, self._seq_out, message)
        self._seq_out += 1
        return sig

    def verify(self, message: bytes, signature: bytes) -> None:
        expected = self._mac(self._sign_in, self._rc4_in, self._seq_in, message)
        self._seq_in += 1
        if not hmac.compare_digest(expected, bytes(signature)):
            raise AuthError("NTLM signature does not match")

    def seal(self, before: bytes, plain: bytes, after: bytes) -> tuple[bytes, bytes]:
        """(encrypted `plain`, signature over before + plain + after)."""
        sealed = self._rc4_out.update(plain)
        return sealed, self.sign(before + plain + after)

    def unseal(self, before: bytes, sealed: bytes, after: bytes, signature: bytes) -> bytes:
        plain: bytes = self._rc4_in.update(sealed)
        self.verify(before + plain + after, signature)
        return plain
