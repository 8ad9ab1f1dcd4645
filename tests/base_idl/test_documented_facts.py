"""Facts the specifications state outright, checked without Wine.

[MS-WMI] 3.1.4.3 gives IWbemServices' methods in opnum order and 2.2 the
status codes and flags; [MS-DCOM]/COM docs give the async partner IIDs.
Async partners follow widl's derivation rule (Begin_X then Finish_X for
each method X, IUnknown's own methods excluded).
"""

from __future__ import annotations

from base_idl_widl import Interface, parse_enum_values, parse_header

IUNKNOWN = ("QueryInterface", "AddRef", "Release")

# [MS-WMI] 3.1.4.3: "Methods in RPC Opnum Order", opnums 3..25.
IWBEMSERVICES_OPNUM_ORDER = (
    "OpenNamespace", "CancelAsyncCall", "QueryObjectSink", "GetObject", "GetObjectAsync",
    "PutClass", "PutClassAsync", "DeleteClass", "DeleteClassAsync", "CreateClassEnum",
    "CreateClassEnumAsync", "PutInstance", "PutInstanceAsync", "DeleteInstance",
    "DeleteInstanceAsync", "CreateInstanceEnum", "CreateInstanceEnumAsync", "ExecQuery",
    "ExecQueryAsync", "ExecNotificationQuery", "ExecNotificationQueryAsync", "ExecMethod",
    "ExecMethodAsync",
)  # fmt: skip

# [MS-WMI] 2.2.11, 2.2.6, 2.2.7, 2.2.12 (values as documented).
WMI_CONSTANTS = {
    "WBEM_S_NO_ERROR": 0x0,
    "WBEM_S_FALSE": 0x1,
    "WBEM_S_TIMEDOUT": 0x40004,
    "WBEM_E_FAILED": 0x80041001,
    "WBEM_E_INVALID_OPERATION": 0x80041016,
    "WBEM_E_CALL_CANCELLED": 0x80041032,
    "WBEM_STATUS_COMPLETE": 0x0,
    "WBEM_STATUS_REQUIREMENTS": 0x1,
    "WBEM_STATUS_PROGRESS": 0x2,
    "WBEM_NO_WAIT": 0x0,
    "WBEM_INFINITE": 0xFFFFFFFF,
    "WBEM_FLAG_RETURN_IMMEDIATELY": 0x10,
    "WBEM_FLAG_FORWARD_ONLY": 0x20,
    "WBEM_FLAG_SEND_STATUS": 0x80,
}


def _all(bundled_headers: dict[str, str]) -> dict[str, Interface]:
    found: dict[str, Interface] = {}
    for text in bundled_headers.values():
        found.update(parse_header(text))
    return found


def _async_form(methods: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{kind}_{m}" for m in methods for kind in ("Begin", "Finish"))


def test_iwbemservices_vtable_is_the_opnum_order(bundled_headers: dict[str, str]) -> None:
    services = _all(bundled_headers)["IWbemServices"]
    assert services.methods == IUNKNOWN + IWBEMSERVICES_OPNUM_ORDER


def test_wmi_constants_have_documented_values(bundled_headers: dict[str, str]) -> None:
    values = parse_enum_values(bundled_headers["wbemcli.idl"])
    got = {name: values.get(name) for name in WMI_CONSTANTS}
    assert got == WMI_CONSTANTS


def test_async_iunknown_is_iunknowns_async_partner(bundled_headers: dict[str, str]) -> None:
    """AsyncIUnknown is declared by hand; it must equal what derivation would give."""
    interfaces = _all(bundled_headers)
    partner = interfaces["AsyncIUnknown"]
    assert partner.iid == "000e0000-0000-0000-c000-000000000046"
    assert partner.methods == IUNKNOWN + _async_form(IUNKNOWN)


def test_imultiqi_derives_asyncimultiqi(bundled_headers: dict[str, str]) -> None:
    interfaces = _all(bundled_headers)
    partner = interfaces["AsyncIMultiQI"]
    assert partner.iid == "000e0020-0000-0000-c000-000000000046"
    own = interfaces["IMultiQI"].methods[len(IUNKNOWN) :]
    assert partner.methods == IUNKNOWN + _async_form(own)


def test_synchronization_interfaces_have_no_async_partner(
    bundled_headers: dict[str, str],
) -> None:
    """Call-object plumbing is synchronous by definition: no Async* for it."""
    names = set(_all(bundled_headers))
    for plain in ("ISynchronize", "ICallFactory", "ICancelMethodCalls", "IWbemObjectSink"):
        assert plain in names
        assert f"Async{plain}" not in names
