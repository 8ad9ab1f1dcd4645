"""A setuptools project that does not use idlgen; it records what its build imported."""

import json
import os
import sys

from setuptools import setup

setup(name="plain", version="1.0", py_modules=["plain"])

probe = os.environ.get("IDLGEN_PROBE")
if probe:
    roots = {"idlgen", "lark", "jinja2"}
    with open(probe, "w") as handle:
        json.dump(sorted(m for m in sys.modules if m.split(".")[0] in roots), handle)
