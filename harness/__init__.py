"""sfperf: the measuring instrument (CLI, settings, runners, records, stats, claims, gate)."""

from harness.records import HARNESS_VERSION as __version__

__all__ = ["__version__"]
