"""`python -m idlgen.runtime serve MODULE:FACTORY --binding BINDING [--iface NAME]`.

Imports MODULE, calls FACTORY() for the object to serve, publishes it (as `--iface`, or the
first remotable interface the object implements) on BINDING, prints the published string
("IPID@binding", what `idlgen.runtime.orpc.connect` takes) as the first line of stdout, and
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


def serve(args: argparse.Namespace) -> int:
    from idlgen.runtime import orpc

    try:
        security = _security(args)
        obj = _factory(args.target)()
        iface = _interface_of(obj, args.iface)
        text = orpc.publish(obj, iface, args.binding, security=security)
    except (LookupError, ImportError, AttributeError, ValueError, OSError) as exc:
        print(f"idlgen.runtime serve: error: {exc}", file=sys.stderr)
        return 2
    print(text, flush=True)
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
        "--level",
        choices=sorted(_LEVELS),
        default=None,
        help="lowest authentication level accepted (default with --credentials: connect)",
    )
    args = parser.parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
