"""The start-up shim's pure parts: redirect rules, file-open counting, reports, environment."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.shim import (
    STARTUP_DIR,
    collect_io_report,
    io_series,
    merge_reports,
    read_io_report,
    redirects_by_process,
    report_parts,
    shim_env,
    target_processes,
)
from harness.shim.startup.sfperf_shim import (
    ENV_IO_REPORT,
    ENV_ROOT_PID,
    ENV_UPSTREAM,
    Shim,
    report_path,
    write_at_os_exit,
)
from harness.shim.startup.sfperf_shim.iocount import FileCounter, access_kinds
from harness.shim.startup.sfperf_shim.redirect import Redirector, is_salesforce_host

MOCK = "http://127.0.0.1:8181"


@pytest.mark.parametrize(
    ("host", "redirected"),
    [("api.salesforce.com", True), ("login.salesforce.com", True),
     ("test.salesforce.com", True), ("acme.my.salesforce.com", True),
     ("ACME--dev.sandbox.my.salesforce.com", True), ("api.salesforce.com.", True),
     ("salesforce.com", False), ("my.salesforce.com", False), ("api.openai.com", False),
     ("evil-api.salesforce.com.example.org", False), ("127.0.0.1", False)],
)  # fmt: skip
def test_only_salesforce_hosts_are_redirected(host: str, redirected: bool) -> None:
    assert is_salesforce_host(host) is redirected


@pytest.mark.parametrize(
    ("url", "target"),
    [("https://api.salesforce.com/einstein/platform/v1/models/m/chat-generations",
      f"{MOCK}/einstein/platform/v1/models/m/chat-generations"),
     ("http://login.salesforce.com/services/oauth2/token?x=1",
      f"{MOCK}/services/oauth2/token?x=1"),
     ("https://acme.my.salesforce.com:443/services/oauth2/token#frag",
      f"{MOCK}/services/oauth2/token"),
     ("https://api.salesforce.com", f"{MOCK}/"),
     ("https://api.openai.com/v1/chat/completions", None),
     ("ftp://api.salesforce.com/file", None), ("/relative/path", None)],
)  # fmt: skip
def test_redirected_urls_keep_their_path_and_query(url: str, target: str | None) -> None:
    assert Redirector(MOCK + "/").rewrite(url) == target


def test_redirects_are_counted_per_original_host() -> None:
    redirector = Redirector(MOCK)
    for url in ("https://api.salesforce.com/a", "https://api.salesforce.com/b",
                "https://x.my.salesforce.com/t", "https://example.com/"):  # fmt: skip
        redirector.rewrite(url)
    assert redirector.snapshot() == {"api.salesforce.com": 2, "x.my.salesforce.com": 1}


def test_a_connection_to_the_mock_counts_as_an_upstream_call_redirected_or_not(
    tmp_path: Path,
) -> None:
    redirector = Redirector(MOCK)
    redirector.connecting(("127.0.0.1", 8181))  # a gateway that read SFPERF_MOCK_URL
    redirector.connecting(("127.0.0.1", 9999))
    redirector.connecting("/run/socket")
    assert redirector.mock_connections == 1
    report = tmp_path / "io.json"
    (tmp_path / "io.json.7").write_text(json.dumps({**part(7, {}, {}), "mock_connections": 2}))
    (tmp_path / "io.json.8").write_text(json.dumps(part(8, {}, {"api.salesforce.com": 3})))
    assert redirects_by_process(report) == (1, {7: 2, 8: 3})


def test_an_upstream_that_is_not_an_http_url_is_refused() -> None:
    with pytest.raises(ValueError, match="upstream"):
        Redirector("127.0.0.1:8181")


@pytest.mark.parametrize(
    ("flags", "kinds"),
    [
        (os.O_RDONLY, (1, 0)),
        (os.O_WRONLY | os.O_CREAT, (0, 1)),
        (os.O_RDWR, (1, 1)),
        (os.O_RDWR | os.O_CREAT | os.O_APPEND, (1, 1)),
        (os.O_RDWR | os.O_CREAT | os.O_TRUNC, (0, 1)),
        (os.O_RDWR | os.O_CREAT | os.O_EXCL, (0, 1)),
    ],
)
def test_opens_count_as_reads_or_writes_by_access_mode(flags: int, kinds: tuple[int, int]) -> None:
    assert access_kinds(flags) == kinds


def test_the_counter_counts_open_events_per_absolute_path() -> None:
    counter = FileCounter()
    counter.hook("open", ("token.json", "w", os.O_WRONLY | os.O_CREAT))
    counter.hook("open", (b"token.json", "r", os.O_RDONLY))
    counter.hook("open", ("token.json", None, os.O_RDONLY))  # os.open passes no mode
    files, module_opens = counter.snapshot()
    assert files == {os.path.abspath("token.json"): {"opens": 3, "reads": 2, "writes": 1}}
    assert module_opens == 0


def test_the_counter_ignores_other_events_descriptors_and_pauses() -> None:
    counter = FileCounter()
    counter.hook("socket.connect", ("x",))
    counter.hook("open", (3, "r", 0))
    counter.paused = True
    counter.hook("open", ("/tmp/report.json", "w", os.O_WRONLY))
    assert counter.snapshot() == ({}, 0)


def test_a_sqlite_connect_counts_as_an_open_of_its_database_file() -> None:
    counter = FileCounter()
    counter.hook("sqlite3.connect", ("/srv/state.db",))
    counter.hook("sqlite3.connect", (Path("/srv/state.db"),))
    counter.hook("sqlite3.connect", ("file:/srv/state.db?mode=ro",))
    for in_memory in (":memory:", "", "file::memory:?cache=shared", "file:x?mode=memory"):
        counter.hook("sqlite3.connect", (in_memory,))
    counter.hook("sqlite3.connect/handle", (object(),))
    files, _ = counter.snapshot()
    assert files == {"/srv/state.db": {"opens": 3, "reads": 3, "writes": 2}}


def test_module_loading_is_counted_apart_from_the_files_a_program_opens() -> None:
    counter = FileCounter()
    counter.hook("open", ("/usr/lib/python3/json/__pycache__/decoder.cpython-311.pyc", "r", 0))
    counter.hook("open", ("/srv/app/gateway.py", "r", 0))
    assert counter.snapshot() == ({}, 2)


def test_descendant_processes_write_their_own_report_part() -> None:
    assert report_path("/r/io.json", 10, 10) == "/r/io.json"
    assert report_path("/r/io.json", 11, 10) == "/r/io.json.11"


def test_the_shim_writes_its_report_once_without_counting_that_write(tmp_path: Path) -> None:
    path = tmp_path / "io.json"
    shim = Shim(MOCK, str(path), root_pid=os.getpid())
    shim.counter.count(str(tmp_path / "token.json"), os.O_RDONLY)
    shim.write_report()
    shim.counter.paused = False
    shim.counter.count(str(tmp_path / "late.json"), os.O_RDONLY)
    shim.write_report()  # a second call (atexit after SIGTERM) changes nothing
    report = json.loads(path.read_text())
    assert report["files"] == {str(tmp_path / "token.json"): {"opens": 1, "reads": 1, "writes": 0}}
    assert (report["pid"], report["upstream"], report["redirects"]) == (os.getpid(), MOCK, {})


class Exited(Exception):
    """What the test's stand-in for os._exit raises (the real one would end pytest)."""


def test_a_process_ending_by_os_exit_still_writes_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exit_now(status: int) -> None:
        raise Exited(status)

    monkeypatch.setattr(os, "_exit", exit_now)
    path = tmp_path / "io.json"
    write_at_os_exit(Shim(MOCK, str(path), root_pid=os.getpid()))
    with pytest.raises(Exited, match="3"):
        os._exit(3)  # as a multiprocessing worker forked by granian ends, skipping atexit
    assert json.loads(path.read_text())["pid"] == os.getpid()


def test_shim_env_puts_the_shim_first_and_keeps_the_existing_pythonpath(tmp_path: Path) -> None:
    base = {"PYTHONPATH": "/srv/lib", ENV_ROOT_PID: "42", "HOME": "/root"}
    env = shim_env(MOCK, tmp_path / "io.json", base)
    assert env["PYTHONPATH"].split(os.pathsep) == [str(STARTUP_DIR), "/srv/lib"]
    assert env[ENV_UPSTREAM] == MOCK and env[ENV_IO_REPORT] == str(tmp_path / "io.json")
    assert ENV_ROOT_PID not in env and env["HOME"] == "/root"
    assert (STARTUP_DIR / "sitecustomize.py").is_file()


def test_a_proxy_in_the_environment_is_bypassed_for_the_mock_and_the_salesforce_hosts() -> None:
    import urllib.request

    # How urllib (and aiohttp with trust_env) decide; typeshed does not declare it.
    bypass: Callable[[str, dict[str, str]], bool] = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    base = {"HTTPS_PROXY": "http://proxy.corp:3128", "no_proxy": "corp.local"}
    env = shim_env("http://127.0.0.1:4000", None, base)
    assert env["NO_PROXY"] == env["no_proxy"]
    for host in ("127.0.0.1", "api.salesforce.com", "acme.my.salesforce.com", "corp.local"):
        assert bypass(host, {"no": env["no_proxy"]}), host
    assert not bypass("example.com", {"no": env["no_proxy"]})


def test_without_a_report_path_the_child_counts_nothing() -> None:
    env = shim_env(MOCK, None, {ENV_IO_REPORT: "/stale.json"})
    assert ENV_IO_REPORT not in env and env["PYTHONPATH"] == str(STARTUP_DIR)


def part(
    pid: int, files: dict[str, dict[str, int]], redirects: dict[str, int]
) -> dict[str, object]:
    common = {"root_pid": 1, "patched": ["requests"], "module_opens": 5, "upstream": MOCK}
    return {"pid": pid, "files": files, "redirects": redirects, "argv": ["gw.py"], **common}


def test_reports_of_a_process_tree_are_summed() -> None:
    merged = merge_reports([
        part(1, {"/t": {"opens": 2, "reads": 2, "writes": 0}}, {"api.salesforce.com": 3}),
        part(7, {"/t": {"opens": 1, "reads": 0, "writes": 1}, "/u": {"opens": 1, "reads": 1,
             "writes": 0}}, {"api.salesforce.com": 1}),
    ])  # fmt: skip
    assert merged["files"]["/t"] == {"opens": 3, "reads": 2, "writes": 1}
    assert merged["files"]["/u"]["opens"] == 1
    assert merged["redirects"] == {"api.salesforce.com": 4}
    assert (merged["pid"], merged["pids"], merged["module_opens"]) == (1, [1, 7], 10)


def test_hosts_looked_up_and_not_redirected_are_summed_over_the_tree_too() -> None:
    first = {**part(1, {}, {}), "other_hosts": {"example.com": 2}}
    second = {**part(7, {}, {}), "other_hosts": {"example.com": 1, "pypi.org": 1}}
    assert merge_reports([first, second])["other_hosts"] == {"example.com": 3, "pypi.org": 1}
    assert merge_reports([part(1, {}, {})])["other_hosts"] == {}  # a report from an older shim


def test_collecting_merges_the_parts_into_the_report_file(tmp_path: Path) -> None:
    path = tmp_path / "io.json"
    path.write_text(json.dumps(part(1, {"/t": {"opens": 1, "reads": 1, "writes": 0}}, {})))
    (tmp_path / "io.json.7").write_text(json.dumps(part(7, {}, {"login.salesforce.com": 1})))
    (tmp_path / "io.json.tmp").write_text("not a part")
    assert report_parts(path) == [path, tmp_path / "io.json.7"]
    merged = collect_io_report(path)
    assert merged is not None and merged["redirects"] == {"login.salesforce.com": 1}
    assert json.loads(path.read_text()) == merged
    assert not (tmp_path / "io.json.7").exists()


def test_a_missing_or_unreadable_report_reads_as_none(tmp_path: Path) -> None:
    assert read_io_report(tmp_path / "io.json") is None
    (tmp_path / "io.json").write_text("{truncated")
    assert read_io_report(tmp_path / "io.json") is None


def test_an_io_report_becomes_count_series_optionally_for_chosen_paths() -> None:
    report = part(1, {"/t": {"opens": 3, "reads": 2, "writes": 1},
                      "/etc/hosts": {"opens": 1, "reads": 1, "writes": 0}},
                  {"api.salesforce.com": 4, "login.salesforce.com": 1})  # fmt: skip
    every = {s.name: s.values for s in io_series(report)}
    assert every == {"file_opens": (4.0,), "file_reads": (3.0,), "file_writes": (1.0,),
                     "module_opens": (5.0,), "salesforce_redirects": (5.0,)}  # fmt: skip
    token_only = {s.name: s.values for s in io_series(report, paths=["/t"])}
    assert token_only["file_opens"] == (3.0,) and token_only["file_reads"] == (2.0,)


def test_an_atomic_write_through_a_temporary_file_counts_as_a_write_of_the_real_file() -> None:
    counter = FileCounter()
    counter.hook("open", ("token.json", "r", os.O_RDONLY))
    counter.hook("open", (".token.json.x1.tmp", None, os.O_RDWR | os.O_CREAT | os.O_EXCL))
    counter.hook("os.rename", (".token.json.x1.tmp", "token.json", -1, -1))
    counter.hook("os.rename", ("never-opened", "token.json", -1, -1))
    files, _ = counter.snapshot()
    entry = {"opens": 2, "reads": 1, "writes": 1, "renames": 1}
    assert files == {os.path.abspath("token.json"): entry}


def test_a_snapshot_poller_answers_each_new_label_once_and_not_those_asked_before_it(
    tmp_path: Path,
) -> None:
    from harness.shim.startup.sfperf_shim.snapshots import SnapshotPoller

    (tmp_path / "old").touch()
    written: list[str] = []
    poller = SnapshotPoller(str(tmp_path), written.append)
    (tmp_path / "start").touch()
    (tmp_path / "not a label!").touch()
    assert poller.poll_once() and not poller.poll_once()
    (tmp_path / "end").touch()
    assert poller.poll_once()
    assert written == ["start", "end"]


def test_the_poller_wakes_often_only_for_a_while_after_answering() -> None:
    from harness.shim.startup.sfperf_shim.snapshots import (
        IDLE_POLL_INTERVAL_S,
        POLL_INTERVAL_S,
        interval_s,
    )

    assert interval_s(now_s=10.0, quick_until_s=12.0) == POLL_INTERVAL_S
    assert interval_s(now_s=12.5, quick_until_s=12.0) == IDLE_POLL_INTERVAL_S
    # An idle period shorter than the harness's wait for descendants: none is left out.
    from harness.shim import DESCENDANT_WAIT_S

    assert IDLE_POLL_INTERVAL_S < DESCENDANT_WAIT_S


def test_the_io_delta_of_a_window_keeps_only_what_changed_in_it() -> None:
    from harness.shim import io_delta

    before = {"files": {"/t": {"opens": 2, "reads": 2, "writes": 0}, "/c": {"opens": 1}},
              "redirects": {"api.salesforce.com": 3}, "module_opens": 10}  # fmt: skip
    after = {"files": {"/t": {"opens": 7, "reads": 7, "writes": 0}, "/c": {"opens": 1},
                       "/n": {"opens": 1, "reads": 0, "writes": 1}},
             "redirects": {"api.salesforce.com": 8}, "module_opens": 12}  # fmt: skip
    window = io_delta(before, after)
    assert window["files"] == {"/t": {"opens": 5, "reads": 5, "writes": 0},
                               "/n": {"opens": 1, "reads": 0, "writes": 1}}  # fmt: skip
    assert (window["redirects"], window["module_opens"]) == ({"api.salesforce.com": 5}, 2)


def test_a_snapshot_counts_the_processes_that_ended_since_without_answering_it(
    tmp_path: Path,
) -> None:
    # R96: a process started for one request lives between two snapshots; its report stays.
    base = tmp_path / "io.json"
    snapshot = tmp_path / "io.json.snap-w-end-3"
    alive = {**part(1, {"/t": {"opens": 1, "reads": 1, "writes": 0}}, {}), "overhead": {}}
    snapshot.write_text(json.dumps(alive))
    ended = {**part(7, {"/t": {"opens": 1, "reads": 1, "writes": 0}}, {"api.salesforce.com": 2}),
             "overhead": {"process_cpu_s": 0.04}}  # fmt: skip
    (tmp_path / "io.json.7").write_text(json.dumps(ended))
    (tmp_path / "io.json.1").write_text(json.dumps(alive))  # answered: its snapshot counts
    merged = read_io_report(snapshot, ended=base)
    assert merged is not None and merged["pids"] == [1, 7] and merged["upstream_pids"] == [7]
    assert merged["files"]["/t"]["opens"] == 2 and merged["cpu_s_by_pid"]["7"] == 0.04
    assert read_io_report(tmp_path / "io.json.snap-none", ended=base) is None  # none answered


def test_a_window_names_the_processes_that_started_in_it() -> None:
    from harness.shim import io_delta

    window = io_delta({"pids": [1, 2]}, {"pids": [1, 2, 9, 10]})
    assert window["started_pids"] == [9, 10]


def test_a_relaunched_target_starts_an_io_report_of_its_own(tmp_path: Path) -> None:
    from harness.shim import clear_io_report

    base = tmp_path / "io.json"
    for name in ("io.json", "io.json.41", "io.json.snap-x", "other.json.42"):
        (tmp_path / name).write_text("{}")
    clear_io_report(base)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["io.json.snap-x", "other.json.42"]


def test_the_environment_names_the_control_directory_only_with_a_report(tmp_path: Path) -> None:
    from harness.shim.startup.sfperf_shim import ENV_CONTROL

    env = shim_env(MOCK, tmp_path / "io.json", {ENV_CONTROL: "stale"}, tmp_path / "control")
    assert env[ENV_CONTROL] == str((tmp_path / "control").resolve())
    assert ENV_CONTROL not in shim_env(MOCK, None, {ENV_CONTROL: "stale"}, tmp_path / "control")


def test_the_hook_counts_every_audit_event_it_is_handed_and_forgets_on_request() -> None:
    counter = FileCounter()
    for event in ("socket.connect", "open", "sys._getframe"):
        counter.hook(event, ("/srv/a.json", "r", os.O_RDONLY))
    assert counter.events() == 3
    counter.forget_events()
    assert counter.events() == 0 and counter.total_opens() == 1


def test_a_reset_counter_starts_from_zero_as_a_forked_child_does() -> None:
    counter, redirector = FileCounter(), Redirector(MOCK)
    counter.count("/srv/a.json", os.O_RDONLY)
    counter.count("/srv/m.py", os.O_RDONLY)
    redirector.rewrite("https://api.salesforce.com/x")
    counter.reset()
    redirector.reset()
    assert counter.snapshot() == ({}, 0) and counter.events() == 0
    assert (redirector.snapshot(), redirector.url_checks) == ({}, 0)


def test_a_remembered_url_is_still_counted_each_time_it_is_redirected() -> None:
    redirector = Redirector(MOCK)
    url = "https://api.salesforce.com/einstein/platform/v1/models/m/chat-generations"
    targets = {redirector.rewrite(url) for _ in range(3)}
    assert targets == {f"{MOCK}/einstein/platform/v1/models/m/chat-generations"}
    assert redirector.snapshot() == {"api.salesforce.com": 3}
    assert [redirector.handles(h) for h in ("API.salesforce.com", "127.0.0.1", None)] == [
        True, False, False]  # fmt: skip
    assert (redirector.url_checks, redirector.host_checks) == (3, 3)


def test_memos_are_forgotten_past_their_limit_and_answers_stay_right(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.shim.startup.sfperf_shim import iocount, redirect

    monkeypatch.setattr(redirect, "MEMO_LIMIT", 2)
    monkeypatch.setattr(iocount, "MEMO_LIMIT", 2)
    redirector, counter = Redirector(MOCK), FileCounter()
    for n in range(5):
        assert redirector.rewrite(f"https://api.salesforce.com/{n}") == f"{MOCK}/{n}"
        counter.count(f"/tmp/t{n}.json", os.O_RDONLY)
    assert redirector.rewrite("https://example.com/0") is None
    assert redirector.snapshot() == {"api.salesforce.com": 5}
    assert sorted(counter.snapshot()[0]) == [f"/tmp/t{n}.json" for n in range(5)]


def test_the_shims_account_prices_each_kind_of_work_it_did() -> None:
    from harness.shim.startup.sfperf_shim.overhead import UnitCosts, account

    counter, redirector = FileCounter(), Redirector(MOCK)
    for _ in range(10):
        counter.hook("open", ("/srv/token.json", "r", os.O_RDONLY))
        redirector.rewrite("https://api.salesforce.com/x")
    counter.hook("sys._getframe", (None,))
    units = UnitCosts(event_ns=100.0, open_ns=1000.0, host_check_ns=50.0, url_check_ns=500.0)
    overhead = account(units, counter, redirector, poller_cpu_s=0.5)
    assert (overhead["audit_events"], overhead["opens"], overhead["url_checks"]) == (11, 10, 10)
    assert overhead["shim_cpu_s"] == pytest.approx(0.5 + (11 * 100 + 10 * 1000 + 10 * 500) / 1e9)
    assert overhead["process_cpu_s"] > 0 and overhead["unit_ns"]["open"] == 1000.0


def test_the_shims_cost_is_summed_over_the_tree_and_differenced_over_a_window() -> None:
    from harness.shim import io_delta, merge_overheads

    def cost(shim_s: float, target_s: float, events: int) -> dict[str, object]:
        return {"shim_cpu_s": shim_s, "process_cpu_s": target_s, "poller_cpu_s": 0.0,
                "audit_events": events, "opens": 0, "host_checks": 0, "url_checks": 0,
                "unit_ns": {"event": float(events)}}  # fmt: skip

    start = merge_overheads([cost(0.1, 1.0, 10), cost(0.2, 2.0, 20), {}])
    assert (start["shim_cpu_s"], start["process_cpu_s"]) == (pytest.approx(0.3), 3.0)
    assert start["unit_ns"] == {"event": 10.0} and merge_overheads([{}]) == {}
    end = merge_overheads([cost(0.4, 5.0, 40), cost(0.2, 2.0, 20)])
    window = io_delta({"overhead": start}, {"overhead": end})["overhead"]
    assert window["shim_cpu_s"] == pytest.approx(0.3) and window["audit_events"] == 30
    assert io_delta({"overhead": end}, {"overhead": start})["overhead"]["process_cpu_s"] == 0.0


def test_only_the_processes_that_reached_the_upstream_count_as_the_targets() -> None:
    # R79 leftover: gunicorn's arbiter (pid 1) fetches nothing; its one worker (7) fetched every
    # token, yet "a target of 2 process(es)" halved what one process fetched.
    arbiter = {**part(1, {}, {}), "mock_connections": 0}
    worker = {**part(7, {}, {}), "mock_connections": 12}
    merged = merge_reports([arbiter, worker])
    assert (merged["pids"], merged["upstream_pids"]) == ([1, 7], [7])
    assert target_processes(merged) == 1
    redirected = merge_reports([arbiter, part(9, {}, {"api.salesforce.com": 2})])
    assert target_processes(redirected) == 1
    assert target_processes(merge_reports([arbiter])) == 1  # none reached it yet: all it saw
    assert target_processes(None) is None


def test_opens_in_append_mode_are_counted_as_appends_too() -> None:
    # R106: a request log opened "a" on every request is appended to, not rewritten.
    counter = FileCounter()
    for _ in range(3):
        counter.hook("open", ("requests.jsonl", "a", os.O_WRONLY | os.O_CREAT | os.O_APPEND))
    counter.hook("open", ("state.json", "w", os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
    files, _ = counter.snapshot()
    assert files[os.path.abspath("requests.jsonl")] == {"opens": 3, "reads": 0, "writes": 3,
                                                        "appends": 3}  # fmt: skip
    assert "appends" not in files[os.path.abspath("state.json")]
