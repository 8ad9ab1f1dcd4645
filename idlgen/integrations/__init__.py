"""Build-system integrations: hatchling and setuptools plugins, the import hook.

Every integration is a thin layer over `idlgen.api.compile`. The plugin modules are
loaded by build backends for *every* project once idlgen is installed, so they import
only the standard library (and the backend's own API) until a project actually asks
for idlgen: the compiler is imported when the first IDL file is compiled.
"""
