"""Apartments and what crosses them: channel frames, proxies, stubs, marshaling, the
interface registry and IRemUnknown. Built on `com` and `ndr`; knows nothing of sockets
(docs/runtime.md, "Layers")."""
