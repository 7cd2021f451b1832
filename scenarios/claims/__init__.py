"""Claim ledgers for `sfperf claims` (a package so that installs ship the TOML files)."""
