"""Splitting stub data into request/response fragments and putting it back together.

A fragment may carry at most the negotiated size (the peer's max_recv_frag). Every fragment
but the last carries a multiple of 8 stub bytes, so NDR alignment inside the stub data never
depends on where a fragment boundary fell. Reassembly enforces the total size limit before
anything is buffered, so an alloc_hint or a stream of fragments cannot make us allocate more
than the configured request size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from idlgen.runtime.com.guid import GUID
from idlgen.runtime.rpc.dcerpc import pdu as P


def chunk_room(max_frag: int, header: int) -> int:
    """The stub bytes one fragment of `max_frag` carries (a multiple of 8)."""
    room = max_frag - header
    room -= room % 8
    if room <= 0:
        raise ValueError(f"fragment size {max_frag} leaves no room for stub data")
    return room


def _chunks(stub: bytes, room: int) -> list[tuple[int, bytes]]:
    """(flags, piece) pairs; an empty stub is still one fragment."""
    pieces = [stub[i : i + room] for i in range(0, len(stub), room)] or [b""]
    out = []
    for i, piece in enumerate(pieces):
        flags = (P.PFC_FIRST_FRAG if i == 0 else 0) | (
            P.PFC_LAST_FRAG if i == len(pieces) - 1 else 0
        )
        out.append((flags, piece))
    return out


def request_fragments(
    call_id: int,
    cont_id: int,
    opnum: int,
    stub: bytes,
    max_frag: int,
    obj: GUID | None = None,
    extra_flags: int = 0,
) -> list[bytes]:
    header = P.REQUEST_HEADER + (16 if obj is not None else 0)
    out = []
    for flags, piece in _chunks(stub, chunk_room(max_frag, header)):
        req = P.Request(call_id, cont_id, opnum, piece, obj, len(stub), flags | extra_flags)
        out.append(P.encode(req))
    return out


def response_fragments(
    call_id: int, cont_id: int, stub: bytes, max_frag: int, cancel_count: int = 0
) -> list[bytes]:
    out = []
    for flags, piece in _chunks(stub, chunk_room(max_frag, P.RESPONSE_HEADER)):
        resp = P.Response(call_id, cont_id, piece, len(stub), min(cancel_count, 255), flags)
        out.append(P.encode(resp))
    return out


@dataclass
class Reassembly:
    """Fragments of one call so far. `first` is the first fragment (its opnum, context, object)."""

    first: P.Request | P.Response
    limit: int
    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    flags_seen: int = 0

    def add(self, frag: P.Request | P.Response) -> bool | P.ProtocolError:
        """Append a fragment; True when the call is complete, a ProtocolError if it breaks rules."""
        if self.parts:
            if frag.flags & P.PFC_FIRST_FRAG:
                return P.ProtocolError("second first fragment in a call", frag.call_id)
            if type(frag) is not type(self.first) or frag.cont_id != self.first.cont_id:
                return P.ProtocolError("fragment does not match its call", frag.call_id)
            first = self.first
            if (
                isinstance(frag, P.Request)
                and isinstance(first, P.Request)
                and frag.opnum != first.opnum
            ):
                return P.ProtocolError("fragment changes opnum", frag.call_id)
        self.size += len(frag.stub)
        if self.size > self.limit:
            reason = f"call larger than {self.limit} bytes"
            return P.ProtocolError(reason, frag.call_id, status=P.NCA_S_FAULT_REMOTE_NO_MEMORY)
        self.parts.append(frag.stub)
        self.flags_seen |= frag.flags
        return bool(frag.flags & P.PFC_LAST_FRAG)

    def stub(self) -> bytes:
        return b"".join(self.parts)


def start(frag: P.Request | P.Response, limit: int) -> Reassembly | P.ProtocolError:
    if not frag.flags & P.PFC_FIRST_FRAG:
        return P.ProtocolError("continuation fragment for an unknown call", frag.call_id)
    return Reassembly(frag, limit)
