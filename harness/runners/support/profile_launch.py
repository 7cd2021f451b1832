"""What a profiled launch command runs: its Python interpreter and program, through `env` and
console scripts; what profiles it when it is not Python (R98)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from harness.errors import Unavailable
from harness.targets.spec import env_command


def target_interpreter(command: str) -> str:
    """The interpreter that runs a launch command (named in it, or a console script's shebang),
    resolved on PATH; `Unavailable` when pyinstrument cannot be imported there (the profile
    needs it in the target's own environment)."""
    interpreter, _ = python_launch(command)
    try:
        probe = subprocess.run([interpreter, "-c", "import pyinstrument"], capture_output=True,
                               timeout=60, check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"cannot run the target's interpreter {interpreter}: {exc}") from None
    if probe.returncode != 0:
        raise Unavailable(
            f"pyinstrument cannot be imported by the target's interpreter {interpreter}: "
            f"install it there to profile your gateway ({interpreter} -m pip install pyinstrument)"
        )
    return interpreter


def python_program(command: str) -> list[str]:
    """`python [-m MODULE | SCRIPT] ARGS` -> the part after the interpreter (a console script
    such as `uvicorn app:app` -> its file and ARGS); `Unavailable` for what is not Python
    (pyinstrument can only profile Python)."""
    return python_launch(command)[1]


def env_prefix(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the `env [OPTIONS] [NAME=VALUE]...` words, the command env runs) of a launch command;
    ([], argv) when it does not start with env (or env's `-S` rewrites the command)."""
    if not argv or Path(argv[0]).name != "env":
        return [], argv
    inner = env_command(argv[1:])
    cut = len(argv) - len(inner)
    return (argv[:cut], inner) if inner and argv[cut:] == inner else ([], argv)


def python_launch(command: str) -> tuple[str, list[str]]:
    """(interpreter, program) of a launch command (through `env ...`); `Unavailable` when it
    is not a Python one."""
    argv = env_prefix(shlex.split(command))[1]
    if argv and not Path(argv[0]).name.startswith("python"):
        script = shutil.which(argv[0])
        interpreter = shebang_python(Path(script)) if script else None
        if script and interpreter:
            return interpreter, [script, *argv[1:]]
    program = argv[1:]
    runnable = (program[:1] == ["-m"] and len(program) > 1) or (
        program[:1] != [] and program[0][0] != "-"
    )
    if not argv or not Path(argv[0]).name.startswith("python") or not runnable:
        raise Unavailable(not_python(command, argv))
    return shutil.which(argv[0]) or argv[0], program


# Programs of another language, and what profiles them (said where the profile is skipped, R98).
OTHER_PROFILERS = {name: "node --cpu-prof (V8's sampling profiler)" for name in
                   ("node", "nodejs", "npm", "npx", "yarn", "pnpm", "tsx", "ts-node")}  # fmt: skip


def not_python(command: str, argv: Sequence[str]) -> str:
    """Why pyinstrument cannot profile a launch command, and what would."""
    program = Path(argv[0]).name if argv else ""
    if program.startswith("python"):  # `python` alone or with options only: nothing to run
        return (f"pyinstrument profiles a Python program it runs, and {command!r} names none: "
                "launch it as 'python script.py ...' or 'python -m module ...'")  # fmt: skip
    other = OTHER_PROFILERS.get(program, "a profiler of its own language")
    return (
        f"pyinstrument profiles Python programs only, and {command!r} is not one (nor a "
        f"script whose #! line names python): nothing for sfperf to profile; use {other}"
    )


def shebang_python(script: Path) -> str | None:
    """The Python interpreter a script's `#!` line names (console scripts), else None."""
    try:
        with script.open("rb") as handle:
            first = handle.readline(512).decode("utf-8", "replace")
    except OSError:
        return None
    words = first[2:].split() if first.startswith("#!") else []
    if words[:1] and Path(words[0]).name == "env":
        words = words[1:]
    named = words[0] if words else ""
    return (shutil.which(named) or named) if Path(named).name.startswith("python") else None
