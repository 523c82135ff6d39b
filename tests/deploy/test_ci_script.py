"""The install steps of `.ci/run` and `make run` wait for the dpkg lock instead of failing.

Another apt-get (unattended upgrades, a second job on the machine) holding the lock made CI fail
at once with "Could not get lock /var/lib/dpkg/lock-frontend". Every apt-get these scripts run is
given `DPkg::Lock::Timeout`, so it waits up to five minutes for the lock.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from drishtiksha.runner import BASE_DIR

LOCK_TIMEOUT_OPTION = "-o DPkg::Lock::Timeout=300"
SCRIPTS = [".ci/run", "scripts/ensure-system-tools.sh"]


def _apt_commands(script: str) -> list[str]:
    """Each apt-get command the script runs (comments and messages left out)."""
    commands = []
    for line in (BASE_DIR / script).read_text().splitlines():
        code = line.split("#", 1)[0]
        for match in re.finditer(r"(?<![\w-])apt-get\b[^;&|]*", code):
            # `command -v apt-get` asks whether it exists; echo/help text only names it.
            before = code[: match.start()]
            if re.search(r"command -v\s*$|echo\s+[\"'][^\"']*$|\bsudo\s+$", before):
                continue
            commands.append(match.group(0).strip())
    return commands


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_apt_get_waits_for_the_dpkg_lock(script):
    commands = _apt_commands(script)

    assert commands, f"{script} runs no apt-get at all"
    for command in commands:
        assert LOCK_TIMEOUT_OPTION in command, f"{script}: {command!r} fails on a held lock"


def test_the_ci_wrapper_is_what_installs_and_it_passes_its_arguments():
    """.ci/run installs through its `apt` wrapper; bash says what the wrapper runs."""
    script = (BASE_DIR / ".ci/run").read_text()
    wrapper = next(line for line in script.splitlines() if line.startswith("apt()"))
    installs = re.findall(
        r"^\s*(?:command -v \S+ >/dev/null \|\| )?(apt-get|apt) install", script, re.M
    )

    shown = subprocess.run(
        ["bash", "-c", f"{wrapper}\ntype apt"], capture_output=True, text=True, check=True
    ).stdout

    assert installs and set(installs) == {"apt"}
    assert f'apt-get {LOCK_TIMEOUT_OPTION} "$@"' in shown
