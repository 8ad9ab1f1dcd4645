"""Struct descriptors are values, so a struct comes after every struct its fields name:
bare, through pointers and arrays, through a typedef of it, or by tag."""

from __future__ import annotations

import idlgen
from idlgen.codegen.wire import dependency_order

TEXT = """
typedef struct Last *PLAST;
typedef struct Tagged Alias;
typedef struct Middle Middle;
typedef struct First { struct Tagged *t; PLAST last[2]; Alias a; long n; } First;
struct Middle { First f; };
struct Tagged { long x; };
struct Last { Middle *m; };
typedef struct Alone { long y; } Alone;
"""


def test_structs_come_after_the_structs_their_fields_name() -> None:
    document = idlgen.compile(text=TEXT, filename="m.idl", emit="model").document
    order = [s.name for s in dependency_order(document.structs, document.typedefs)]
    assert order == ["Tagged", "Middle", "Last", "First", "Alone"]
