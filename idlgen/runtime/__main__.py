"""`python -m idlgen.runtime serve MODULE:FACTORY --binding BINDING [--iface NAME]`.

Imports MODULE, calls FACTORY() for the object to serve, publishes it (as `--iface`, or the
first remotable interface the object implements) on BINDING, prints the published string
("IPID@binding", what `idlgen.runtime.rpc.orpc.connect` takes) as the first line of stdout (with
--resolver, "resolver BINDING" as the second: activation, the OXID resolver and the endpoint
mapper; --credentials/--level add NTLM, docs/dcom.md), and
serves until SIGINT or SIGTERM (or, with `--until-eof`, until stdin closes: what tests use,
so a parent that dies takes its servers along). Stopping is clean: no new connections or
calls, running calls canceled and given `shutdown_grace` seconds to finish, every reference
clients held released, exit status 0. `--limit NAME=VALUE` changes one `ServerLimits` field
(docs/security.md), `--allow-callback HOST` lets clients' OBJREFs name HOST. Bad arguments
are one-line errors.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from typing import Any


def _interface_of(obj: Any, name: str | None) -> Any:
    from idlgen.runtime.com.interface import is_interface

    for cls in type(obj).__mro__:
        if not is_interface(cls) or cls.__dict__.get("_proxy_") is None:
            continue
        if name is None or cls.__name__ == name:
            return cls
    raise LookupError(f"{type(obj).__name__} implements no remotable interface {name or ''}")


def _factory(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise LookupError(f"{spec!r}: expected MODULE:FACTORY")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


_LEVELS = {"none": 1, "connect": 2, "integrity": 5, "privacy": 6}


def _security(args: argparse.Namespace) -> Any:
    """NTLM security from --credentials/--level (None when no credentials are given)."""
    if args.credentials is None:
        if args.level not in (None, "none"):
            raise ValueError("--level needs --credentials")
        return None
    from idlgen.runtime.rpc.dcerpc.auth import AuthLevel, Credentials, ServerSecurity

    level = AuthLevel(_LEVELS[args.level or "connect"])
    return ServerSecurity(Credentials.from_file(args.credentials), level)


def _serve_resolver(args: argparse.Namespace, security: Any, factory: Any, obj: Any) -> Any:
    """The resolver endpoint (endpoint mapper, OXID resolver, activation) with FACTORY
    registered under --clsid (default: the object's coclass `_clsid_`)."""
    from idlgen.runtime.com.guid import GUID
    from idlgen.runtime.rpc.dcom.service import DcomService

    clsid = GUID(args.clsid) if args.clsid else getattr(type(obj), "_clsid_", None)
    if clsid is None:
        raise LookupError("--resolver needs --clsid (or an object whose class has _clsid_)")
    service = DcomService(
        security, ping_period=args.ping_period, objref_bindings=args.objref_bindings
    )
    service.classes.register(clsid, factory)
    return service.listen(args.resolver)


def _limits(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from idlgen.runtime.rpc import orpc
    from idlgen.runtime.rpc.dcerpc.limits import parse_limit

    limits = orpc.limits()
    for text in args.limit:
        limits = parse_limit(limits, text)
    if args.allow_callback:
        limits = replace(limits, callback_hosts=(*limits.callback_hosts, *args.allow_callback))
    return limits


def serve(args: argparse.Namespace) -> int:
    from idlgen.runtime.rpc import orpc

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        security = _security(args)
        orpc.configure(_limits(args))
        obj = _factory(args.target)()
        iface = _interface_of(obj, args.iface)
        text = orpc.publish(obj, iface, args.binding, security=security)
        resolver = None
        if args.resolver is not None:
            resolver = _serve_resolver(args, security, _factory(args.target), obj)
    except (LookupError, ImportError, AttributeError, ValueError, OSError) as exc:
        print(f"idlgen.runtime serve: error: {exc}", file=sys.stderr)
        return 2
    obj.Release()  # the publication holds the object now: at shutdown it goes with it
    print(text, flush=True)
    if resolver is not None:
        print(f"resolver {resolver}", flush=True)  # second line: the real resolver binding
    if args.until_eof:
        threading.Thread(target=_stop_at_eof, args=(stop,), daemon=True).start()
    while not stop.wait(1.0):
        pass
    orpc.shutdown()
    return 0


def _stop_at_eof(stop: threading.Event) -> None:
    sys.stdin.read()
    stop.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idlgen.runtime")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="publish an object over ORPC and serve it")
    p.add_argument("target", help="MODULE:FACTORY returning the object to serve")
    p.add_argument("--binding", default="ncacn_ip_tcp:127.0.0.1[0]")
    p.add_argument("--iface", default=None, help="interface name (default: the first)")
    p.add_argument(
        "--credentials",
        default=None,
        metavar="FILE",
        help="NTLM users (DOMAIN:user:password or smbpasswd lines): calls must authenticate",
    )
    p.add_argument(
        "--resolver",
        default=None,
        metavar="BINDING",
        help="also serve activation, the OXID resolver and the endpoint mapper here "
        "(ncacn_ip_tcp:HOST[135] is what Windows and impacket clients dial)",
    )
    p.add_argument("--clsid", default=None, help="CLSID activation creates FACTORY's objects for")
    p.add_argument(
        "--ping-period",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="DCOM ping period; unpinged objects go after three (default 120)",
    )
    p.add_argument(
        "--objref-bindings",
        choices=("endpoint", "resolver"),
        default="endpoint",
        help="what OBJREFs carry: the object endpoint (default) or, as Windows, the resolver "
        "(clients then ResolveOxid2 every OXID they have not seen)",
    )
    p.add_argument(
        "--level",
        choices=sorted(_LEVELS),
        default=None,
        help="lowest authentication level accepted (default with --credentials: connect)",
    )
    p.add_argument("--until-eof", action="store_true", help="also stop when stdin closes")
    p.add_argument(
        "--limit", action="append", default=[], metavar="NAME=VALUE", help="a server limit"
    )
    p.add_argument(
        "--allow-callback",
        action="append",
        default=[],
        metavar="HOST",
        help='let clients\' callback OBJREFs name HOST ("*": anywhere)',
    )
    args = parser.parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
