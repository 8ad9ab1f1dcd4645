"""Remote calls over sockets: `dcerpc` (connection-oriented DCE/RPC), `orpc` (COM objects
over DCE/RPC) and `dcom` (activation, the OXID resolver and the endpoint mapper service).
Built on the layers below (docs/runtime.md, "Layers")."""
