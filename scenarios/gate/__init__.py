"""Regression-gate rules for `sfperf gate` (a package so that installs ship the TOML files)."""
