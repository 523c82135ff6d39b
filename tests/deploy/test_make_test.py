"""`make test` runs the platform's suite and the reference server's, and fails if either fails.

The reference inference server (mlserver/) is a distribution of its own, with its own pytest
settings and no Django: its suite runs from its folder. A stand-in venv whose `python` records
how it was called and exits as told shows what the target runs and how it reads exit codes.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from drishtiksha.runner import BASE_DIR

MAKE_TIMEOUT_SECONDS = 120
# pytest's exit code when it collected no test.
NO_TESTS_COLLECTED = 5
STAND_IN_PYTHON = """#!/bin/sh
echo "$(pwd -P)|$*" >> "$CALLS"
case "$(pwd -P)" in
  */mlserver) exit "$MLSERVER_EXIT" ;;
  *) exit "$PLATFORM_EXIT" ;;
esac
"""


def _make_test(
    tmp_path: Path, *, platform: int, mlserver: int
) -> tuple[subprocess.CompletedProcess, list[str]]:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(STAND_IN_PYTHON)
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    # Newer than both pyproject files: the install step is up to date and does not run.
    (venv / ".installed-stamp").touch()
    calls = tmp_path / "calls"
    completed = subprocess.run(
        ["make", "-s", "-C", str(BASE_DIR), "test", f"VENV={venv}", "PYTEST_ARGS=tests/audit -q"],
        env={
            **os.environ,
            "CALLS": str(calls),
            "PLATFORM_EXIT": str(platform),
            "MLSERVER_EXIT": str(mlserver),
        },
        capture_output=True,
        text=True,
        timeout=MAKE_TIMEOUT_SECONDS,
        check=False,
    )
    return completed, calls.read_text().splitlines()


@pytest.mark.parametrize(
    ("platform", "mlserver", "expected"),
    [(0, 0, 0), (1, 0, 1), (0, 1, 1), (2, 1, 2), (NO_TESTS_COLLECTED, 0, 1), (0, 5, 1)],
)
def test_both_suites_run_and_the_first_failure_decides(tmp_path, platform, mlserver, expected):
    made, calls = _make_test(tmp_path, platform=platform, mlserver=mlserver)

    # make itself exits 2 when a recipe fails, and names the recipe's own exit code.
    assert (made.returncode == 0) == (expected == 0)
    if expected:
        assert f"Error {expected}" in made.stderr
    # The platform's suite with PYTEST_ARGS from the root; the server's suite from its folder,
    # with its own settings, even when the first one failed.
    assert calls == [f"{BASE_DIR}|-m pytest tests/audit -q", f"{BASE_DIR / 'mlserver'}|-m pytest"]
    collected_nothing = NO_TESTS_COLLECTED in (platform, mlserver)
    assert ("No tests were collected" in made.stdout) == collected_nothing
