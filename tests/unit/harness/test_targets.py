"""Target specs: validation of --variant / --target-url / --launch, names, readiness lines."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.errors import UsageError
from harness.targets import DEFAULT_VARIANT, TargetSpec, health, target_from_args
from harness.targets.process import (
    bare_url,
    describe_exit,
    local_url,
    local_urls,
    poll_until,
    telling_line,
)
from harness.targets.running import (
    RunningTarget,
    announced_url,
    listened_url,
    refuse_a_served_port,
    safe_name,
    took_url,
)
from harness.targets.spec import is_loopback, program_name
from tests.conftest import FakeClock


def test_no_target_options_mean_the_default_reference_variant() -> None:
    spec = target_from_args(None, None, None)
    assert (spec.kind, spec.variant, spec.name) == ("variant", DEFAULT_VARIANT, DEFAULT_VARIANT)


def test_no_target_is_a_usage_error_when_there_is_no_default() -> None:
    with pytest.raises(UsageError, match="no target"):
        target_from_args(None, None, None, default_variant=None)


@pytest.mark.parametrize(("url", "launch"), [("http://127.0.0.1:8000", None), (None, "python -V")])
def test_a_variant_together_with_another_target_is_refused(
    url: str | None, launch: str | None
) -> None:
    with pytest.raises(UsageError, match="either --variant"):
        target_from_args("async", url, launch)


@pytest.mark.parametrize("variant", ["", "Async!", "../x", "-async"])
def test_a_malformed_variant_name_is_refused(variant: str) -> None:
    with pytest.raises(UsageError, match="bad --variant"):
        target_from_args(variant, None, None)


def test_a_url_target_drops_the_trailing_slash_and_is_named_by_host_and_port() -> None:
    spec = target_from_args(None, "http://127.0.0.1:8000/", None)
    assert (spec.kind, spec.url, spec.name) == ("url", "http://127.0.0.1:8000", "127.0.0.1:8000")


@pytest.mark.parametrize(
    "url",
    ["127.0.0.1:8000", "ftp://127.0.0.1", "http://", "http://127.0.0.1:99999", "http://[::1]/?q=1"],
)
def test_a_malformed_target_url_is_refused(url: str) -> None:
    with pytest.raises(UsageError, match="bad --target-url"):
        target_from_args(None, url, None)


def test_a_remote_target_url_needs_an_explicit_opt_in() -> None:
    with pytest.raises(UsageError, match="not loopback"):
        target_from_args(None, "http://gateway.example.com:8000", None)
    spec = target_from_args(None, "http://gateway.example.com:8000", None, allow_remote=True)
    assert spec.url == "http://gateway.example.com:8000"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("localhost", True),
     ("10.0.0.1", False), ("example.com", False), ("0.0.0.0", False)],
)  # fmt: skip
def test_loopback_hosts_are_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_launch_command_is_split_like_a_shell_would_and_named_by_its_program() -> None:
    spec = target_from_args(None, None, f"{sys.executable} -c 'print(1)'")
    assert spec.kind == "launch"
    assert spec.argv() == [sys.executable, "-c", "print(1)"]
    assert spec.name.startswith("launch:python")  # no script: the interpreter names it


def test_a_launch_command_may_come_with_the_fixed_url_it_listens_on() -> None:
    spec = target_from_args(None, "http://127.0.0.1:9000", "python -V", name="mine")
    assert (spec.kind, spec.url, spec.name) == ("launch", "http://127.0.0.1:9000", "mine")


@pytest.mark.parametrize(
    ("command", "message"),
    [("", "needs a command"), ("python 'unclosed", "bad --launch"),
     ("no-such-program-sfperf --x", "not found")],
)  # fmt: skip
def test_a_bad_launch_command_is_refused(command: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        target_from_args(None, None, command)


@pytest.mark.parametrize(
    ("command", "said"),
    [("cd gw && python app.py", "`cd` is a shell builtin"),
     (f"{sys.executable} app.py --port 8339 | tee gw.log", "`|`"),
     (f"{sys.executable} app.py > gw.log 2>&1", "`>`"),
     (f"{sys.executable} a.py; {sys.executable} b.py", "`;`")],
)  # fmt: skip
def test_a_shell_line_is_refused_with_the_sh_c_line_that_runs_it(command: str, said: str) -> None:
    with pytest.raises(UsageError) as refused:
        target_from_args(None, None, command)
    assert f"is a shell line ({said})" in str(refused.value)
    assert f"sh -c {shlex.quote(command)}" in str(refused.value)


def test_shell_operators_inside_quotes_are_the_programs_own_words() -> None:
    spec = target_from_args(None, None, "sh -c 'cd /tmp && exec python3 -m http.server 8000'")
    assert spec.argv()[:2] == ["sh", "-c"]


def test_a_spec_without_any_target_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="either a variant"):
        TargetSpec()
    with pytest.raises(ValueError, match="either a variant"):
        TargetSpec(variant="async", url="http://127.0.0.1:1")


@pytest.mark.parametrize(
    ("line", "url"),
    [("http://127.0.0.1:8181\n", "http://127.0.0.1:8181"),
     ("http://127.0.0.1:8181/", "http://127.0.0.1:8181"),
     ("serving on http://127.0.0.1:8181", None), ("", None)],
)  # fmt: skip
def test_our_servers_readiness_line_is_a_bare_url(line: str, url: str | None) -> None:
    assert bare_url(line) == url


@pytest.mark.parametrize(
    ("line", "url"),
    [(" * Running on http://127.0.0.1:5000 (Press CTRL+C to quit)", "http://127.0.0.1:5000"),
     ("======== Running on http://0.0.0.0:8080 ========", "http://127.0.0.1:8080"),
     ("INFO: Uvicorn running on http://localhost:8000", "http://localhost:8000"),
     ("calling https://api.salesforce.com/einstein", None),
     ("listening on http://[::]:9000", "http://[::1]:9000")],
)  # fmt: skip
def test_a_launched_program_is_ready_when_it_mentions_a_local_url(
    line: str, url: str | None
) -> None:
    assert local_url(line) == url


MOCK_URL = "http://127.0.0.1:39129"


def test_a_launched_gateway_that_prints_its_upstream_first_is_read_at_its_own_url() -> None:
    # R92: "upstream: <the mock>" came before "listening on ...", and the mock was probed.
    find = announced_url(MOCK_URL)
    assert find(f"upstream: {MOCK_URL}") is None
    assert find("upstream: http://localhost:39129/ (models)") is None
    assert find("listening on http://127.0.0.1:8372") == "http://127.0.0.1:8372"
    assert find(f"proxy {MOCK_URL} for http://0.0.0.0:8372") == "http://127.0.0.1:8372"


def test_a_url_with_a_salesforce_api_path_is_an_upstream_not_where_a_gateway_listens() -> None:
    line = "models at http://127.0.0.1:9000/einstein/platform/v1/models, login at "
    line += "http://127.0.0.1:9001/services/oauth2/token, serving http://127.0.0.1:8000"
    assert local_urls(line) == ["http://127.0.0.1:8000"]
    assert local_url("http://127.0.0.1:9000/einstein/platform/v1/models/x") is None


def test_of_the_urls_a_target_printed_the_one_whose_port_it_listens_on_is_taken() -> None:
    printed = ["http://127.0.0.1:6379", "http://127.0.0.1:8372"]
    assert listened_url(printed, ["0.0.0.0:8372", "127.0.0.1:9100"]) == "http://127.0.0.1:8372"
    assert listened_url(printed, []) == "http://127.0.0.1:6379"  # not listening yet: the first
    assert listened_url(["http://localhost"], ["127.0.0.1:80"]) == "http://localhost"


def test_the_url_read_from_a_targets_output_is_said() -> None:
    said = took_url("launched target 'gw'", "http://127.0.0.1:8372",
                    ["http://127.0.0.1:6379", "http://127.0.0.1:8372"], listens=True)  # fmt: skip
    assert said == ("launched target 'gw': measured at http://127.0.0.1:8372, read from its "
                    "output, where it listens (it also printed http://127.0.0.1:6379)")  # fmt: skip


def test_polling_stops_as_soon_as_the_target_is_ready() -> None:
    clock, answers = FakeClock(), iter([False, False, True])
    ready = poll_until(
        lambda: next(answers), timeout_s=5, alive=lambda: True, clock=clock, sleep=clock.sleep
    )
    assert ready and clock.now_s == pytest.approx(0.2)


def test_polling_gives_up_at_the_timeout_in_virtual_time() -> None:
    clock = FakeClock()
    ready = poll_until(
        lambda: False, timeout_s=3, alive=lambda: True, clock=clock, sleep=clock.sleep
    )
    assert not ready and clock.now_s == pytest.approx(3.0)


def test_polling_gives_up_when_the_process_died() -> None:
    clock = FakeClock()
    ready = poll_until(
        lambda: True, timeout_s=3, alive=lambda: False, clock=clock, sleep=clock.sleep
    )
    assert not ready


def test_the_last_log_line_is_quoted_shortened(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("starting\nerror: unknown variant 'foo'\n\n", encoding="utf-8")
    assert telling_line(log) == "error: unknown variant 'foo'"
    assert telling_line(log, limit_chars=5) == "error"
    assert telling_line(log.parent / "missing.log") == ""


def test_a_crashed_start_is_quoted_by_its_exception_line_not_a_closing_bracket(
    tmp_path: Path,
) -> None:
    log = tmp_path / "gunicorn.log"
    log.write_text(
        "[2026-12-04 23:01:02] [INFO] Starting gunicorn 23.0.0\n"
        "\nError: class uri 'gevent' invalid or not found: \n\n"
        "[Traceback (most recent call last):\n"
        '  File "ggevent.py", line 16, in <module>\n'
        "    from packaging.version import parse as parse_version\n"
        "ModuleNotFoundError: No module named 'packaging'\n]\n",
        encoding="utf-8",
    )
    assert telling_line(log) == "ModuleNotFoundError: No module named 'packaging'"
    log.write_text("starting\nError: class uri 'gevent' invalid\n]\n", encoding="utf-8")
    assert telling_line(log) == "Error: class uri 'gevent' invalid"
    log.write_text("starting\nlistening on nothing\n]\n", encoding="utf-8")
    assert telling_line(log) == "listening on nothing"


def test_target_names_become_safe_file_names() -> None:
    assert safe_name("launch:python3.11") == "launch-python3.11"
    assert safe_name("///") == "target"


def test_a_url_target_has_no_io_report() -> None:
    assert RunningTarget("t", "http://127.0.0.1:1").io_report() is None


@pytest.mark.parametrize(
    ("code", "text"),
    [(2, "exited with code 2"), (-15, "was killed by SIGTERM"), (-9, "was killed by SIGKILL"),
     (None, "did not exit")],
)  # fmt: skip
def test_exit_codes_are_described_for_people(code: int | None, text: str) -> None:
    assert describe_exit(code) == text


@pytest.mark.parametrize(
    ("argv", "name"),
    [(["/srv/venv/bin/python3.11", "-u", "/srv/app/gateway.py", "--port", "80"], "gateway"),
     (["python", "-m", "uvicorn", "app:api"], "app"), (["./gw", "--port", "9"], "gw"),
     (["python", "-c", "print(1)"], "python"), (["python"], "python"), ([], "cmd")],
)  # fmt: skip
def test_launched_programs_are_named_after_what_they_run(argv: list[str], name: str) -> None:
    assert program_name(argv) == name


@pytest.mark.parametrize(
    ("command", "name"),
    [("env PORT=8002 /v/bin/python async_endpoint_server.py", "async_endpoint_server"),
     ("/v/bin/uvicorn async_endpoint_server:app --port 8001", "async_endpoint_server"),
     ("/v/bin/gunicorn -w 3 -b localhost:8010 gunicorn_wsgi:app", "gunicorn_wsgi"),
     ("python -m hypercorn pkg.server:app --bind 127.0.0.1:9", "pkg.server"),
     ("sh -c 'echo listening on http://127.0.0.1:8030; exec python retry.py --port 8030'",
      "retry"),
     ("poetry run uvicorn svc.main:app", "svc.main"), ("flask --app hello run", "hello"),
     ("nohup env -i X=1 ./gw", "gw"), ("uvicorn --port 9", "uvicorn"), ("env", "env"),
     ("fastapi run app/main.py --port 9", "main"), ("flask --app srv.py run", "srv"),
     # From the program, never from env's own options (R39, R44) nor `node` for every gateway.
     ("env -u SFPERF_MOCK_URL node node_gw.js 8104", "node_gw"), ("node gw.js", "gw"),
     ("deno run --allow-net gw.ts", "gw"), ("env -S 'python gw.py --port 9'", "gw"),
     ("env -C /srv -u A X=1 python -m svc", "svc"), ("env -- X=1 ./gw", "gw"),
     # The script, never the address an option takes (R127).
     ("php -S 127.0.0.1:8541 gw.php", "gw"), ("php -S localhost:8541 -t public", "public"),
     ("node --inspect 9229 server/gw.mjs", "gw")],
)  # fmt: skip
def test_a_launcher_is_named_after_the_application_it_runs(command: str, name: str) -> None:
    assert program_name(shlex.split(command)) == name


@pytest.mark.parametrize(
    ("manifest", "command", "name"),
    [({"name": "node", "scripts": {"start": "node express_gw.js"}},
      "npm --prefix {dir} start -- --port 8445", "express_gw"),
     ({"name": "@acme/gateway", "scripts": {"dev": "node dist/index.js"}},
      "yarn --cwd {dir} dev", "gateway"),
     ({"name": "shop-gw", "scripts": {"start": "next start"}}, "npm --prefix={dir} start",
      "shop-gw"),
     ({"scripts": {"serve": "tsc && node dist/gw.js"}}, "pnpm -C {dir} run serve", "gw"),
     (None, "npm --prefix {dir} start", "npm")],
)  # fmt: skip
def test_a_package_managers_script_is_named_after_its_package(
    manifest: dict[str, object] | None, command: str, name: str, tmp_path: Path
) -> None:
    # R20: `npm start` labelled every Node gateway `launch:npm`.
    if manifest is not None:
        (tmp_path / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
    argv = shlex.split(command.format(dir=tmp_path))
    assert program_name(argv) == name


@pytest.mark.parametrize(
    ("command", "name"),
    [("npx tsx gw.ts --port 9", "gw"), ("npx -y my-gateway --port 9", "my-gateway"),
     ("uv run python -m svc.main", "svc.main"), ("bunx ts-node src/server.ts", "server")],
)  # fmt: skip
def test_a_package_executor_is_named_after_what_it_runs(command: str, name: str) -> None:
    assert program_name(shlex.split(command)) == name


def test_a_command_that_starts_with_an_environment_assignment_says_to_use_env() -> None:
    with pytest.raises(UsageError, match=r"environment assignment.*`env PORT=8002 python gw\.py`"):
        target_from_args(None, None, "PORT=8002 python gw.py")


def test_sfperf_launch_also_says_to_use_env_for_an_environment_assignment() -> None:
    from harness.commands.launch import child_argv

    with pytest.raises(UsageError, match=r"write the command as `env PORT=1 python gw\.py`"):
        child_argv(["--", "PORT=1", "python", "gw.py"])


def _answering(statuses: dict[str, int | None]) -> health.Get:
    """A fake GET: the status per path (None: nothing answers), recording nothing else."""

    def get(url: str, timeout_s: float, headers: Mapping[str, str]) -> tuple[int, bytes] | None:
        status = statuses[urlsplit(url).path]
        return None if status is None else (status, b"")

    return get


@pytest.mark.parametrize(
    ("statuses", "ready", "said"),
    [
        ({"/health": 200}, True, "GET /health answered 200"),
        # A gateway with only POST /v1/chat/completions is up: the probe is the real test (R41).
        ({"/health": 404}, True, "GET /health answered 404"),
        ({"/health": 503, "/v1/models": 404}, True, "GET /health answered 503, GET /v1/mod"),
        ({"/health": 503, "/v1/models": 502}, False, "GET /health answered 503, GET /v1/mod"),
        ({"/health": None}, False, "it answers no HTTP request"),
    ],
)
def test_a_target_is_ready_once_it_answers_http_with_anything_but_a_server_error(
    statuses: dict[str, int | None], ready: bool, said: str
) -> None:
    answer = health.readiness("http://127.0.0.1:8000/openai", get=_answering(
        {f"/openai{path}": status for path, status in statuses.items()}))  # fmt: skip
    assert answer.ready is ready and answer.describe().startswith(said)


@pytest.mark.parametrize("command", ["validate", "load", "sweep", "profile", "verdict"])
def test_every_command_that_launches_a_gateway_takes_a_start_timeout(command: str) -> None:
    from harness.cli import build_parser

    argv = [command, *(["steady"] if command == "load" else [])]
    args = build_parser().parse_args([*argv, "--launch", "python gw.py", "--start-timeout", "90"])
    assert args.start_timeout == 90.0


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan")])
def test_a_start_timeout_must_be_a_positive_number_of_seconds(seconds: float) -> None:
    with pytest.raises(UsageError, match="--start-timeout must be a positive number"):
        target_from_args(None, None, f"{sys.executable} gw.py", start_timeout_s=seconds)


def test_a_target_carries_its_start_timeout_and_has_thirty_seconds_by_default() -> None:
    launched = target_from_args(None, None, f"{sys.executable} gw.py", start_timeout_s=90.0)
    assert (launched.start_timeout_s, TargetSpec(url="http://127.0.0.1:1").start_timeout_s) == (
        90.0,
        30.0,
    )


def test_a_port_another_process_already_serves_is_refused_before_the_target_is_started() -> None:
    # R110: a stale instance on the port; the launched program failed to bind and exited, and
    # the stale one was probed in its place.
    with pytest.raises(UsageError, match=r"port 8442 of --target-url is already served by "
                       r"another process \(pid 4242 \("):  # fmt: skip
        refuse_a_served_port("http://127.0.0.1:8442", listeners=lambda port: [4242], wait_s=0)
    refuse_a_served_port("http://127.0.0.1:8442", listeners=lambda port: [], wait_s=0)
