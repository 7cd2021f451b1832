"""Errors of the mock itself (not the HTTP error bodies it serves)."""


class ConfigError(ValueError):
    """A bad latency/fault/quota spec, profile or setting; the message is one line for the user."""
