"""The lab across processes: `python lab_server.py BINDING` publishes a LabStream living in an
STA and the lab's switchboard (in the process MTA), prints "STREAM CONTROL" (two published
strings) and serves until stdin closes."""

from __future__ import annotations

import sys

from lab_objects import LAB, LabControl, LabStream
from stream_handwritten import ICalc, ISimpleStream

from idlgen.runtime.apartments.apartment import Apartment
from idlgen.runtime.rpc import orpc


def main(binding: str) -> int:
    sta = Apartment.sta("lab-server")
    LAB.sta = sta
    stream = sta.run(LabStream)
    stream_text = orpc.publish(stream, ISimpleStream, binding, apartment=sta)
    control_text = orpc.publish(LabControl(), ICalc, None)
    print(stream_text, control_text, flush=True)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
