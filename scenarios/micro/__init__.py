"""pytest-benchmark suites run by `sfperf micro` (a package so that installs ship them)."""
