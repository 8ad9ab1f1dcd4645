"""Dispinterface members parsed once per text (idlgen/frontend/member_memo.py): the tree
and the messages are those of a parse without reuse, positions included, and the
parser does reuse what it may. Counted (members rebuilt, text skipped), never timed."""

from __future__ import annotations

import itertools
import sys
import types
from collections.abc import Iterator

import pytest

from idlgen.diagnostics import DiagnosticSink, Position
from idlgen.frontend import member_memo, parser, syntax
from idlgen.frontend.lexer import Token
from idlgen.frontend.tables import load_tables
from idlgen.limits import DEFAULT_LIMITS, Limits

BASE = ("HRESULT", "BSTR", "VARIANT", "IDispatch")

# What mshtml.idl's macros expand to: a dispinterface's methods on one line.
METHODS = (
    "[propput, id(((0x80010000+500)+1))] void title(BSTR v); "
    "[propget, id(((0x80010000+500)+1))] BSTR title(); "
    "[id(((0x80010000+500)+2))] void setAttribute([in] BSTR name, [in] VARIANT value, "
    "[defaultvalue(1)] long flags); "
    "[id(4)] HRESULT item([in] long index, [out, retval] IDispatch **p);"
)


def dispinterface(name: str, body: str = METHODS, indent: str = "    ") -> str:
    return f"dispinterface {name}\n{{\nproperties:\nmethods:\n{indent}{body}\n}};\n"


def _parse(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[syntax.File, list[str]]:
    sink = DiagnosticSink()
    tree = parser.parse(text, "test.idl", sink=sink, known_types=BASE, limits=limits)
    return tree, [d.format() for d in sink.diagnostics]


@pytest.fixture
def without_reuse(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Parse with no member remembered: what the tree and messages must equal."""
    states = len(parser._member_starts())
    with monkeypatch.context() as patch:
        patch.setattr(parser, "_member_starts", lambda: [False] * states)
        yield


@pytest.fixture
def reuses(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Per member rebuilt instead of parsed: whether the lexer skipped its text."""
    seen: list[bool] = []
    original = parser._Driver._reuse

    def counting(
        self: parser._Driver,
        member: object,
        first: Token,
        state: int,
        source: Iterator[Token],
    ) -> Token | None:
        self.lexer.skipped = False
        following = original(self, member, first, state, source)  # type: ignore[arg-type]
        if following is not None:
            seen.append(self.lexer.skipped)
        return following

    monkeypatch.setattr(parser._Driver, "_reuse", counting)
    return seen


def _both(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[syntax.File, list[str]]:
    """Parse with reuse and without; both must agree. Returns the first."""
    first = _parse(text, limits)
    states = len(parser._member_starts())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parser, "_member_starts", lambda: [False] * states)
        second = _parse(text, limits)
    assert first == second
    return first


def test_the_same_members_elsewhere_are_rebuilt_with_their_own_positions(
    reuses: list[bool],
) -> None:
    text = dispinterface("A") + "\n\n" + dispinterface("B", indent="        ")
    tree, messages = _both(text)
    assert messages == []
    a, b = tree.items
    assert isinstance(a, syntax.Interface) and isinstance(b, syntax.Interface)
    assert len(b.members) == 4 and len(b.properties) == 0
    assert b.members[3].pos.line == a.members[3].pos.line + 8
    assert b.members[3].pos.column == a.members[3].pos.column + 4
    # every member of B was rebuilt, its text not read again by the lexer
    assert reuses == [True] * 4


def test_a_name_that_became_a_type_name_is_parsed_again(reuses: list[bool]) -> None:
    body = "[id(2)] HRESULT g([in] long v[Bar]); [id(1)] HRESULT f([in] long v[Foo]);"
    text = dispinterface("A", body) + "typedef long Foo;\n" + dispinterface("B", body)
    _tree, messages = _both(text)
    assert len(messages) == 1 and "unexpected type name 'Foo'" in messages[0]
    assert reuses == [True]  # g only: f reads differently now


def test_a_member_followed_by_something_else_is_parsed_as_before(reuses: list[bool]) -> None:
    member = "[id(1)] HRESULT method_name([in] long value);"
    text = (
        dispinterface("A", member)
        + f"dispinterface B\n{{\nproperties:\nmethods:\n    {member} ) }};\n"
        + f"dispinterface C\n{{\nproperties:\nmethods:\n    {member} }}\n"
    )
    _tree, messages = _both(text)
    assert len(messages) == 1 and "unexpected ')'" in messages[0]


def test_a_member_deeper_in_brackets_crosses_the_nesting_limit_as_before(
    reuses: list[bool],
) -> None:
    member = "[id(1)] HRESULT method_name([in] long value[((((4))))]);"
    text = dispinterface("A", member) + "library L\n{\n" + dispinterface("B", member) + "}\n"
    limits = DEFAULT_LIMITS._replace(brace_nesting=7)
    _tree, messages = _both(text, limits)
    assert len(messages) == 1 and "bracket nesting" in messages[0]
    assert reuses == []


def test_a_member_with_a_message_is_not_remembered(reuses: list[bool]) -> None:
    member = "[id(1)] HRESULT method_name([in] long value) = 1;"
    text = dispinterface("A", member) + dispinterface("B", member)
    _tree, messages = _both(text)
    assert len(messages) == 2
    assert reuses == []


def test_text_the_lexer_cuts_by_context_is_read_again(reuses: list[bool]) -> None:
    # `>` and `.` may cut differently after `Type<` (WinRT) or in a dotted name: the
    # member is still rebuilt, from tokens the lexer reads anew.
    member = "[id(1)] HRESULT method_name([in] long value[(2 > 1) + 2], [in] float f);"
    text = dispinterface("A", member) + dispinterface("B", member)
    _tree, messages = _both(text)
    assert messages == []
    assert reuses == [False]


_RUNS = itertools.count()


def _checked(text: str) -> tuple[list[str], int]:
    """Load `text` as a file (parse and attribute checks): its messages, and how many
    attributes the checks looked at."""
    from idlgen.frontend import attributes
    from idlgen.semantics.loader import Loader, make_settings

    seen = 0
    original = attributes._Checker.attribute

    def counting(self: attributes._Checker, attribute: syntax.Attribute, place: str | None) -> None:
        nonlocal seen
        seen += 1
        original(self, attribute, place)

    sink = DiagnosticSink()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attributes._Checker, "attribute", counting)
        # a text of its own each time: the loader would reuse an earlier parse
        fresh = f"// {next(_RUNS)}\ntypedef long HRESULT;\n{text}"
        Loader(make_settings([]), sink).load_main("test.idl", fresh)
    return [d.format() for d in sink.diagnostics], seen


def test_copies_of_a_member_checked_clean_are_not_checked_again() -> None:
    text = "".join(
        dispinterface(
            name,
            METHODS.replace("BSTR", "long").replace("VARIANT", "long").replace("IDispatch", "long"),
        )
        for name in "ABC"
    )
    messages, seen = _checked(text)
    assert messages == []
    with pytest.MonkeyPatch.context() as patch:
        states = len(parser._member_starts())
        patch.setattr(parser, "_member_starts", lambda: [False] * states)
        assert _checked(text) == (messages, seen * 3)


def test_copies_of_a_member_with_a_bad_attribute_say_so_each() -> None:
    member = "[id(1), bogus_attribute] HRESULT method_name([in] long value);"
    text = dispinterface("A", member) + dispinterface("B", member)
    messages, seen = _checked(text)
    assert len(messages) == 2 and all("unknown attribute 'bogus_attribute'" in m for m in messages)
    with pytest.MonkeyPatch.context() as patch:
        states = len(parser._member_starts())
        patch.setattr(parser, "_member_starts", lambda: [False] * states)
        assert _checked(text) == (messages, seen)


def test_only_shifts_where_a_member_begins_are_marked() -> None:
    """The hot loop finds member starts as pseudo-reductions (parser._marked_actions):
    each marked action is a shift of a member-start state, to the same state."""
    tables = load_tables()
    starts = parser._member_starts()
    marked = parser._marked_actions(starts)
    base = len(tables.rules)
    assert any(starts)
    for state, (row, hot) in enumerate(zip(tables.actions, marked, strict=True)):
        assert hot.keys() == row.keys()
        for kind, action in row.items():
            if starts[state] and action >= 0:
                assert ~hot[kind] - base == action
            else:
                assert hot[kind] == action


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The member texts cut on their own by `member_memo.read`."""
    seen: list[str] = []
    original = member_memo.read

    def counting(text: str, type_names: set[str], winrt: bool) -> member_memo.Read | None:
        seen.append(text)
        return original(text, type_names, winrt)

    monkeypatch.setattr(member_memo, "read", counting)
    return seen


def test_a_member_is_cut_on_its_own_only_when_met_again(reads: list[str]) -> None:
    # Of mshtml.idl's 1,341 remembered members, 548 are ever met again: the others
    # are remembered by their names alone, not read a second time by the lexer.
    # The ids as mshtml.idl's macros leave them: whole integers, no name inside a word.
    first = "[id(((0x80010000+500)+1))] HRESULT first([in] long a);"
    second = "[id(0x8001000aL)] HRESULT second([in] BSTR b);"
    _tree, messages = _both(dispinterface("A", f"{first} {second}"))
    assert messages == [] and reads == []
    text = dispinterface("A", f"{first} {second}") + dispinterface("B", first)
    _tree, messages = _both(text)
    assert messages == [] and reads == [first]


@pytest.mark.parametrize(
    "text",
    [
        "[id(1)] HRESULT f([in] Foo a, [in] bar b);",
        '[id(1), helpstring("Foo bar")] HRESULT f(/* Foo */ [in] Foo a, L"x" b);',
        "[id(0x1Fg)] HRESULT f([in] Foo a);",  # a number, then the name `g`
        "[id(1.5e3x)] HRESULT f([in] Foo a);",  # a number, then the name `x`
        "[id(1.e5Foo)] HRESULT f([in] Foo a);",  # a number, then the name `Foo`
        "[id(.5e3x)] HRESULT f([in] Foo a);",
        "[id(7Foo)] HRESULT f(SAFEARRAY(Foo) a);",
    ],
)
def test_the_names_remembered_cover_every_name_token(text: str) -> None:
    # A member is reused only while each of these names is a type name exactly when
    # it was: they must include every name its tokens hold, split as the lexer did.
    type_names = {"Foo", "g", "HRESULT"}
    found = member_memo.names(text, type_names, False)
    cut = member_memo.read(text, type_names, False)
    assert found is not None and cut is not None
    assert cut.type_names <= found[0] <= type_names
    assert cut.others <= found[1] and not found[1] & type_names


def test_a_rebuild_calls_nothing_but_the_records_own_init(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The second and later reuses of a member follow its plan: its positions and
    # tuples made in place, its records by their classes, no Python call per node.
    calls: list[str] = []
    original = member_memo.moved

    def profiled(member: member_memo.Member, position: Position) -> object:
        fresh = member.rebuild is None  # the first reuse also works the plan out

        def profile(frame: types.FrameType, event: str, arg: object) -> None:
            if event == "call" and frame.f_code is not original.__code__:
                calls.append(frame.f_code.co_name)

        if not fresh:
            sys.setprofile(profile)
        try:
            return original(member, position)
        finally:
            sys.setprofile(None)

    monkeypatch.setattr(parser, "moved", profiled)
    text = "".join(dispinterface(name) for name in "ABC")
    _tree, messages = _both(text)
    assert messages == [] and calls and set(calls) == {"__init__"}
