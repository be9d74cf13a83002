"""The code checks, run with the tests (bash scripts/test, which CI runs): ruff's lint and format and
mypy's types, each with its settings in pyproject.toml, each failing with the tool's own report.

The three start at once (they are separate processes; mypy takes longest, and a second run reads its
cache in .mypy_cache/ and takes a second or two)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON_DIRS = ["src", "tests", "bench"]
CHECKS = {
    "ruff check": ["ruff", "check", *PYTHON_DIRS],
    "ruff format": ["ruff", "format", "--check", *PYTHON_DIRS],
    "mypy": ["mypy"],  # what it checks: [tool.mypy] files
}
TIMEOUT = 180  # a cold mypy run takes ~30 s on one core


def start(args: list[str], cwd: Path = ROOT) -> subprocess.Popen[str]:
    """`python -m <tool>` from the interpreter running the tests: the tools pinned in
    requirements/test.lock, in the same virtualenv."""
    return subprocess.Popen(
        [sys.executable, "-m", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"{' '.join(map(str, process.args))} did not finish in {TIMEOUT} s:\n{output}")
    return process.returncode, output


@pytest.fixture(scope="module")
def running() -> Iterator[dict[str, subprocess.Popen[str]]]:
    processes = {name: start(args) for name, args in CHECKS.items()}
    yield processes
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("name", list(CHECKS))
def test_code_passes(running: dict[str, subprocess.Popen[str]], name: str) -> None:
    status, output = finish(running[name])
    if "No module named" in output:
        pytest.fail(f"{name}: not installed (bash scripts/setup --test installs it):\n{output}")
    assert status == 0, f"`{' '.join(CHECKS[name])}` found problems (status {status}):\n{output}"


def test_mypy_settings_are_read(tmp_path: Path) -> None:
    """The settings bite: code they forbid fails. (Run from the repository, mypy reads pyproject.toml;
    were its [tool.mypy] lost, the test above would pass with mypy's lenient defaults.)"""
    sample = tmp_path / "sample.py"
    sample.write_text(
        textwrap.dedent(
            """
            def untyped(value):
                return value

            def optional(name: str = None) -> str:
                return name
            """
        )
    )
    status, output = finish(start(["mypy", str(sample)]))
    assert status == 1, output
    assert "[no-untyped-def]" in output, output  # disallow_untyped_defs
    assert "[assignment]" in output, output  # no_implicit_optional
