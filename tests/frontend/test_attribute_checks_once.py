"""Attributes without arguments are checked once per file and place
(attributes._Checker.clean): every misplaced or malformed one is still reported, at its
own position, however many clean ones of the same name came before or after."""

from __future__ import annotations

from idlgen.diagnostics import DiagnosticSink
from idlgen.frontend import attributes, parser, syntax

TEXT = """\
[object, uuid(0c1a5e10-0000-4000-8000-0000000000a1)]
interface IA {
    [propget] HRESULT A([out, retval] long *v);
    [propget] HRESULT B([out, retval] long *v);
}
[propget, object, uuid(0c1a5e10-0000-4000-8000-0000000000a2)]
interface IB {
    [propget] HRESULT C([out, retval] long *v);
    HRESULT D([propget, out] long *v);
    HRESULT E([in] long v, [propget] long w);
}
[object]
interface IC { [uuid] HRESULT F(); [uuid] HRESULT G(); }
"""


def _errors(text: str) -> list[str]:
    sink = DiagnosticSink()
    tree = parser.parse(text, "t.idl", sink=sink, known_types={"HRESULT"})
    assert sink.diagnostics == []
    attributes.check_file(tree, sink)
    return [d.format() for d in sink.diagnostics]


def test_each_misplaced_attribute_is_reported_after_clean_ones() -> None:
    assert _errors(TEXT) == [
        "t.idl:6:2: error: inapplicable attribute propget for interface",
        "t.idl:9:16: error: inapplicable attribute propget for argument",
        "t.idl:10:29: error: inapplicable attribute propget for argument",
        "t.idl:13:17: error: attribute 'uuid' needs an argument: uuid(...)",
        "t.idl:13:17: error: inapplicable attribute uuid for function",
        "t.idl:13:37: error: attribute 'uuid' needs an argument: uuid(...)",
        "t.idl:13:37: error: inapplicable attribute uuid for function",
    ]


def test_clean_attributes_are_checked_once_per_place() -> None:
    checked: list[tuple[str, str | None]] = []
    checker = attributes._Checker(DiagnosticSink())
    original = checker._check

    def counting(attribute: syntax.Attribute, name: str, place: str | None) -> None:
        checked.append((name, place))
        original(attribute, name, place)

    checker._check = counting  # type: ignore[method-assign]
    clean = TEXT.split("[propget, object")[0]
    tree = parser.parse(clean, "t.idl", sink=DiagnosticSink(), known_types={"HRESULT"})
    attributes.AttributeWalker(checker.attribute).items(tree.items)
    assert sorted(checked) == [
        ("object", attributes.INTERFACE),
        ("out", attributes.PARAM),
        ("propget", attributes.METHOD),
        ("retval", attributes.PARAM),
        ("uuid", attributes.INTERFACE),
    ]
