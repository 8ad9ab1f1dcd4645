"""Bundled interfaces agree with Wine's on IIDs and vtable order.

The vtable order is the wire opnum order, so a swapped or missing method
would send calls to the wrong server method. Wine's IDL is an independent
witness; where Wine lacks an interface (AsyncIUnknown, AsyncIMultiQI) the
other tests in this folder check it.
"""

from __future__ import annotations

from base_idl_widl import (
    Interface,
    bundled_files,
    parse_enum_values,
    parse_header,
    subset_interfaces,
)

# Interfaces every bundle must contain, whatever Wine has.
REQUIRED_INTERFACES = {
    "IUnknown", "AsyncIUnknown", "IClassFactory", "IMultiQI", "AsyncIMultiQI",
    "ICallFactory", "ISynchronize", "ISynchronizeHandle", "ISynchronizeEvent",
    "ISynchronizeContainer", "ISynchronizeMutex", "ICancelMethodCalls",
    "IAsyncManager", "IEnumUnknown", "IEnumString", "ISequentialStream", "IStream",
    "IGlobalInterfaceTable", "IPersist", "IPersistStream", "IDispatch",
    "IEnumVARIANT", "IErrorInfo", "ISupportErrorInfo", "IWbemClassObject",
    "IWbemObjectSink", "IWbemServices", "IEnumWbemClassObject", "IWbemCallResult",
    "IWbemContext", "IWbemLocator",
}  # fmt: skip


def _ours(bundled_headers: dict[str, str]) -> dict[str, tuple[str, Interface]]:
    found: dict[str, tuple[str, Interface]] = {}
    for file_name, text in bundled_headers.items():
        for name, iface in parse_header(text).items():
            found[name] = (file_name, iface)
    return found


def _subsets() -> set[str]:
    names: set[str] = set()
    for idl in bundled_files():
        names |= subset_interfaces(idl)
    return names


def test_required_interfaces_present(bundled_headers: dict[str, str]) -> None:
    missing = REQUIRED_INTERFACES - set(_ours(bundled_headers))
    assert not missing, f"missing interfaces: {sorted(missing)}"


def test_iids_match_wine(
    bundled_headers: dict[str, str], wine_interfaces: dict[str, Interface]
) -> None:
    ours = _ours(bundled_headers)
    common = sorted(set(ours) & set(wine_interfaces))
    assert len(common) >= 25, f"too few interfaces to compare: {common}"
    wrong = {
        name: (ours[name][1].iid, wine_interfaces[name].iid)
        for name in common
        if ours[name][1].iid != wine_interfaces[name].iid
    }
    assert not wrong, f"IID differs (ours, Wine's): {wrong}"


def test_vtables_match_wine(
    bundled_headers: dict[str, str], wine_interfaces: dict[str, Interface]
) -> None:
    ours = _ours(bundled_headers)
    subsets = _subsets()
    for name in sorted(set(ours) & set(wine_interfaces)):
        file_name, mine = ours[name]
        theirs = wine_interfaces[name].methods
        if name in subsets:
            assert mine.methods == theirs[: len(mine.methods)], (
                f"{name} ({file_name}) is not a prefix of Wine's vtable"
            )
        else:
            assert mine.methods == theirs, (
                f"{name} ({file_name}) vtable differs:\n ours:  {mine.methods}\n wine: {theirs}"
            )


def test_subset_declarations_name_real_interfaces(bundled_headers: dict[str, str]) -> None:
    """A subset marker must point at an interface the file really declares."""
    ours = _ours(bundled_headers)
    for idl in bundled_files():
        for name in subset_interfaces(idl):
            assert name in ours and ours[name][0] == idl.name, (
                f"{idl.name} marks {name} as a subset but does not define it"
            )


def test_enum_values_match_wine(bundled_headers: dict[str, str], wine_header_text: str) -> None:
    """Constants shared with Wine (VT_*, WBEM_*, CIM_*, ...) have the same values."""
    ours: dict[str, int] = {}
    for text in bundled_headers.values():
        ours.update(parse_enum_values(text))
    theirs = parse_enum_values(wine_header_text)
    common = sorted(set(ours) & set(theirs))
    assert len(common) >= 100, f"too few constants to compare ({len(common)})"
    wrong = {n: (hex(ours[n]), hex(theirs[n])) for n in common if ours[n] != theirs[n]}
    assert not wrong, f"constant values differ (ours, Wine's): {wrong}"
