"""The directory `sfperf launch` puts first on a child's PYTHONPATH (`sitecustomize` lives here).

It is a package only so that it ships with sfperf; the child imports `sitecustomize` and
`sfperf_shim` from it as top-level modules.
"""
