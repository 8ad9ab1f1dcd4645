"""Python modules generated from idlgen's bundled base IDL (`idlgen/base_idl/`).

A user module generated from IDL that imports `unknwn.idl`, `objidl.idl`, `oaidl.idl`,
`wtypes.idl` or `wbemcli.idl` imports these. They are generated code, committed so
that the runtime needs no compiler at run time; regenerate them after changing the
base IDL or the templates with

    idlgen -o idlgen/runtime/base idlgen/base_idl/*.idl

and `tests/codegen/test_base_modules.py` fails while they are out of date.
"""
