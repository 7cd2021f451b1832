"""`sfperf profile` end to end: mock and gateway children on loopback, profile files on disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.runners.profiling import ProfilingPlan, profile_target
from harness.store import load_records
from harness.targets import start_mock

LAUNCHED_GATEWAY = """
import sys, time
from harness.subjects.gateway.__main__ import main


def warm_caches_at_start_up():  # busy for 0.4 s before serving: start-up, not load
    deadline = time.perf_counter() + 0.4
    while time.perf_counter() < deadline:
        pass


warm_caches_at_start_up()
sys.exit(main(sys.argv[1:]))
"""


def test_profile_of_the_async_variant_keeps_files_and_shares(tmp_path: Path) -> None:
    argv = ["profile", "--quick", "--requests", "60", "--concurrency", "4", "--duration", "120",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    (record,) = load_records(tmp_path)
    assert (record.runner, record.scenario, record.labels) == (
        "profile",
        "gateway",
        {"variant": "async"},
    )
    shares = [s.values[0] for s in record.series if s.name.startswith("share:")]
    assert shares and all(0 < share <= 1 for share in shares) and sum(shares) <= 1 + 1e-9
    assert record.get("ok").values == (1.0,) * 60
    for artifact in record.artifacts:
        assert (tmp_path / artifact).stat().st_size > 0
    assert {Path(a).suffix for a in record.artifacts} == {".html", ".txt", ".pyisession"}
    assert "Samples" in (tmp_path / "profile" / "async.txt").read_text()


def test_profile_of_a_launched_python_gateway(tmp_path: Path) -> None:
    script = tmp_path / "my_gateway.py"
    script.write_text(LAUNCHED_GATEWAY)
    # The launched program finds the mock through the start-up shim; the reference gateway
    # takes its upstream on the command line, so a placeholder Salesforce URL is enough.
    command = f"{sys.executable} {script} --variant async --upstream https://api.salesforce.com"
    argv = ["profile", "--quick", "--requests", "30", "--duration", "120", "--launch", command,
            "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    (record,) = load_records(tmp_path)
    assert record.labels["variant"].startswith("launch:")
    assert sum(record.get("ok").values) == 30
    assert record.params["model"] == "gpt-4o-mini"  # what discovery chose: no --model given
    # Sampled from readiness: the start-up's busy loop is not in the profile under load.
    assert record.params["sampled_from"] == "ready" and record.params["start_up_cut_s"] >= 0.4
    assert not any("warm_caches_at_start_up" in name for name in record.series_names)


# Supervisors that serve from a worker process and only wait themselves: hypercorn and
# `uvicorn --workers` spawn a fresh interpreter, gunicorn forks (its worker ends by sys.exit),
# granian forks through multiprocessing (its worker ends by os._exit, skipping atexit: R112).
MULTIPROCESSING = """
import multiprocessing, sys
from harness.subjects.gateway.__main__ import main


def serve(argv):
    sys.exit(main(argv))


if __name__ == "__main__":
    worker = multiprocessing.get_context("{method}").Process(target=serve, args=(sys.argv[1:],))
    worker.start()
    worker.join()
"""
SUPERVISORS = {
    "spawn": MULTIPROCESSING.replace("{method}", "spawn"),
    "multiprocessing-fork": MULTIPROCESSING.replace("{method}", "fork"),
    "fork": """
import os, sys
from harness.subjects.gateway.__main__ import main

if __name__ == "__main__":
    worker = os.fork()
    if worker == 0:
        sys.exit(main(sys.argv[1:]))
    try:
        os.waitpid(worker, 0)
    except SystemExit:  # stopped: wait for the worker, as a supervisor does
        os.waitpid(worker, 0)
        raise
""",
}


@pytest.mark.parametrize("start", sorted(SUPERVISORS))
def test_profile_of_a_server_with_a_worker_process_is_the_workers(
    start: str, tmp_path: Path
) -> None:
    script = tmp_path / "supervisor.py"
    script.write_text(SUPERVISORS[start])
    command = f"{sys.executable} {script} --variant async --upstream https://api.salesforce.com"
    argv = ["profile", "--quick", "--requests", "30", "--duration", "120", "--launch", command,
            "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    (record,) = load_records(tmp_path)
    assert sum(record.get("ok").values) == 30 and not record.partial
    program, *workers = record.params["processes"]
    assert (program["role"], program["profiled"], program["upstream_redirects"]) == (
        "program", False, 0
    )  # fmt: skip
    served = [w for w in workers if w["profiled"]]
    assert len(served) == 1 and served[0]["upstream_redirects"] > 0 and served[0]["samples"] > 0
    assert record.params["sample_count"] == served[0]["samples"]  # the worker's alone


def test_profile_refuses_a_non_python_launch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", "--launch", "node server.js", "--out", str(tmp_path)]) == 2
    assert "Python program" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()  # refused before the mock was started


def test_profile_can_use_a_mock_that_is_already_running(tmp_path: Path) -> None:
    plan = ProfilingPlan(requests=20, concurrency=2, max_duration_s=120.0)  # the count ends it
    with start_mock(tmp_path / "elsewhere", profile="fast") as mock:
        (record,) = profile_target(plan, tmp_path / "run", mock_url=mock.url)
    assert record.get("ok").values == (1.0,) * 20
    assert not (tmp_path / "run" / "logs" / "mock.log").exists()  # no second mock was started
