"""Token-cache workloads for `sfperf simulate` (a package so that installs ship the TOML files)."""
