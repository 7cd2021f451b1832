"""Every mock command line the docs show runs, and does what it names.

The lines come from README.md, mock_salesforce/README.md and both `--help` texts, so this test
follows the docs as they change. Each line is started as typed (record mode with its upstream
swapped for a loopback mock) and requests go to every endpoint. Then the mock's own journal is
replayed, request by request, through a runtime built straight from what the line names, with
this file's own statement of precedence (named before the profile; within each, the most
specific selector). Every request's quota verdict, fault and `latency_ms` must match exactly:
the check reads the journal, never a wall clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import shlex
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests

from harness.cli import main as sfperf_main
from mock_salesforce.cli import add_arguments, start_up_lines
from mock_salesforce.cli import main as mock_main
from mock_salesforce.config import ENDPOINTS, MockConfig, load_profile
from mock_salesforce.corpus import load_corpus
from mock_salesforce.effective import endpoint_views, served_models
from mock_salesforce.faults import parse_fault
from mock_salesforce.quotas import parse_quotas
from mock_salesforce.recording import parse_recording
from mock_salesforce.replies import expected_reply
from mock_salesforce.server import run_in_thread
from mock_salesforce.state import Runtime, build_runtime

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", ROOT / "mock_salesforce" / "README.md")
PROGS = {
    "python -m mock_salesforce": ["-m", "mock_salesforce"],
    "sfperf mock": ["-m", "harness.cli", "mock"],
}
# What the oracle below models; a documented line using another option fails loudly.
UNDERSTOOD = {"profile", "seed", "latency", "fault", "quota", "workers", "port", "quiet"}
RECORDING = {"record_from", "record_to", "keep_text", "port"}
GPT, ADA = "sfdc_ai__DefaultGPT4Omni", "sfdc_ai__DefaultOpenAITextEmbeddingAda_002"
TRAFFIC = {"generations": GPT, "chat-generations": GPT, "embeddings": ADA, "feedback": None}
SAMPLES = 8  # requests per endpoint; more where a named quota is small enough to run out
FORM = {"grant_type": "client_credentials", "client_id": "docs", "client_secret": "s"}
HEADERS = {"x-sfdc-app-context": "EinsteinGPT", "x-client-feature-id": "docs-test"}
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
ADMIN_READS = ("health", "journal", "config")


# --- the documented lines ------------------------------------------------------------------


def help_text(main: Callable[[Sequence[str]], int], *argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*argv, "--help"])
    return out.getvalue()


def command_lines(text: str) -> Iterator[str]:
    """Lines that start with a mock command (shell prompt and `# comment` dropped)."""
    for raw in text.splitlines():
        line = raw.strip().removeprefix("$ ").split(" #")[0].strip()
        if line.startswith(tuple(PROGS)):
            yield line


def shown_outputs(text: str) -> dict[tuple[str, ...], list[str]]:
    """A `$ COMMAND` line's options -> the lines shown after its URL line, up to the fence."""
    outputs: dict[tuple[str, ...], list[str]] = {}
    lines = text.splitlines()
    for index, raw in enumerate(lines):
        if raw.startswith("$ ") and raw[2:].startswith(tuple(PROGS)):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            outputs[tuple(split_line(raw[2:].strip())[1])] = lines[index + 2 : end]
    return outputs


def split_line(line: str) -> tuple[str, list[str]]:
    prog = next(p for p in PROGS if line.startswith(p))
    return prog, shlex.split(line[len(prog) :])


def documented_lines() -> list[str]:
    """Every documented mock command line, once per distinct set of options."""
    texts = [path.read_text() for path in DOCS]
    texts += [help_text(mock_main), help_text(sfperf_main, "mock")]
    lines: dict[tuple[str, ...], str] = {}
    for text in texts:
        for line in command_lines(text):
            lines.setdefault(tuple(split_line(line)[1]), line)
    return list(lines.values())


def parse(options: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(options)


def named_options(options: Sequence[str]) -> set[str]:
    defaults = parse([])
    return {k for k, v in vars(parse(options)).items() if v != getattr(defaults, k)}


LINES = documented_lines()
SHOWN = {k: v for path in DOCS for k, v in shown_outputs(path.read_text()).items()}
SERVING = [line for line in LINES if "--record-from" not in line]
RECORDING_LINES = [line for line in LINES if "--record-from" in line]


def test_the_docs_show_mock_command_lines_of_both_programs() -> None:
    assert SERVING and RECORDING_LINES and SHOWN
    assert {split_line(line)[0] for line in LINES} == set(PROGS)


# --- the oracle: what a line names, resolved by this file's own precedence ----------------


def first(layer: Mapping[str, Any], endpoint: str, model: str | None) -> Any:
    keys = (f"{endpoint}/{model}", model, endpoint, "*") if model else (endpoint, "*")
    return next((layer[k] for k in keys if k in layer), None)


def latency_item(spec: str) -> tuple[str, str]:
    head, eq, tail = spec.partition("=")
    return (head, tail) if eq and ":" not in head else ("*", spec)


def expected_config(args: argparse.Namespace) -> MockConfig:
    """The line's profile with what it names laid over: named before profile, specific first."""
    profile = load_profile(args.profile)
    assert not profile.faults, "this oracle knows documented profiles carry no faults"
    named = dict(latency_item(spec) for spec in args.latency)
    models = {k.split("/")[-1] for k in [*named, *profile.latency] if k not in ENDPOINTS}
    latency: dict[str, str] = {}
    for endpoint in ENDPOINTS:
        spec = first(named, endpoint, None) or first(profile.latency, endpoint, None)
        latency.update({endpoint: spec} if spec else {})
        for model in models & served_models(endpoint):
            by_model = first(named, endpoint, model) or first(profile.latency, endpoint, model)
            latency.update({f"{endpoint}/{model}": by_model} if by_model != spec else {})
    quotas = {k: v for spec in args.quota for k, v in parse_quotas(spec).items()}
    limits = {e: first(quotas, e, None) or first(profile.quotas_rpm, e, None) for e in TRAFFIC}
    return dataclasses.replace(
        profile,
        seed=profile.seed if args.seed is None else args.seed,
        latency=latency,
        faults=tuple(sorted(args.fault, key=fault_rank)),
        quotas_rpm={e: limit for e, limit in limits.items() if limit},
    )


def fault_rank(spec: str) -> int:
    rule = parse_fault(spec)
    return (0 if rule.models else 2) + (0 if rule.endpoints else 1)


# --- running a line and driving it ---------------------------------------------------------


@contextlib.contextmanager
def started(prog: str, options: Sequence[str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    argv = [sys.executable, *PROGS[prog], *options]
    pipe = subprocess.PIPE
    with subprocess.Popen(argv, stdout=pipe, stderr=pipe, text=True, cwd=cwd, env=ENV) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def read_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        process.kill()
        pytest.fail(f"no URL line: {url!r} {process.communicate(timeout=10)[1]!r}")
    return url


def stop(process: subprocess.Popen[str]) -> list[str]:
    """SIGTERM; the stdout lines after the URL. A clean stop exits 143 (128 + SIGTERM) and
    prints nothing on stderr but, from `sfperf mock`, the one line saying it was stopped."""
    assert process.stdout is not None and process.stderr is not None
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)
    # Read through the file objects: the URL's readline() may have buffered what follows it.
    rest, errors = process.stdout.read(), process.stderr.read()
    assert process.returncode == 128 + signal.SIGTERM
    assert errors in ("", "sfperf mock: stopped by SIGTERM\n")
    return rest.splitlines()


def body_of(endpoint: str, index: int) -> dict[str, Any]:
    text = f"documented line, request {index}"
    bodies: dict[str, dict[str, Any]] = {
        "generations": {"prompt": text},
        "chat-generations": {"messages": [{"role": "user", "content": text}]},
        "embeddings": {"input": [text]},
        "feedback": {"id": f"fb-{index}", "generationId": "g-1", "feedback": "GOOD"},
    }
    return bodies[endpoint]


def path_of(endpoint: str) -> str:
    model = TRAFFIC[endpoint]
    if model is None:
        return "/einstein/platform/v1/feedback"
    return f"/einstein/platform/v1/models/{model}/{endpoint}"


def planned(config: MockConfig) -> list[tuple[str, int]]:
    """(endpoint, index) of every request: SAMPLES each, or past a quota of up to 200."""
    plan = []
    for endpoint in TRAFFIC:
        limit = config.quotas_rpm.get(endpoint)
        count = limit + 2 if limit is not None and limit <= 200 else SAMPLES
        plan += [(endpoint, index) for index in range(count)]
    return plan


async def drive(url: str, config: MockConfig, workers: int) -> dict[str, Any]:
    """Tokens, then every planned request at once; then the admin's health, journal, config.

    With several workers, one connection keeps everything on one worker (and in order)."""
    connector = aiohttp.TCPConnector(limit=1 if workers > 1 else 100)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
        tokens = await asyncio.gather(*(token_of(session) for _ in range(3)))
        headers = {**HEADERS, "Authorization": f"Bearer {tokens[0]}"}
        await asyncio.gather(*(send(session, headers, e, i) for e, i in planned(config)))
        if workers > 1:
            return await read_admin(session)
    async with aiohttp.ClientSession(url, timeout=timeout) as admin:
        return await read_admin(admin)


async def read_admin(session: aiohttp.ClientSession) -> dict[str, Any]:
    return {name: await get_json(session, f"/__admin/{name}") for name in ADMIN_READS}


async def token_of(session: aiohttp.ClientSession) -> str:
    async with session.post("/services/oauth2/token", data=FORM) as response:
        return str((await response.json())["access_token"])


async def send(
    session: aiohttp.ClientSession, headers: dict[str, str], endpoint: str, index: int
) -> None:
    body = json.dumps(body_of(endpoint, index)).encode()
    async with session.post(path_of(endpoint), data=body, headers=headers) as response:
        await response.read()


async def get_json(session: aiohttp.ClientSession, path: str) -> Any:
    async with session.get(path) as response:
        assert response.status == 200
        return await response.json()


# --- the replay ------------------------------------------------------------------------------


def replay(entries: Sequence[dict[str, Any]], oracle: Runtime) -> Counter[str]:
    """Walk the journal in arrival order through `oracle`; every verdict must agree.
    Returns how often each named fault fired and how many requests a quota turned away."""
    bodies = {sha(body_of(e, i)): (e, body_of(e, i)) for e, i in planned(oracle.config)}
    hits: Counter[str] = Counter()
    for entry in sorted(entries, key=lambda e: int(e["seq"])):
        endpoint = entry["endpoint"]
        assert endpoint == "token" or entry["token_status"] == "valid", entry
        quotas = oracle.quotas
        if endpoint != "token" and quotas and not quotas.admit(endpoint, entry["t_s"]):
            assert (entry["status"], entry["fault"]) == (429, None), entry
            hits["quota"] += 1
            continue
        hits.update(replay_fault(entry, oracle))
        tokens = completion_tokens(oracle, bodies.get(entry["body_sha256"]))
        expected_ms = oracle.sample_latency_ms(endpoint, entry["model"] or "", tokens)
        # The journal rounds latency_ms to the microsecond.
        assert entry["latency_ms"] == pytest.approx(expected_ms, abs=0.0005), entry
    return hits


def replay_fault(entry: dict[str, Any], oracle: Runtime) -> list[str]:
    """The fault `oracle` picks for this request must be the journaled one: [its rule] or []."""
    plan, model = oracle.faults, entry["model"] or ""
    fault = plan.decide(entry["endpoint"], model, entry["seq"], entry["t_s"]) if plan else None
    assert entry["fault"] == (fault.label if fault else None), entry
    if fault is None:
        return []
    assert entry["retry_after_s"] == fault.retry_after_s, entry
    return [fault.rule]


def completion_tokens(oracle: Runtime, sent: tuple[str, dict[str, Any]] | None) -> int:
    if sent is None or sent[0] == "feedback":
        return 0
    reply = expected_reply(oracle.config.seed, sent[0], sent[1], oracle.mix, oracle.lengths)
    return reply.completion_tokens


def sha(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("line", SERVING, ids=SERVING)
def test_a_documented_line_applies_the_latency_faults_and_quotas_it_names(
    line: str, tmp_path: Path
) -> None:
    prog, options = split_line(line)
    assert named_options(options) <= UNDERSTOOD, "teach this test's oracle the new option"
    args = parse(options)
    expected = expected_config(args)
    with started(prog, options, tmp_path) as process:
        seen = asyncio.run(drive(read_url(process), expected, args.workers))
        printed = stop(process)
    oracle = build_runtime(expected, load_corpus(), seen["health"]["instance"])
    assert printed == ([] if args.quiet else start_up_lines(expected, args.workers))
    assert printed == SHOWN.get(tuple(options), printed), "the docs show other start-up lines"
    views = {view.endpoint: view.as_dict() for view in endpoint_views(oracle)}
    assert seen["config"]["effective"] == views
    hits = replay(seen["journal"]["entries"], oracle)
    assert all(hits.get(spec) for spec in args.fault), f"a named fault never fired: {hits}"
    small = [e for e, q in expected.quotas_rpm.items() if q <= 200 and e in TRAFFIC]
    assert not small or hits.get("quota"), "a quota of 200/min or less was never exhausted"


@pytest.mark.parametrize("line", RECORDING_LINES)
def test_a_documented_record_mode_line_records_what_passes_through(
    line: str, tmp_path: Path
) -> None:
    prog, options = split_line(line)
    assert named_options(options) <= RECORDING
    args = parse(options)
    with run_in_thread(load_profile("fast")) as upstream:
        # The documented upstream is swapped for a loopback mock: tests send nothing elsewhere.
        options[options.index("--record-from") + 1] = upstream.url
        with started(prog, options, tmp_path) as process:
            url = read_url(process)
            token = requests.post(url + "/services/oauth2/token", data=FORM, timeout=10).json()
            headers = {**HEADERS, "Authorization": f"Bearer {token['access_token']}"}
            body = body_of("chat-generations", 0)
            chat = requests.post(
                url + path_of("chat-generations"), headers=headers, json=body, timeout=10
            )
            assert stop(process) == []  # record mode prints its URL alone
    assert chat.status_code == 200
    recording = parse_recording((tmp_path / args.record_to).read_text())
    assert recording is not None
    assert [e["endpoint"] for e in recording["entries"]] == ["token", "chat-generations"]
