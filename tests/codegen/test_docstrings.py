"""What the IDL says about an interface or method reaches every generated class that
offers it: the interface, its `Async` partner, Begin_/Finish_ and the proxy. The text is
the helpstring and the comment written just above the declaration, escaped like any
other IDL text (a comment cannot end the docstring or run code)."""

from __future__ import annotations

from pathlib import Path

from generated import generate, import_path

DOCUMENTED_IDL = r'''
import "unknwn.idl";

/* Not this one: a blank line separates it from the interface. */

/* A documented interface. */
[object, uuid(6d0c3a10-2b2b-4c4c-8d8d-000000000001),
 async_uuid(6d0c3a10-2b2b-4c4c-8d8d-000000000002),
 helpstring("Helpful.")]
interface IDocumented : IUnknown
{
    // Line comments above a method
    // are joined.
    HRESULT Lines([in] int a);

    /*
     * A block comment: """ + __import__('pathlib').Path('PWNED').touch() + """ \ end.
     */
    [helpstring("Both.")]
    HRESULT Block([out] int *b);

    HRESULT Plain(void); /* belongs to Plain, not to Next */
    HRESULT Next(void);
}
'''

EXPECTED = {
    "Lines": "Line comments above a method are joined.",
    "Block": (
        'Both. A block comment: """ + __import__(\'pathlib\').Path(\'PWNED\').touch() + """ \\ end.'
    ),
    "Plain": None,
    "Next": None,
}


def test_comments_and_helpstrings_document_every_class_that_offers_the_method(
    tmp_path: Path,
) -> None:
    module = import_path(generate(tmp_path, DOCUMENTED_IDL))
    assert not (tmp_path / "PWNED").exists()
    assert module.IDocumented.__doc__ == "Helpful. A documented interface."
    assert module.AsyncIDocumented.__doc__ == (
        "Call objects for IDocumented. Helpful. A documented interface."
    )
    for name, doc in EXPECTED.items():
        offered = [
            getattr(module.IDocumented, name),
            getattr(module.IDocumented_Proxy, name),
            getattr(module.AsyncIDocumented, "Begin_" + name),
            getattr(module.AsyncIDocumented, "Finish_" + name),
        ]
        assert [method.__doc__ for method in offered] == [doc] * 4, name
