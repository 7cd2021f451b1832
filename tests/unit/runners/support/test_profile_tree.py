"""Which processes of a profiled program's tree its profile covers."""

from __future__ import annotations

from pathlib import Path

from harness.runners.support.profile_tree import (
    TreeProcess,
    scope_note,
    served_nothing,
    session_files,
    tree_processes,
)


def profiled(processes: list[TreeProcess]) -> list[int | None]:
    return [p.pid for p in processes if p.profiled]


def test_a_supervisor_that_only_waits_is_left_out_for_the_worker_that_served() -> None:
    # hypercorn: the program (pid 10) waits on its workers; pid 12 made every upstream call.
    processes = tree_processes(
        {None: 2, 11: 2, 12: 944}, root_pid=10, calls={10: 0, 11: 0, 12: 401}
    )
    assert profiled(processes) == [12]
    assert [(p.pid, p.role) for p in processes] == [(10, "program"), (11, "worker"), (12, "worker")]
    note = scope_note(processes)
    assert note.startswith("profiled the processes that called the upstream: worker pid 12 (944 "
                           "samples, called the upstream)")  # fmt: skip
    assert "left out: program pid 10 (2 samples, no upstream call)" in note


def test_every_worker_that_served_is_merged_and_a_one_process_gateway_is_itself() -> None:
    assert profiled(tree_processes({None: 5, 11: 300, 12: 280}, 10, {11: 40, 12: 38})) == [11, 12]
    alone = tree_processes({None: 900}, root_pid=10, calls={10: 120})
    assert profiled(alone) == [10] and "left out" not in scope_note(alone)


def test_without_the_shims_counts_every_process_that_left_samples_is_profiled() -> None:
    processes = tree_processes({None: 3, 11: 500}, root_pid=None, calls={})
    assert profiled(processes) == [None, 11]
    assert "which served is not known" in scope_note(processes)


def test_a_multiprocessing_helper_is_never_profiled_even_when_which_served_is_not_known() -> None:
    # Sanic with 2 workers: pid 12749 is the resource tracker, one blocked sample (R80).
    unknown = tree_processes({None: 34, 12749: 1, 12763: 660}, 12744, {}, helpers=[12749])
    assert profiled(unknown) == [12744, 12763]
    assert [p.role for p in unknown] == ["program", "helper", "worker"]
    known = tree_processes({None: 34, 12749: 1, 12763: 660, 12764: 845}, 12744,
                           {12744: 0, 12763: 30, 12764: 31}, helpers=[12749])  # fmt: skip
    assert profiled(known) == [12763, 12764]


def test_a_worker_that_served_but_left_no_session_leaves_no_profile_of_the_others() -> None:
    processes = tree_processes({None: 2}, root_pid=10, calls={10: 0, 11: 60})
    assert profiled(processes) == []
    note = scope_note(processes)
    assert note.startswith("no process that served left a profile")
    # Django's runserver: its reloader kills the serving child before it saves (R86).
    assert "one that called the upstream was stopped before it saved its profile, by a " in note
    assert "add --noreload" in note


def test_processes_sampled_that_made_no_upstream_call_are_said_to_have_served_nothing() -> None:
    # R86: only the reloader that waits on its serving child was sampled; nothing called upstream.
    processes = tree_processes({None: 3}, root_pid=10, calls={10: 0})
    assert profiled(processes) == [10] and served_nothing(processes)
    assert scope_note(processes).startswith(
        "profiled the processes sampled, which served nothing: none made an upstream call"
    )
    assert not served_nothing(tree_processes({None: 900}, root_pid=10, calls={10: 120}))
    assert not served_nothing(tree_processes({None: 900}, root_pid=10, calls={}))


def test_the_sessions_of_a_tree_are_the_programs_and_one_per_other_process(tmp_path: Path) -> None:
    session = tmp_path / "launch-gw.pyisession"
    names = ["launch-gw.pyisession", "launch-gw.41.pyisession", "launch-gw.program.pyisession",
             "launch-gw.ready.json", "launch-gw2.42.pyisession"]  # fmt: skip
    for name in names:
        (tmp_path / name).write_text("{}")
    assert session_files(session) == {None: session, 41: tmp_path / "launch-gw.41.pyisession"}


def test_a_program_that_starts_a_process_per_request_is_profiled_beside_them() -> None:
    # R96: bottle SPAWN=1 runs `python upstream_call.py` for each request; the server waits.
    workers: dict[int | None, int] = {pid: 25 for pid in range(11, 50)}
    calls = {10: 0, **dict.fromkeys(range(11, 50), 2)}
    processes = tree_processes({None: 190, **workers}, root_pid=10, calls=calls, requests=40)
    assert profiled(processes) == [10, *workers]
    note = scope_note(processes, requests=40)
    assert note.startswith("it starts a process for each request: 39 processes called the "
                           "upstream for 40 requests; profiled the program")  # fmt: skip
    assert "39 one-shot processes (pids 11-49, 25 samples each at the median" in note


def test_a_pool_of_workers_is_no_process_per_request() -> None:
    processes = tree_processes({None: 5, 11: 300, 12: 280}, 10, {10: 0, 11: 40, 12: 38},
                               requests=400)  # fmt: skip
    assert profiled(processes) == [11, 12]
    assert not scope_note(processes, requests=400).startswith("it starts a process")
