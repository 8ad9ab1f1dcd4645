"""The COM core: GUIDs, HRESULTs, interfaces, objects, call objects, synchronization and the
server call context. The lowest layer of the runtime: it imports nothing else of idlgen
(docs/runtime.md, "Layers")."""
