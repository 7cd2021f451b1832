"""`sfperf launch` runs sample clients that hard-code Salesforce hosts; the shim sends them to a
mock on loopback (aiohttp, requests, httpx and urllib at their URL seams; http.client and urllib3
used directly at the socket seam, bare asyncio streams at asyncio's, TLS left out) and counts
their file opens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_salesforce.config import load_profile
from mock_salesforce.replies import expected_reply
from mock_salesforce.server import ThreadedMock, run_in_thread

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SEED = 99
# The shim's seam that redirects each sample: its own library's, or the socket's under them all.
SEAMS = {"aiohttp": "aiohttp", "requests": "requests", "httpx": "httpx", "urllib": "urllib",
         "httpclient": "socket", "urllib3": "socket", "asyncio": "asyncio"}  # fmt: skip


@pytest.fixture(scope="module")
def mock() -> Iterator[ThreadedMock]:
    with run_in_thread(load_profile("fast").patched({"seed": SEED})) as server:
        yield server


def sfperf_launch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "harness.cli", "launch", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd, check=False)


@pytest.mark.parametrize("library", list(SEAMS))
def test_a_client_with_hard_coded_salesforce_hosts_reaches_the_mock(
    library: str, mock: ThreadedMock, tmp_path: Path
) -> None:
    since = max((e["seq"] for e in mock.admin.journal()), default=0)
    token_file, report_file = tmp_path / "token.json", tmp_path / "io.json"
    sample = str(SAMPLES / f"sf_{library}.py")
    result = sfperf_launch(
        "--upstream", mock.url, "--io-report", str(report_file), "--",
        sys.executable, sample, str(token_file), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = {"messages": [{"role": "user", "content": f"hello from {library}"}]}
    assert result.stdout.strip() == expected_reply(SEED, "chat-generations", body).text
    endpoints = [e["endpoint"] for e in mock.admin.journal(since=since) if e["seq"] > since]
    assert endpoints == ["token", "chat-generations"]
    report = json.loads(report_file.read_text())
    assert report["redirects"] == {"acme.my.salesforce.com": 1, "api.salesforce.com": 1}
    assert SEAMS[library] in report["patched"]
    assert report["files"][str(token_file)] == {"opens": 3, "reads": 2, "writes": 1}


def test_the_exit_code_is_the_childs_and_non_salesforce_hosts_are_untouched(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    program = (
        "import urllib.request, sys\n"
        f"urllib.request.urlopen('{mock.url}/__admin/health').read()\n"
        "open('data.txt', 'w').write('x')\n"
        "sys.exit(3)\n"
    )
    report_file = tmp_path / "io.json"
    result = sfperf_launch(
        "--upstream", mock.url, "--io-report", str(report_file), "--",
        sys.executable, "-c", program, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    report = json.loads(report_file.read_text())
    assert report["redirects"] == {}
    assert report["files"][str(tmp_path / "data.txt")]["writes"] == 1


def test_an_existing_sitecustomize_still_runs_after_the_shim(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import builtins\nbuiltins.SITE_WAS_HERE = 1\n")
    program = (
        "import os, builtins; print(builtins.SITE_WAS_HERE, 'SFPERF_SHIM_UPSTREAM' in os.environ)"
    )
    argv = [sys.executable, "-m", "harness.cli", "launch", "--upstream", mock.url, "--"]
    argv += [sys.executable, "-c", program]
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "True"]


def test_a_missing_command_is_a_one_line_usage_error(mock: ThreadedMock, tmp_path: Path) -> None:
    result = sfperf_launch("--upstream", mock.url, "--", "no-such-program-sfperf", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not found" in result.stderr


def test_sigterm_to_sfperf_reaches_the_child_which_still_writes_its_report(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    program = (
        "open('seen.txt', 'w').close(); print('ready', flush=True); __import__('time').sleep(30)"
    )
    report_file = tmp_path / "io.json"
    argv = [sys.executable, "-m", "harness.cli", "launch", "--upstream", mock.url]
    argv += ["--io-report", str(report_file), "--", sys.executable, "-c", program]
    with subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, text=True) as launcher:
        assert launcher.stdout is not None and launcher.stdout.readline().strip() == "ready"
        launcher.terminate()
        assert launcher.wait(timeout=20) == 128 + 15
    report = json.loads(report_file.read_text())
    assert report["files"][str(tmp_path / "seen.txt")]["opens"] == 1


def test_snapshots_count_a_window_and_not_the_shims_own_writes(tmp_path: Path) -> None:
    from harness.shim import io_delta, request_snapshot, shim_env
    from harness.targets.process import poll_until, stop_group

    program = (
        "import os, time\n"
        "open('a.txt', 'w').close()\n"
        "while not os.path.exists('go'): time.sleep(0.01)\n"
        "for _ in range(3): open('a.txt').close()\n"
        "os.mkdir('done')\n"
        "time.sleep(60)\n"
    )
    report, control = tmp_path / "io.json", tmp_path / "control"
    env = shim_env("http://127.0.0.1:9", report, dict(os.environ), control)
    child = subprocess.Popen([sys.executable, "-c", program], cwd=tmp_path, env=env,
                             start_new_session=True, text=True)  # fmt: skip
    try:
        assert poll_until(lambda: (tmp_path / "a.txt").exists(), timeout_s=20, alive=lambda: True)
        before = request_snapshot(control, report, "start")
        (tmp_path / "go").mkdir()
        assert poll_until(lambda: (tmp_path / "done").exists(), timeout_s=20, alive=lambda: True)
        after = request_snapshot(control, report, "end")
    finally:
        stop_group(child, 5.0)
    assert before is not None and after is not None
    window = io_delta(before, after)
    assert window["files"] == {str(tmp_path / "a.txt"): {"opens": 3, "reads": 3, "writes": 0}}
    assert not any("snap-" in path or "control" in path for path in after["files"])
    overhead = window["overhead"]  # what the shim cost the child in the window
    assert overhead["opens"] == 3 and overhead["audit_events"] >= 3
    assert overhead["shim_cpu_s"] > 0 and overhead["process_cpu_s"] > 0
    assert set(overhead["unit_ns"]) == {"event", "open", "host_check", "url_check"}


def test_a_forked_child_reports_only_its_own_opens(tmp_path: Path) -> None:
    from harness.shim import read_io_report, shim_env

    program = (
        "import os, sys\n"
        "open('parent.txt', 'w').close()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    open('child.txt', 'w').close()\n"
        "    sys.exit(0)\n"
        "os.waitpid(pid, 0)\n"
    )
    report = tmp_path / "io.json"
    env = shim_env("http://127.0.0.1:9", report, dict(os.environ))
    subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=env, timeout=30, check=True)
    merged = read_io_report(report)
    assert merged is not None and len(merged["pids"]) == 2
    opens = {Path(path).name: entry["opens"] for path, entry in merged["files"].items()}
    assert opens == {"parent.txt": 1, "child.txt": 1}


def test_a_database_sqlite_opens_in_c_is_counted_and_an_in_memory_one_is_not(
    tmp_path: Path,
) -> None:
    from harness.shim import read_io_report, shim_env

    program = (
        "import sqlite3\n"
        "for _ in range(3):\n"
        "    with sqlite3.connect('state.db') as db:\n"
        "        db.execute('create table if not exists t (token text)')\n"
        "    db.close()\n"
        "sqlite3.connect(':memory:').close()\n"
    )
    report = tmp_path / "io.json"
    env = shim_env("http://127.0.0.1:9", report, dict(os.environ))
    subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=env, timeout=30, check=True)
    merged = read_io_report(report)
    assert merged is not None
    assert merged["files"][str(tmp_path / "state.db")] == {"opens": 3, "reads": 3, "writes": 3}
