"""A user package whose interface is described in IDL (calc.idl)."""
