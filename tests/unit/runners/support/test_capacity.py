"""What one load client can hold: levels past its descriptors or ports are refused up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.runners.support.capacity import (
    RESERVED_FDS,
    ClientCapacity,
    check_levels,
    ephemeral_port_count,
)


def test_a_level_within_the_limits_is_accepted() -> None:
    check_levels((1, 8, 256), ClientCapacity(fd_limit=1024, ephemeral_ports=28232))


def test_a_level_past_the_descriptor_limit_is_refused_in_one_line() -> None:
    capacity = ClientCapacity(fd_limit=1024, ephemeral_ports=28232)
    with pytest.raises(UsageError) as refused:
        check_levels((1, 2048, 4096), capacity)
    message = str(refused.value)
    assert "4096" in message and "1024" in message and "ulimit -n" in message
    assert "\n" not in message
    assert capacity.refusal(1024 - RESERVED_FDS) is None


def test_a_level_past_the_ephemeral_ports_is_refused() -> None:
    with pytest.raises(UsageError, match="ephemeral ports"):
        check_levels((5000,), ClientCapacity(fd_limit=1 << 20, ephemeral_ports=4000))


def test_the_port_range_is_read_from_the_kernel_setting(tmp_path: Path) -> None:
    setting = tmp_path / "ip_local_port_range"
    setting.write_text("32768\t60999\n")
    assert ephemeral_port_count(setting) == 28232
    assert ephemeral_port_count(tmp_path / "absent") == 16384  # the IANA range
