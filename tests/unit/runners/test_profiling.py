"""The profile runner's pure parts and the profiler child, without sockets."""

from __future__ import annotations

import _thread
import argparse
import asyncio
import functools
import importlib.util
import json
import os
import shlex
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.blocking import PARAM as BLOCKING
from harness.commands.profiling import make_plans
from harness.errors import UsageError
from harness.records import Environment
from harness.runners.profiling import (
    ProfilingPlan,
    function_name,
    idle_share,
    is_helper,
    make_record,
    program_session,
    stop_workers_first,
    top_shares,
)
from harness.runners.support.profile_launch import python_program
from harness.runners.support.profiler_child import (
    _RUNNING,
    ForeignSampler,
    SessionBox,
    descendant_session,
    profile_new_threads,
    profiled,
    run_program,
    save_at_os_exit,
    save_session,
    start_foreign_sampler,
)
from harness.runners.support.profiling_load import LoadResult
from tests.conftest import FakeClock


def keep(path: str) -> str:
    return path


def ident(function: str, path: str, line: int, owner: str = "") -> str:
    """A frame identifier as pyinstrument writes it."""
    return f"{function}\x00{path}\x00{line}" + (f"\x01c{owner}" if owner else "") + "\x01l12"


def test_function_names_keep_file_class_and_function() -> None:
    assert (
        function_name(ident("extract", "pkg/mod.py", 3, "Parser"), keep)
        == "pkg/mod.py:Parser.extract"
    )
    assert function_name(ident("poll", "<built-in>", 0), keep) == "<built-in>:poll"
    assert function_name("gateway-aiohttp\x00<thread>\x0012", keep) == "<thread>:gateway-aiohttp"


def test_function_names_use_the_sessions_path_shortener() -> None:
    name = function_name(
        ident("f", "/usr/lib/python3.11/json/encoder.py", 1), lambda p: "json/encoder.py"
    )
    assert name == "json/encoder.py:f"


def test_shares_are_self_time_over_all_sampled_time() -> None:
    records = [
        (["root", ident("a", "m.py", 1)], 0.003),
        (["root", ident("b", "m.py", 5)], 0.001),
        (["root", ident("x", "n.py", 1), ident("a", "m.py", 1)], 0.004),
        ([], 0.5),  # an empty stack is not a function
    ]
    assert top_shares(records, keep, top=5) == [("m.py:a", 0.875), ("m.py:b", 0.125)]
    assert top_shares(records, keep, top=1) == [("m.py:a", 0.875)]


def test_waiting_in_the_poll_or_a_lock_counts_as_idle() -> None:
    shares = [("<built-in>:epoll.poll", 0.5), ("<built-in>:lock.acquire", 0.1), ("m.py:poll", 0.4)]
    assert idle_share(shares) == pytest.approx(0.6)


def test_no_samples_means_no_shares() -> None:
    assert top_shares([], keep, top=3) == []


@pytest.mark.parametrize(
    ("command", "program"),
    [("python app.py --port 8000", ["app.py", "--port", "8000"]),
     ("/opt/venv/bin/python3 -m gw.main", ["-m", "gw.main"]),
     # sfperf's own advice for a setting is `env X=1 ...` (R44): env is looked through.
     ("env EINSTEIN_CLIENT_SECRET=x python server.py --port 8107",
      ["server.py", "--port", "8107"]),
     ("env -u HTTP_PROXY -C /srv python -m svc", ["-m", "svc"])],
)  # fmt: skip
def test_launched_python_programs_are_split_after_the_interpreter(
    command: str, program: list[str]
) -> None:
    assert python_program(command) == program


@pytest.mark.parametrize("command", ["node server.js", "python", "python -c 'x'", "python -m"])
def test_only_python_programs_can_be_profiled(command: str) -> None:
    with pytest.raises(UsageError, match="Python program"):
        python_program(command)


def test_an_env_wrapper_keeps_its_settings_in_front_of_the_profiled_command() -> None:
    from harness.runners.support.profile_launch import env_prefix

    argv = shlex.split("env -u NAME X=1 python app.py --port 9")
    assert env_prefix(argv) == (["env", "-u", "NAME", "X=1"], ["python", "app.py", "--port", "9"])
    assert env_prefix(["python", "app.py"]) == ([], ["python", "app.py"])


def test_a_launched_target_is_named_after_its_program() -> None:
    assert ProfilingPlan(launch="python app.py").name.startswith("launch:")
    assert ProfilingPlan(variant="sync-legacy").name == "sync-legacy"


def spin() -> None:
    for _ in range(200):
        sum(range(10_000))  # some milliseconds of work for the sampler to see


def test_threads_started_in_the_block_are_profiled_and_combined(tmp_path: Path) -> None:
    box = SessionBox()
    with profile_new_threads(box, interval_s=0.0001):
        workers = [threading.Thread(target=spin) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    session = box.combined()
    assert session is not None and session.sample_count > 0
    assert any("spin" in frame for stack, _ in session.frame_records for frame in stack)
    save_session(session, tmp_path / "s.pyisession")
    assert (
        json.loads((tmp_path / "s.pyisession").read_text())["sample_count"] == session.sample_count
    )


def test_a_profiler_a_fork_stopped_is_neither_stopped_again_nor_kept() -> None:
    box = SessionBox()
    with profiled(box, interval_s=0.001):
        _RUNNING.pop(threading.get_ident()).stop()  # what a forked child does first
    assert box.sessions() == [] and threading.get_ident() not in _RUNNING


def test_the_thread_hook_is_removed_after_the_block() -> None:
    original = threading.Thread.run
    with profile_new_threads(SessionBox(), 0.001):
        assert threading.Thread.run is not original
    assert threading.Thread.run is original


def test_a_process_ending_by_os_exit_saves_its_profile_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ended: list[int] = []
    saves: list[str] = []
    monkeypatch.setattr(os, "_exit", ended.append)
    save_at_os_exit(lambda: saves.append("saved"))
    os._exit(0)  # as a multiprocessing worker forked by granian ends, skipping atexit (R112)
    assert (saves, ended) == (["saved"], [0])


def test_a_save_that_fails_does_not_keep_the_process_from_ending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail() -> None:
        raise OSError("disk full")

    ended: list[int] = []
    monkeypatch.setattr(os, "_exit", ended.append)
    save_at_os_exit(fail)
    os._exit(7)
    assert ended == [7]


def test_a_thread_a_native_runtime_started_is_sampled_by_the_foreign_sampler() -> None:
    # R112: granian's WSGI workers run Python on threads its Rust runtime started, which the
    # per-thread profiler hook never sees; `_thread` starts such a thread (threading knows it not).
    sampler = start_foreign_sampler()
    assert sampler is not None
    seen, stop = threading.Event(), threading.Event()

    def served_on_a_native_thread() -> None:
        while not stop.is_set():
            if any("served_on_a_native_thread" in record[0][-1] for record in sampler.records):
                seen.set()

    _thread.start_new_thread(served_on_a_native_thread, ())
    try:
        assert seen.wait(30.0)
    finally:
        stop.set()
    session = sampler.session()
    assert session is not None and session.sample_count > 0
    stack = session.frame_records[0][0]
    assert stack[0].startswith("native thread\x00<thread>\x00")
    # Python's own threads are not sampled: the profiler hook has them (or leaves them out).
    assert not any(
        "test_a_thread_a_native" in frame for s, _ in session.frame_records for frame in s
    )


def test_the_foreign_sampler_keeps_only_what_it_sampled_from_readiness_on() -> None:
    sampler = ForeignSampler()
    sampler.records = [
        (["native thread\x00<thread>\x001", "f\x00a.py\x001"], 0.002, 100.0),
        (["native thread\x00<thread>\x001", "g\x00a.py\x002"], 0.002, 101.0),
    ]
    session = sampler.session(since_s=100.5)
    assert session is not None and session.sample_count == 1 and session.start_time == 100.5
    assert ForeignSampler().session() is None


def test_nothing_sampled_writes_no_session(tmp_path: Path) -> None:
    assert SessionBox().combined() is None
    save_session(None, tmp_path / "s.pyisession")
    assert not (tmp_path / "s.pyisession").exists()


def test_a_script_runs_as_main_and_its_exit_code_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # run_program sets both, as python does
    monkeypatch.setattr(sys, "path", list(sys.path))
    script = tmp_path / "app.py"
    script.write_text("import sys\nif __name__ == '__main__':\n    sys.exit(int(sys.argv[1]))\n")
    assert run_program([str(script), "3"]) == 3


ENV = Environment("3.11", "Linux", "cpu", 2, "host", "abc", False, "0.1.0")
LOAD = LoadResult(latencies_ms=[1.5, 2.5], oks=[1, 0], duration_s=0.1)


def test_a_saved_session_becomes_shares_and_rendered_files(tmp_path: Path) -> None:
    box = SessionBox()
    with profiled(box, interval_s=0.0001):
        spin()
    session_path = tmp_path / "profile" / "async.pyisession"
    save_session(box.combined(), session_path)
    record = make_record(ProfilingPlan(top=3), tmp_path, session_path, LOAD, ENV)
    assert not record.partial
    assert record.artifacts == (
        "profile/async.html",
        "profile/async.txt",
        "profile/async.pyisession",
    )
    assert all((tmp_path / artifact).exists() for artifact in record.artifacts)
    shares = [s for s in record.series if s.name.startswith("share:")]
    assert 1 <= len(shares) <= 3 and all(s.unit == "ratio" for s in shares)
    assert record.get("latency_ms").values == (1.5, 2.5) and record.get("ok").values == (1.0, 0.0)


def wait() -> None:
    threading.Event().wait(0.05)  # a supervisor's wait for its workers


def test_a_profile_is_made_of_the_worker_that_served_not_the_supervisor(tmp_path: Path) -> None:
    session_path = tmp_path / "profile" / "launch-gw.pyisession"
    samples = []
    for work, path in ((wait, session_path), (spin, descendant_session(session_path, 12))):
        box = SessionBox()
        with profiled(box, interval_s=0.0001):
            work()
        session = box.combined()
        assert session is not None
        samples.append(session.sample_count)
        save_session(session, path)
    io_report = tmp_path / "target.io.json"  # the shim's: who called the upstream
    io_report.write_text(json.dumps({"pid": 10, "root_pid": 10, "redirects": {}}))
    (tmp_path / "target.io.json.12").write_text(
        json.dumps({"pid": 12, "root_pid": 10, "redirects": {"api.salesforce.com": 30}})
    )
    record = make_record(ProfilingPlan(), tmp_path, session_path, LOAD, ENV, io_report=io_report)
    assert not record.partial
    assert [(p["pid"], p["profiled"]) for p in record.params["processes"]] == [
        (10, False), (12, True)
    ]  # fmt: skip
    assert "left out: program pid 10" in record.params["profiled_processes"]
    assert record.params["sample_count"] == samples[1]  # the worker's samples alone
    assert [p["samples"] for p in record.params["processes"]] == samples
    assert program_session(session_path).is_file()  # the supervisor's samples are kept


def test_a_target_that_left_no_session_still_keeps_its_load(tmp_path: Path) -> None:
    record = make_record(ProfilingPlan(), tmp_path, tmp_path / "missing.pyisession", LOAD, ENV)
    assert record.partial
    assert "left no profile" in record.params["profile_error"]
    assert record.series_names == ["latency_ms", "ok"]


def profile_args(**overrides: Any) -> argparse.Namespace:
    options: dict[str, Any] = {"variant": [], "launch": None, "target_url": None, "requests": None,
               "concurrency": 8, "duration": None, "interval": 0.001, "mock_profile": "fast",
               "top": 20, "quick": True, "model": "", "target_header": [],
               "start_timeout": 30.0}  # fmt: skip
    return argparse.Namespace(**(options | overrides))


def test_each_named_variant_is_profiled_once_with_quick_settings() -> None:
    plans = make_plans(profile_args(variant=["async", "sync-legacy", "async"]))
    assert [p.variant for p in plans] == ["async", "sync-legacy"]
    assert all(p.requests == 300 and p.max_duration_s == 5.0 for p in plans)


def test_a_launch_is_one_plan_and_excludes_variants() -> None:
    (plan,) = make_plans(profile_args(launch="python app.py"))
    assert plan.launch == "python app.py"
    with pytest.raises(UsageError, match="not both"):
        make_plans(profile_args(launch="python app.py", variant=["async"]))


@pytest.mark.parametrize("bad", [{"requests": -1}, {"concurrency": 0}, {"interval": 2.0}])
def test_nonsense_load_settings_are_usage_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        make_plans(profile_args(**bad))


def test_a_launched_target_must_listen_on_loopback() -> None:
    with pytest.raises(UsageError):
        make_plans(profile_args(launch="python app.py", target_url="http://10.1.2.3:8000"))


def test_many_thread_sessions_combine_into_one_with_every_sample() -> None:
    box = SessionBox()
    with profile_new_threads(box, interval_s=0.0001):
        for _ in range(5):  # an odd count exercises the unpaired session
            worker = threading.Thread(target=spin)
            worker.start()
            worker.join()
    combined = box.combined()
    assert combined is not None
    assert len(box.sessions()) == 5
    assert combined.sample_count == sum(s.sample_count for s in box.sessions())


def test_a_console_script_is_profiled_under_the_python_of_its_shebang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.runners.support.profile_launch import python_launch

    script = tmp_path / "servegw"
    script.write_text("#!/usr/bin/env python3\nimport sys\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    interpreter, program = python_launch("servegw app:app --port 8000")
    assert Path(interpreter).name.startswith("python3")
    assert program == [str(script), "app:app", "--port", "8000"]


def test_a_program_that_is_not_python_cannot_be_profiled_and_says_so(tmp_path: Path) -> None:
    from harness.errors import Unavailable
    from harness.runners.support.profile_launch import python_launch

    with pytest.raises(Unavailable, match="profiles Python programs only"):
        python_launch("sh -c 'exit 0'")
    # What would profile it, not a Python command line for a Node gateway (R98).
    with pytest.raises(Unavailable, match=r"is not one .*: nothing .* use node --cpu-prof"):
        python_launch("npm start -- --port 8445")
    with pytest.raises(Unavailable, match=r"names none: launch it as 'python script\.py"):
        python_launch("python -u")


def three_samples(start_s: float) -> Any:
    """A thread's session: samples a, b, c of 0.5 s each, from `start_s`."""
    from pyinstrument.session import Session

    return Session(frame_records=[(["a"], 0.5), (["b"], 0.5), (["c"], 0.5)], start_time=start_s,
                   duration=1.5, min_interval=0.001, max_interval=0.001, sample_count=3,
                   start_call_stack=[], target_description="t", cpu_time=0.0, sys_path=[],
                   sys_prefixes=[])  # fmt: skip


def test_a_session_keeps_only_what_it_sampled_from_readiness_on() -> None:
    from harness.runners.support.profiler_child import sampled_since

    trimmed = sampled_since(three_samples(100.0), 100.6)
    assert trimmed is not None and [s for s, _ in trimmed.frame_records] == [["b"], ["c"]]
    assert (trimmed.start_time, trimmed.sample_count) == (100.6, 2)
    assert trimmed.duration == pytest.approx(0.9)
    later = three_samples(101.0)  # a thread started after readiness is kept whole
    assert sampled_since(later, 100.6) is later
    assert sampled_since(three_samples(100.0), None) is not None
    assert sampled_since(three_samples(90.0), 100.0) is None  # a thread of the start-up alone


def test_the_saved_profile_says_how_much_start_up_it_left_out(tmp_path: Path) -> None:
    from harness.runners.profiling import start_up_params
    from harness.runners.support.profiler_child import save_profile

    box, session_path = SessionBox(), tmp_path / "t.pyisession"
    box.add(three_samples(100.0))
    assert start_up_params(session_path) == {"sampled_from": "start (start-up included)"}
    save_profile(box, session_path, since_s=100.6)
    assert start_up_params(session_path) == {"sampled_from": "ready", "start_up_cut_s": 0.6}
    saved = json.loads(session_path.read_text())
    assert [record[0] for record in saved["frame_records"]] == [["b"], ["c"]]


def test_a_session_spent_wholly_in_multiprocessings_resource_tracker_is_a_helpers() -> None:
    tracker = "main\x00/usr/lib/python3.11/multiprocessing/resource_tracker.py\x00150"
    read = "<built-in>\x00read\x000"
    served = "chat\x00/srv/gw/sanic_multi.py\x0040"
    assert is_helper([((tracker, read), 4.1)])
    assert not is_helper([((tracker, read), 4.1), ((served,), 0.01)])
    assert not is_helper([])


def test_the_workers_that_served_are_stopped_before_their_supervisor_and_waited_for() -> None:
    # R86: Django's reloader (pid 10) kills its serving child (pid 11) when it is stopped itself,
    # before the child saved its profile; the child is stopped first, and waited for.
    clock, sent, alive = FakeClock(), [], {11, 12}

    def send(pid: int, signum: int) -> None:
        sent.append((pid, signum))
        if pid == 11:
            clock.sleep(0.5)  # it saves its session, then exits
            alive.discard(pid)

    left = stop_workers_first(10, {10: 2, 11: 3, 12: 1}, grace_s=2.0, send=send,
                              running=alive.__contains__, clock=clock,
                              sleep=clock.sleep)  # fmt: skip
    assert [pid for pid, _ in sent] == [11, 12]
    assert left == [12] and 2.0 <= clock.now_s < 3.0  # one that outlives the grace is left


def test_a_one_process_gateway_is_not_waited_for() -> None:
    clock = FakeClock()
    left = stop_workers_first(10, {10: 4}, send=lambda *_: None, running=lambda _: True,
                              clock=clock, sleep=clock.sleep)  # fmt: skip
    assert left == [] and clock.now_s == 0.0


CLIENT = """
class HTTPConnection:  # named as http.client's, to be taken for a synchronous HTTP client
    def request(self, work):
        work()
"""


@pytest.mark.parametrize("in_a_thread", [False, True])
def test_the_record_says_whether_a_sync_client_ran_on_the_event_loops_thread(
    tmp_path: Path, in_a_thread: bool
) -> None:
    # review7 B8: requests called with asyncio.to_thread is no blocking call on the loop.
    path = tmp_path / "http" / "client.py"
    path.parent.mkdir()
    path.write_text(CLIENT)
    spec = importlib.util.spec_from_file_location("fake_http_client", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    async def handler() -> None:
        call = functools.partial(module.HTTPConnection().request, spin)
        await asyncio.to_thread(call) if in_a_thread else call()

    box = SessionBox()
    with profiled(box, interval_s=0.0001), profile_new_threads(box, interval_s=0.0001):
        asyncio.run(handler())
    session_path = tmp_path / "profile" / "gw.pyisession"
    save_session(box.combined(), session_path)
    calls = make_record(ProfilingPlan(), tmp_path, session_path, LOAD, ENV).params[BLOCKING]
    assert calls["clients"] == ["http.client"] and calls["loop_seen"]
    on_loop_s, in_thread_s = calls["on_loop_s"], calls["in_thread_s"]
    assert (in_thread_s > 0 and on_loop_s == 0) if in_a_thread else (on_loop_s > in_thread_s)
