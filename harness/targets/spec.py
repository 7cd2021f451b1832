"""What to measure: a reference gateway variant, an already running URL, or a command to launch.

`target_from_args` turns the CLI's `--variant` / `--target-url` / `--launch` into one validated
`TargetSpec`; every measuring command (load, sweep, profile, validate) goes through it.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from urllib.parse import urlsplit

from harness.errors import UsageError
from harness.targets.headers import Headers
from harness.targets.tls import DEFAULT_TLS, TargetTls, check_insecure
from mock_salesforce.admin_client import AdminClient, AdminError
from mock_salesforce.admin_client import is_loopback as is_loopback  # the URL rules' own

DEFAULT_VARIANT = "async"
START_TIMEOUT_S = 30.0  # how long a started target has to get ready (`--start-timeout`)
REFERENCE_METRICS_PATH = "/metrics/performance"
_VARIANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_PYTHON = re.compile(r"^python[0-9.]*$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")  # NAME=VALUE, as `env` and shells take it
# The import line of a console script pip wrote: `from litellm import run_server`.
_ENTRY_IMPORT = re.compile(r"^from\s+([A-Za-z_]\w*)[\w.]*\s+import\s", re.MULTILINE)
_APP = re.compile(r"^([A-Za-z_][\w.]*):[A-Za-z_]\w*(\(.*\))?$")  # module:attr (not host:port)
# Programs that run an application named in their arguments: the label is the application's.
SERVERS = frozenset({"uvicorn", "gunicorn", "hypercorn", "daphne", "granian", "waitress-serve",
                     "flask", "quart", "fastapi"})  # fmt: skip
SHELLS = frozenset({"sh", "bash", "dash", "zsh"})
PREFIXES = frozenset({"exec", "nohup", "time"})  # run the rest of the line as it is
RUNNERS = frozenset({"poetry", "uv", "pipenv", "pdm", "hatch", "rye"})  # `X run CMD`
# Interpreters of other languages whose first non-option argument is the program (`node gw.js`,
# `deno run gw.ts`): the label is the script's, as for python, not `node` for every gateway.
SCRIPT_RUNNERS = frozenset({"node", "nodejs", "deno", "bun", "ruby", "perl", "php", "tsx",
                            "ts-node"})  # fmt: skip
# Package managers that run a script of the package.json beside them (`npm start`, `yarn dev`,
# `pnpm run serve`): the label is the package's name, not `npm` for every Node gateway (R20).
PACKAGE_MANAGERS = frozenset({"npm", "yarn", "pnpm"})
PACKAGE_EXECUTORS = frozenset({"npx", "pnpx", "bunx"})  # `npx tsx gw.ts`: what they run
_PACKAGE_DIR_OPTIONS = frozenset({"--prefix", "--cwd", "-C", "--dir"})  # npm, yarn, pnpm
_ENV_VALUED = frozenset({"-u", "--unset", "-C", "--chdir"})  # env options that take a value


@dataclass(frozen=True)
class TargetSpec:
    """Exactly one of `variant` or (`url` and/or `command`); `name` labels the target in records."""

    variant: str | None = None
    url: str | None = None
    command: str | None = None
    name: str = ""
    # Where the target reports on itself (`--target-metrics`): opt-in for a user's gateway,
    # `/metrics/performance` for the reference variants.
    metrics_path: str | None = None
    # Sent by every client sfperf runs against the target (`harness.targets.headers`); the
    # values are secrets, so the spec's repr leaves them out.
    headers: Headers = field(default=(), repr=False)
    start_timeout_s: float = START_TIMEOUT_S  # a started target's time to get ready
    tls: TargetTls = DEFAULT_TLS  # what every client trusts of an https target's certificate

    def __post_init__(self) -> None:
        if (self.variant is None) == (self.url is None and self.command is None):
            raise ValueError("a TargetSpec has either a variant or a url/command")
        if not self.name:
            object.__setattr__(self, "name", default_name(self))
        if self.metrics_path is None and self.variant is not None:
            object.__setattr__(self, "metrics_path", REFERENCE_METRICS_PATH)

    @property
    def kind(self) -> str:
        """`variant`, `url` (already running) or `launch` (a command, maybe with a fixed URL)."""
        if self.variant is not None:
            return "variant"
        return "launch" if self.command is not None else "url"

    def argv(self) -> list[str]:
        """The launch command split into arguments (shell syntax needs an explicit `sh -c`)."""
        return shlex.split(self.command) if self.command is not None else []


def default_name(spec: TargetSpec) -> str:
    """A short label: the variant, `launch:<program>`, or the URL's host:port."""
    if spec.variant is not None:
        return spec.variant
    if spec.command is not None:
        try:
            argv = shlex.split(spec.command)
        except ValueError:
            argv = spec.command.split()
        return f"launch:{program_name(argv)}"
    return urlsplit(spec.url or "").netloc or "url"


def program_name(argv: list[str]) -> str:
    """What a command runs: the program, or what a launcher runs (`python script.py`, `python -m
    pkg`, `uvicorn module:app`, `env X=1 ...`, `sh -c '...'`, `poetry run ...`): the script, the
    module or the application (every gateway would otherwise be `python`, `env` or `uvicorn`)."""
    if not argv:
        return "cmd"
    program, rest = PurePath(argv[0]).name, argv[1:]
    inner = launched_command(program, rest)
    if inner is not None:
        return program_name(inner) if inner else program
    if program in SERVERS:
        return application(rest) or program
    if program in PACKAGE_MANAGERS:
        return package_name(rest) or program
    if program in SCRIPT_RUNNERS:
        return script_name(rest) or program
    if not _PYTHON.match(program):
        return program
    return python_program_name(program, rest)


# Files an interpreter of another language runs, and a word that is an address, not a script.
SCRIPT_SUFFIXES = frozenset({".js", ".mjs", ".cjs", ".ts", ".mts", ".jsx", ".tsx", ".rb", ".pl",
                             ".pm", ".php"})  # fmt: skip
_ADDRESS = re.compile(r"^[\w.\-\[\]]*:\d+$|^\d+$")  # host:port, [::1]:port, a port


def script_name(arguments: list[str]) -> str:
    """The script an interpreter of another language runs (`deno run --allow-net gw.ts` ->
    gw, `php -S 127.0.0.1:8541 gw.php` -> gw): its first argument named like a script, else
    its first that is no option, subcommand word nor address (never a label made of an
    address: R127)."""
    words = [a for a in arguments if not a.startswith("-") and a not in ("run", "start")]
    scripts = [w for w in words if PurePath(w).suffix in SCRIPT_SUFFIXES]
    named = scripts or [w for w in words if not _ADDRESS.match(w)]
    return PurePath(named[0]).stem if named else ""


def launched_command(program: str, rest: list[str]) -> list[str] | None:
    """The command a launcher runs (`env`, a shell's `-c`, `exec`, `poetry run`...); [] when it
    names none, None when `program` is no launcher."""
    if program == "env":
        return env_command(rest)
    if program in SHELLS and "-c" in rest[:-1]:
        return last_command(rest[rest.index("-c") + 1])
    if program in PREFIXES:
        return list(itertools.dropwhile(lambda a: a.startswith("-"), rest))
    if program in RUNNERS and rest[:1] == ["run"]:
        return list(itertools.dropwhile(lambda a: a.startswith("-"), rest[1:]))
    if program in PACKAGE_EXECUTORS:
        return list(itertools.dropwhile(lambda a: a.startswith("-"), rest))
    return None


# Script stems that say nothing of the gateway (`node dist/index.js`): its package names it.
GENERIC_STEMS = frozenset({"index", "main", "server", "app", "start", "cli", "run", "dist"})


def package_name(arguments: list[str]) -> str:
    """What a package manager's script starts (`npm start`, `yarn --cwd srv dev`), from the
    package.json of the directory it runs in: the script its command runs (`node express_gw.js`
    -> express_gw), else the package's name (for `node dist/index.js`, `next start`); ''
    when neither is known."""
    directory, words = Path("."), iter(arguments)
    for word in words:
        option, _, value = word.partition("=")
        if option in _PACKAGE_DIR_OPTIONS:
            directory = Path(value or next(words, "."))
    try:
        manifest = json.loads((directory / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    if not isinstance(manifest, dict):
        return ""
    scripts = manifest.get("scripts")
    script = scripts.get(script_of(arguments)) if isinstance(scripts, dict) else None
    command = last_command(script) if isinstance(script, str) else []
    started = program_name(command) if command else ""
    if started and started not in GENERIC_STEMS and started != PurePath(command[0]).name:
        return started
    name = manifest.get("name")
    named = name.strip().rpartition("/")[2] if isinstance(name, str) else ""  # `@acme/gw` -> gw
    return named or started


def script_of(arguments: list[str]) -> str:
    """The package.json script a package manager's command line runs (`run dev` -> dev)."""
    words = [a for a in itertools.takewhile(lambda a: a != "--", arguments)
             if not a.startswith("-")]  # fmt: skip
    # A directory option's value is a word too: the script is the last word before `--`.
    words = [w for w in words if w not in ("run", "run-script")]
    return words[-1] if words else "start"


def env_command(arguments: list[str]) -> list[str]:
    """The command `env [OPTIONS] [NAME=VALUE]... COMMAND` runs: options taking a value (`-u
    NAME`, `-C DIR`) are skipped with it, `-S 'CMD ARGS'` is split."""
    words = iter(arguments)
    for word in words:
        if word in _ENV_VALUED:
            next(words, None)
        elif word in ("-S", "--split-string") or word.startswith("--split-string="):
            split = word.partition("=")[2] or next(words, "")
            return [*_split(split), *words]
        elif word == "--":
            return list(itertools.dropwhile(lambda a: bool(_ASSIGNMENT.match(a)), words))
        elif not (word.startswith("-") or _ASSIGNMENT.match(word)):
            return [word, *words]
    return []


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def last_command(script: str) -> list[str]:
    """The words of a shell line's last command (`echo ready; exec python app.py` -> python...)."""
    commands = [c for c in re.split(r";|&&|\|\||\n", script) if c.strip()]
    try:
        words = shlex.split(commands[-1]) if commands else []
    except ValueError:
        return []
    return list(itertools.dropwhile(lambda a: bool(_ASSIGNMENT.match(a)), words))


def application(arguments: list[str]) -> str:
    """The module of a server's application argument (`module:app`, flask's `--app module`,
    or a script: `fastapi run app/main.py`)."""
    for option, value in itertools.pairwise(["", *arguments]):
        if option == "--app" or option.startswith("--app="):
            return _module_of((option.partition("=")[2] or value).partition(":")[0])
        # A short option's value (`-b localhost:8000`, `-k uvicorn.workers:X`) is no application.
        if not option.startswith("-") or option.startswith("--"):
            found = _APP.match(value)
            if found or value.endswith(".py"):
                return found.group(1) if found else _module_of(value)
    return ""


def _module_of(name: str) -> str:
    return PurePath(name).stem if name.endswith(".py") else name


def python_program_name(program: str, rest: list[str]) -> str:
    """`python [options] (-m MODULE | SCRIPT | -c CODE)`: the module (a server's application),
    the script, or the interpreter."""
    for option, value in itertools.pairwise(rest):
        if option == "-m":
            if value in SERVERS:
                return application(rest[rest.index("-m") + 2 :]) or value
            return value
        if option == "-c":
            return program
    scripts = [a for a in rest if not a.startswith("-")]
    return PurePath(scripts[0]).stem if scripts else program


def gateway_packages(
    program: Sequence[str], read: Callable[[Path], str] | None = None
) -> list[str]:
    """The installed packages that are the gateway itself, from what a Python launch runs
    (`program`: after the interpreter): `-m MODULE`'s package, a console script's entry point
    package, a server's application module's; a server's own package is not the gateway."""
    if program[:1] == ["-m"] and len(program) > 1:
        module, arguments = program[1], list(program[2:])
    elif program:
        module, arguments = _entry_package(Path(program[0]), read or _head), list(program[1:])
    else:
        return []
    top = module.partition(".")[0]
    if top in SERVERS:
        top = application(arguments).partition(".")[0]
    return [top] if top else []


def _head(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(4096).decode("utf-8", "replace")
    except OSError:
        return ""


def _entry_package(script: Path, read: Callable[[Path], str]) -> str:
    """The package a console script imports its entry point from; '' for a script of the
    program's own (its files are not library code anyway)."""
    if script.suffix == ".py":
        return ""
    found = _ENTRY_IMPORT.search(read(script))
    return found.group(1) if found else ""


def target_from_args(
    variant: str | None,
    url: str | None,
    launch: str | None,
    *,
    name: str = "",
    default_variant: str | None = DEFAULT_VARIANT,
    allow_remote: bool = False,
    metrics_path: str | None = None,
    headers: Headers = (),
    start_timeout_s: float = START_TIMEOUT_S,
    tls: TargetTls = DEFAULT_TLS,
) -> TargetSpec:
    """Validate the target options; nothing given means the reference `default_variant`.
    `headers` go with every request to the target (`--target-header`), checked as `tls` says
    when it serves https (`--target-ca`, `--target-insecure`); a started one has
    `start_timeout_s` to get ready (`--start-timeout`)."""
    if variant is not None and (url is not None or launch is not None):
        raise UsageError("choose either --variant or --target-url/--launch, not both")
    if variant is None and url is None and launch is None:
        if default_variant is None:
            raise UsageError("no target: pass --variant, --target-url or --launch")
        variant = default_variant
    path = check_metrics_path(metrics_path) if metrics_path is not None else None
    wait_s = check_start_timeout(start_timeout_s)
    if variant is not None:
        return TargetSpec(variant=check_variant(variant), name=name, metrics_path=path,
                          headers=headers, start_timeout_s=wait_s)  # fmt: skip
    checked_url = check_url(url, allow_remote=allow_remote) if url is not None else None
    check_insecure(tls, checked_url, is_loopback(urlsplit(checked_url or "").hostname or ""))
    command = check_command(launch) if launch is not None else None
    return TargetSpec(url=checked_url, command=command, name=name, metrics_path=path,
                      headers=headers, start_timeout_s=wait_s, tls=tls)  # fmt: skip


def check_start_timeout(seconds: float) -> float:
    """`--start-timeout` is a positive number of seconds."""
    if not seconds > 0:
        raise UsageError(f"--start-timeout must be a positive number of seconds, not {seconds:g}")
    return seconds


def check_metrics_path(path: str) -> str:
    """`--target-metrics` is a path on the target, such as /metrics/performance."""
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise UsageError(f"bad --target-metrics {path!r}: expected a path such as /metrics")
    return path


def check_variant(variant: str) -> str:
    """A variant name must look like one (the gateway itself says whether it knows it)."""
    if not _VARIANT_NAME.match(variant):
        raise UsageError(f"bad --variant {variant!r}: expected a name such as 'async'")
    return variant


def check_url(url: str, *, allow_remote: bool = False, option: str = "--target-url") -> str:
    """An http(s) base URL with a host; loopback only unless `allow_remote`. Trailing / dropped.
    `option` names the flag in the error (the mock's URL is held to the same rule)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"bad {option} {url!r}: expected http://HOST:PORT")
    try:
        _ = parts.port
    except ValueError:
        raise UsageError(f"bad {option} {url!r}: the port is not a number 0-65535") from None
    if parts.query or parts.fragment:
        raise UsageError(f"bad {option} {url!r}: a base URL has no query or fragment")
    if not allow_remote and not is_loopback(parts.hostname):
        raise UsageError(
            f"{option} host {parts.hostname!r} is not loopback; load goes to 127.0.0.1 "
            "unless you explicitly allow remote targets (--allow-remote)"
        )
    return url.rstrip("/")


def check_mock_url(url: str, *, allow_remote: bool = False, option: str = "--mock-url") -> str:
    """`check_url`, and a mock that keeps one journal: sfperf reads a single journal, and a
    mock started with `--workers N` keeps one per process (the admin call lands on one of
    them), so every upstream call would look missing. A mock that cannot be asked is let by."""
    checked = check_url(url, allow_remote=allow_remote, option=option)
    try:
        workers = AdminClient(checked, timeout_s=5.0).health().get("workers", 1)
    except (AdminError, OSError, ValueError, TypeError, AttributeError, KeyError):
        return checked  # (no answer, or not the mock's: the steps that need it will say)
    if isinstance(workers, int) and workers > 1:
        raise UsageError(
            f"{option} {url}: that mock runs {workers} worker processes, each with its own "
            "journal, and sfperf reads one; start it without --workers"
        )
    return checked


def check_command(command: str) -> str:
    """A launch command must split into words whose program exists."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"bad --launch command {command!r}: {exc}") from None
    if not argv:
        raise UsageError("--launch needs a command")
    if is_assignment(argv[0]):
        raise UsageError(f"--launch {command!r} starts with an environment assignment, which is "
                         f"shell syntax: write it `env {command}`")  # fmt: skip
    if syntax := shell_syntax(command):
        raise UsageError(
            f"--launch {command!r} is a shell line ({syntax}), and --launch runs one program "
            f'without a shell: write it --launch "sh -c {shlex.quote(command)}", with `exec` '
            "before the gateway's own command (exec keeps the gateway the process sfperf "
            "stops and profiles), or give the script's path instead of a `cd`"
        )
    if shutil.which(argv[0]) is None:
        raise UsageError(f"--launch program {argv[0]!r} not found (or not executable)")
    return command


# Shell builtins that are no program (`cd gw && python app.py`), and the operators of a shell
# line: a list (`&&`, `||`, `;`, `&`), a pipe, a redirection, a subshell.
SHELL_BUILTINS = frozenset({"cd", "export", "source", ".", "set", "ulimit", "umask", "exec"})
_OPERATOR = re.compile(r"^[();<>|&]+$")


def shell_syntax(command: str) -> str:
    """What makes `command` a shell line rather than one program's words ("" for none): a
    builtin first word, or an operator outside quotes."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        return ""
    if words and words[0] in SHELL_BUILTINS:
        return f"`{words[0]}` is a shell builtin"
    operators = [w for w in words if _OPERATOR.match(w)]
    return f"`{operators[0]}`" if operators else ""


def is_assignment(word: str) -> bool:
    """True for `NAME=VALUE`: an environment assignment (shell syntax, not a program)."""
    return bool(_ASSIGNMENT.match(word))
