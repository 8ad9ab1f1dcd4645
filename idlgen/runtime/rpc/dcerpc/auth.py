"""DCE/RPC security: NTLM (RPC_C_AUTHN_WINNT) at the connect, integrity and privacy levels.

[MS-RPCE] 2.2.2.11-12 and 3.3.1.5.2: a bind (or alter_context) carries the client's first
token in an auth verifier, the bind_ack the server's answer, and AUTH3 the third leg. Each
security context is named by the auth_context_id of its sec_trailer, so one connection may
hold several. From then on every request and response fragment of an integrity or privacy
call carries a verifier: a signature over the whole PDU (header to sec_trailer), and at
privacy the stub data (with its pad) encrypted. Connect-level calls carry none.

Server side: `ServerSecurity` (credentials, the minimum level) on the `RpcServer`, one
`ConnectionAuth` per connection. Client side: `ClientAuth` (credentials and level) on the
`Connection`, one `ClientSecurity` per association. The client's NTLM is pyspnego's (the
optional `idlgen[ntlm]` extra), imported only when a client authenticates; the server's is
`ntlm.py` (why: its docstring).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import InitVar, dataclass, field, replace
from enum import IntEnum
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from idlgen.runtime.rpc.dcerpc import pdu as P
from idlgen.runtime.rpc.dcerpc.ntlm import AuthError, NtlmAcceptor, nt_hash

__all__ = [
    "RPC_C_AUTHN_WINNT",
    "AuthError",
    "AuthLevel",
    "CallSecurity",
    "ClientAuth",
    "ClientBlanket",
    "ClientSecurity",
    "CoQueryClientBlanket",
    "ConnectionAuth",
    "Credentials",
    "ServerSecurity",
    "caller",
]

RPC_C_AUTHN_NONE = 0
RPC_C_AUTHN_WINNT = 10
ERROR_ACCESS_DENIED = 5  # the fault status for a call below the required level
SIGNATURE_SIZE = 16  # an NTLM signature
AUTH_OVERHEAD = 15 + P.SEC_TRAILER.size + SIGNATURE_SIZE  # worst-case pad + trailer + token
NAK_AUTHENTICATION_TYPE_NOT_RECOGNIZED = 8
NAK_INVALID_CHECKSUM = 9


class AuthLevel(IntEnum):
    """RPC_C_AUTHN_LEVEL_* ([MS-RPCE] 2.2.1.1.8)."""

    DEFAULT = 0
    NONE = 1
    CONNECT = 2
    CALL = 3
    PKT = 4
    PKT_INTEGRITY = 5
    PKT_PRIVACY = 6


def _effective(level: int) -> AuthLevel:
    """NTLM has no call- or packet-only protection: those levels are served as integrity."""
    if level in (AuthLevel.CALL, AuthLevel.PKT):
        return AuthLevel.PKT_INTEGRITY
    if not AuthLevel.NONE <= level <= AuthLevel.PKT_PRIVACY:
        raise AuthError(f"authentication level {level} is not valid")
    return AuthLevel(level)


# ------------------------------------------------------------------ credentials


class Credentials:
    """The server's users: NT hashes by (domain, user), from a file or a callback.

    File lines are `DOMAIN:user:password` (an empty DOMAIN matches any domain the client
    names) or smbpasswd entries (`user:uid:LMHASH:NTHASH:[flags]:LCT-...:`, user optionally
    `DOMAIN\\user`); blank lines and `#` comments are skipped. Passwords are turned into NT
    hashes as the file is read and not kept. A callback `lookup(domain, user)` returns the NT
    hash (16 bytes) or None.
    """

    def __init__(self, lookup: Callable[[str, str], bytes | None] | None = None) -> None:
        self._table: dict[tuple[str, str], bytes] = {}
        self._callback = lookup

    @classmethod
    def from_file(cls, path: str | Path) -> Credentials:
        creds = cls()
        text = Path(path).read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                creds._add_line(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
        return creds

    def add(self, domain: str, user: str, password: str) -> None:
        self._table[(domain.upper(), user.upper())] = nt_hash(password)

    def _add_line(self, line: str) -> None:
        fields = line.split(":")
        if len(fields) == 3:
            self.add(fields[0], fields[1], fields[2])
            return
        if len(fields) >= 6:
            domain, _, user = fields[0].rpartition("\\")
            hex_hash = fields[3]
            if hex_hash.upper().startswith("NO PASSWORD") or set(hex_hash) == {"X"}:
                return  # a disabled smbpasswd entry
            try:
                value = bytes.fromhex(hex_hash)
            except ValueError:
                raise ValueError("NT hash is not hexadecimal") from None
            if len(value) != 16:
                raise ValueError("NT hash is not 16 bytes")
            self._table[(domain.upper(), user.upper())] = value
            return
        raise ValueError("expected DOMAIN:user:password or an smbpasswd line")

    def lookup(self, domain: str, user: str) -> bytes | None:
        if self._callback is not None:
            found = self._callback(domain, user)
            if found is not None:
                return found
        key = (domain.upper(), user.upper())
        return self._table.get(key) or self._table.get(("", user.upper()))


@dataclass(frozen=True)
class ServerSecurity:
    """What a server accepts: its users and the lowest level a call may use (default
    connect: once credentials are configured, anonymous calls are refused)."""

    credentials: Credentials
    level: AuthLevel = AuthLevel.CONNECT
    domain: str = "WORKGROUP"
    computer: str | None = None


@dataclass(frozen=True)
class CallSecurity:
    """How the current call was authenticated (what CoGetCallContext-style code reports)."""

    level: AuthLevel
    user: str = ""
    domain: str = ""
    authn_service: int = RPC_C_AUTHN_NONE
    context_id: int = 0


ANONYMOUS = CallSecurity(AuthLevel.NONE)

_CALLER: ContextVar[CallSecurity | None] = ContextVar("idlgen_rpc_caller", default=None)

AccessCheck = Callable[[CallSecurity], bool]


class ClientBlanket(NamedTuple):
    """What CoQueryClientBlanket reports ([MS-DCOM] call context, IServerSecurity)."""

    authn_service: int
    authz_service: int
    server_principal: str
    authn_level: int
    impersonation_level: int
    client_principal: str  # DOMAIN\user, "" for anonymous calls
    capabilities: int


def caller() -> CallSecurity | None:
    """How the call being served was authenticated (None outside a served call)."""
    return _CALLER.get()


def serving(security: CallSecurity) -> Token[CallSecurity | None]:
    """Make `security` the caller seen by `caller()` (servers, around a method)."""
    return _CALLER.set(security)


def done_serving(token: Token[CallSecurity | None]) -> None:
    _CALLER.reset(token)


def CoQueryClientBlanket() -> ClientBlanket:
    """The caller's authentication, as IServerSecurity::QueryBlanket gives it. Raises
    RPC_E_CALL_COMPLETE outside a served call."""
    from idlgen.runtime.com.hresult import CallCompleteError

    who = _CALLER.get()
    if who is None:
        raise CallCompleteError(message="no call is being served on this context")
    principal = f"{who.domain}\\{who.user}" if who.user else ""
    impersonation = 2 if who.user else 0  # RPC_C_IMP_LEVEL_IDENTIFY for NTLM callers
    return ClientBlanket(who.authn_service, 0, "", int(who.level), impersonation, principal, 0)


class Session(Protocol):
    """Sign and seal for one security context (ntlm.NtlmSession, or pyspnego's wrapped)."""

    def sign(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> None: ...

    def seal(self, before: bytes, plain: bytes, after: bytes) -> tuple[bytes, bytes]: ...

    def unseal(self, before: bytes, sealed: bytes, after: bytes, signature: bytes) -> bytes: ...


# ------------------------------------------------------------------ PDU protection


def _stub_offset(frame: bytes) -> int:
    ptype, flags = frame[2], frame[3]
    if ptype == P.REQUEST:
        return P.REQUEST_HEADER + (16 if flags & P.PFC_OBJECT_UUID else 0)
    return P.RESPONSE_HEADER


def protect(frame: bytes, session: Session, level: AuthLevel, context_id: int) -> bytes:
    """An unauthenticated request or response fragment with its verifier added."""
    if level < AuthLevel.CALL:
        return frame
    offset = _stub_offset(frame)
    pad = -(len(frame) - offset) % 16  # sec_trailer 16-aligned from the stub ([MS-RPCE] 2.2.2.11)
    stub = frame[offset:] + b"\0" * pad
    trailer = P.SEC_TRAILER.pack(RPC_C_AUTHN_WINNT, level, pad, 0, context_id)
    length = len(frame) + pad + len(trailer) + SIGNATURE_SIZE
    head = frame[:8] + struct.pack("<HH", length, SIGNATURE_SIZE) + frame[12:offset]
    if level == AuthLevel.PKT_PRIVACY:
        sealed, sig = session.seal(head, stub, trailer)
        return head + sealed + trailer + sig
    return head + stub + trailer + session.sign(head + stub + trailer)


def unprotect(v: P.AuthVerifier, session: Session, level: AuthLevel) -> bytes:
    """The plain stub data of a request or response fragment (AuthError if tampered)."""
    covered, offset = v.signed, v.stub_offset
    end = len(covered) - P.SEC_TRAILER.size
    if level == AuthLevel.PKT_PRIVACY:
        plain = session.unseal(covered[:offset], covered[offset:end], covered[end:], v.value)
    else:
        session.verify(covered, v.value)
        plain = covered[offset:end]
    return plain[: len(plain) - v.pad_length]


# ------------------------------------------------------------------ server


@dataclass
class _Accepting:
    acceptor: NtlmAcceptor
    level: AuthLevel
    failed: str = ""  # why the third leg was refused

    @property
    def complete(self) -> bool:
        return self.acceptor.session is not None


@dataclass
class ConnectionAuth:
    """The security contexts of one server connection, by auth_context_id."""

    config: ServerSecurity
    contexts: dict[int, _Accepting] = field(default_factory=dict)

    def bind(self, v: P.AuthVerifier | None) -> P.AuthVerifier | None:
        """The verifier for the bind_ack/alter_context_resp; AuthError refuses the bind."""
        if v is None:
            return None
        if v.auth_type != RPC_C_AUTHN_WINNT:
            raise AuthError(f"authentication service {v.auth_type} is not supported")
        if not AuthLevel.CONNECT <= v.level <= AuthLevel.PKT_PRIVACY:
            raise AuthError(f"authentication level {v.level} is not valid")
        ctx = self.contexts.get(v.context_id)
        if ctx is not None and ctx.complete:
            return None  # alter_context on an established context: nothing to negotiate
        config = self.config
        acceptor = NtlmAcceptor(config.credentials.lookup, config.computer, config.domain)
        token = acceptor.challenge(v.value)
        self.contexts[v.context_id] = _Accepting(acceptor, _effective(v.level))
        return P.AuthVerifier(RPC_C_AUTHN_WINNT, v.level, v.context_id, token)

    def auth3(self, v: P.AuthVerifier) -> None:
        """The third leg. A wrong password is remembered: the calls that use it are refused."""
        ctx = self.contexts.get(v.context_id)
        if ctx is None or ctx.complete or v.auth_type != RPC_C_AUTHN_WINNT:
            raise AuthError("AUTH3 for no security context in progress")
        try:
            ctx.acceptor.accept(v.value)
        except AuthError as exc:
            ctx.failed = str(exc) or "authentication failed"

    def request(self, p: P.Request) -> tuple[P.Request, CallSecurity]:
        """The fragment with its stub in clear, and how it was authenticated."""
        v = p.auth
        if v is None:
            return p, self._connect_level()
        ctx = self.contexts.get(v.context_id)
        if ctx is None or not ctx.complete:
            raise AuthError(ctx.failed if ctx is not None and ctx.failed else "not authenticated")
        if _effective(v.level) != ctx.level:
            raise AuthError("request level differs from its security context's")
        session = ctx.acceptor.session
        assert session is not None and ctx.acceptor.identity is not None
        stub = unprotect(v, session, ctx.level)
        ident = ctx.acceptor.identity
        security = CallSecurity(
            ctx.level, ident.user, ident.domain, RPC_C_AUTHN_WINNT, v.context_id
        )
        return replace(p, stub=stub, auth=None), security

    def _connect_level(self) -> CallSecurity:
        for ctx_id, ctx in self.contexts.items():
            if ctx.complete and ctx.acceptor.identity is not None:
                ident = ctx.acceptor.identity
                return CallSecurity(
                    AuthLevel.CONNECT, ident.user, ident.domain, RPC_C_AUTHN_WINNT, ctx_id
                )
        return ANONYMOUS

    def failure(self) -> str:
        """Why this connection's authentication failed, if it did."""
        return next((c.failed for c in self.contexts.values() if c.failed), "")

    def protect_response(self, frame: bytes, security: CallSecurity) -> bytes:
        """A response fragment protected like the request was (faults go out as they are)."""
        ctx = self.contexts.get(security.context_id)
        if frame[2] != P.RESPONSE or security.level < AuthLevel.CALL:
            return frame
        if ctx is None or ctx.acceptor.session is None:
            return frame
        return protect(frame, ctx.acceptor.session, security.level, security.context_id)


# ------------------------------------------------------------------ client


@dataclass(frozen=True)
class ClientAuth:
    """Credentials and level for a client (`Connection(binding, auth=ClientAuth(...))`).

    `user` may be `DOMAIN\\user`. Needs pyspnego (`pip install idlgen[ntlm]`). The password
    is turned into its NT hash (NTOWFv1) here and not kept: NTLM needs nothing else, and
    pyspnego takes the hash (`spnego.NTLMHash`). `ClientAuth.from_nt_hash` starts from a
    hash (an smbpasswd entry, a secrets store) and never sees a password."""

    user: str
    password: InitVar[str | None]
    domain: str = ""
    level: AuthLevel = AuthLevel.PKT_PRIVACY
    nt_hash: bytes = field(default=b"", repr=False, kw_only=True)

    def __post_init__(self, password: str | None) -> None:
        if password is not None:
            if self.nt_hash:
                raise ValueError("give a password or an NT hash, not both")
            object.__setattr__(self, "nt_hash", nt_hash(password))
        elif len(self.nt_hash) != 16:
            raise ValueError("an NT hash is 16 bytes")

    @classmethod
    def from_nt_hash(
        cls,
        user: str,
        hash_: bytes | str,
        domain: str = "",
        level: AuthLevel = AuthLevel.PKT_PRIVACY,
    ) -> ClientAuth:
        """Credentials from an NT hash (16 bytes, or 32 hex digits)."""
        value = bytes.fromhex(hash_) if isinstance(hash_, str) else bytes(hash_)
        return cls(user, None, domain, level, nt_hash=value)

    @property
    def principal(self) -> str:
        return f"{self.domain}\\{self.user}" if self.domain and "\\" not in self.user else self.user


class _SpnegoSession:
    """pyspnego's NTLM context seen through the `Session` protocol."""

    def __init__(self, ctx: Any) -> None:
        from spnego.iov import BufferType

        self._ctx = ctx
        self._types = BufferType

    def sign(self, message: bytes) -> bytes:
        return bytes(self._ctx.sign(message))

    def verify(self, message: bytes, signature: bytes) -> None:
        try:
            self._ctx.verify(message, signature)
        except Exception as exc:  # pyspnego raises its own SpnegoError family
            raise AuthError(f"server signature does not verify: {exc}") from None

    def seal(self, before: bytes, plain: bytes, after: bytes) -> tuple[bytes, bytes]:
        t = self._types
        res = self._ctx.wrap_iov(
            [(t.sign_only, before), (t.data, plain), (t.sign_only, after), (t.header, True)]
        )
        return bytes(res.buffers[1].data), bytes(res.buffers[3].data)

    def unseal(self, before: bytes, sealed: bytes, after: bytes, signature: bytes) -> bytes:
        t = self._types
        try:
            res = self._ctx.unwrap_iov(
                [
                    (t.sign_only, before),
                    (t.data, sealed),
                    (t.sign_only, after),
                    (t.header, signature),
                ]
            )
        except Exception as exc:
            raise AuthError(f"server reply does not unseal: {exc}") from None
        return bytes(res.buffers[1].data)


def _spnego_client(auth: ClientAuth) -> Any:
    try:
        import spnego
    except ImportError:
        raise ImportError(
            "NTLM authentication needs pyspnego: pip install 'idlgen[ntlm]'"
        ) from None
    req = spnego.ContextReq.default | spnego.ContextReq.integrity
    if auth.level >= AuthLevel.PKT_PRIVACY:
        req |= spnego.ContextReq.confidentiality
    return spnego.client(
        spnego.NTLMHash(auth.principal, nt_hash=auth.nt_hash.hex()),
        hostname="unspecified",
        service="host",
        protocol="ntlm",
        context_req=req,
        options=spnego.NegotiateOptions.use_ntlm,
    )


class ClientSecurity:
    """One security context of a client association."""

    def __init__(self, auth: ClientAuth, context_id: int = 0) -> None:
        self.auth = auth
        self.level = _effective(auth.level)
        self.context_id = context_id
        self._ctx = _spnego_client(auth)
        self.session: _SpnegoSession | None = None

    def first(self) -> P.AuthVerifier:
        token = self._ctx.step()
        return P.AuthVerifier(RPC_C_AUTHN_WINNT, self.level, self.context_id, bytes(token))

    def third(self, v: P.AuthVerifier | None) -> P.AuthVerifier:
        """AUTH3's verifier from the bind_ack's challenge."""
        if v is None or v.auth_type != RPC_C_AUTHN_WINNT:
            raise AuthError("the server answered the bind without an NTLM challenge")
        try:
            token = self._ctx.step(v.value)
        except Exception as exc:
            raise AuthError(f"bad NTLM challenge: {exc}") from None
        self.session = _SpnegoSession(self._ctx)
        return P.AuthVerifier(RPC_C_AUTHN_WINNT, self.level, self.context_id, bytes(token or b""))

    def protect(self, frame: bytes) -> bytes:
        assert self.session is not None
        return protect(frame, self.session, self.level, self.context_id)

    def response(self, p: P.Response) -> bytes:
        """The stub of a response fragment, checked (AuthError when it does not verify)."""
        if self.level < AuthLevel.CALL:
            return p.stub
        if p.auth is None or self.session is None:
            raise AuthError("the server sent an unprotected response")
        return unprotect(p.auth, self.session, self.level)
