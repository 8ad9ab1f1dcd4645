"""`python -m idlgen.runtime serve MODULE:FACTORY --binding BINDING [--iface NAME]`.

Imports MODULE, calls FACTORY() for the object to serve, publishes it (as `--iface`, or the
first remotable interface the object implements) on BINDING, prints the published string
("IPID@binding", what `idlgen.runtime.orpc.connect` takes) as the first line of stdout, and
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


def _limits(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from idlgen.runtime import orpc
    from idlgen.runtime.dcerpc.limits import parse_limit

    limits = orpc.limits()
    for text in args.limit:
        limits = parse_limit(limits, text)
    if args.allow_callback:
        limits = replace(limits, callback_hosts=(*limits.callback_hosts, *args.allow_callback))
    return limits


def serve(args: argparse.Namespace) -> int:
    from idlgen.runtime import orpc

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        orpc.configure(_limits(args))
        obj = _factory(args.target)()
        iface = _interface_of(obj, args.iface)
        text = orpc.publish(obj, iface, args.binding)
    except (LookupError, ImportError, AttributeError, ValueError, OSError) as exc:
        print(f"idlgen.runtime serve: error: {exc}", file=sys.stderr)
        return 2
    obj.Release()  # the publication holds the object now: at shutdown it goes with it
    print(text, flush=True)
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
