"""`python -m idlgen.runtime serve MODULE:FACTORY --binding BINDING [--iface NAME]`.

Imports MODULE, calls FACTORY() for the object to serve, publishes it (as `--iface`, or the
first remotable interface the object implements) on BINDING, prints the published string
("IPID@binding", what `idlgen.runtime.orpc.connect` takes) as the first line of stdout (with
--resolver, "resolver BINDING" as the second), and
serves until stdin closes or the process is terminated. Bad arguments are one-line errors.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from typing import Any


def _interface_of(obj: Any, name: str | None) -> Any:
    from idlgen.runtime.interface import is_interface

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
    from idlgen.runtime.dcerpc.auth import AuthLevel, Credentials, ServerSecurity

    level = AuthLevel(_LEVELS[args.level or "connect"])
    return ServerSecurity(Credentials.from_file(args.credentials), level)


def _serve_resolver(args: argparse.Namespace, security: Any, factory: Any, obj: Any) -> Any:
    """The resolver endpoint (endpoint mapper, OXID resolver, activation) with FACTORY
    registered under --clsid (default: the object's coclass `_clsid_`)."""
    from idlgen.runtime.dcom.service import DcomService
    from idlgen.runtime.guid import GUID

    clsid = GUID(args.clsid) if args.clsid else getattr(type(obj), "_clsid_", None)
    if clsid is None:
        raise LookupError("--resolver needs --clsid (or an object whose class has _clsid_)")
    service = DcomService(security, ping_period=args.ping_period)
    service.classes.register(clsid, factory)
    return service.listen(args.resolver)


def serve(args: argparse.Namespace) -> int:
    from idlgen.runtime import orpc

    try:
        security = _security(args)
        obj = _factory(args.target)()
        iface = _interface_of(obj, args.iface)
        text = orpc.publish(obj, iface, args.binding, security=security)
        resolver = None
        if args.resolver is not None:
            resolver = _serve_resolver(args, security, _factory(args.target), obj)
    except (LookupError, ImportError, AttributeError, ValueError, OSError) as exc:
        print(f"idlgen.runtime serve: error: {exc}", file=sys.stderr)
        return 2
    print(text, flush=True)
    if resolver is not None:
        print(f"resolver {resolver}", flush=True)  # second line: the real resolver binding
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()  # serve until stdin closes (or a signal ends the process)
    return 0


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
        "--level",
        choices=sorted(_LEVELS),
        default=None,
        help="lowest authentication level accepted (default with --credentials: connect)",
    )
    args = parser.parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
