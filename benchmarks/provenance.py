"""Where a benchmark result comes from: the checkout measured and the machine it ran on.

Every report (`make bench`, `make bench-shadow`) names both, since a number means little without
them; and the command lines' default paths are inside the same checkout.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607  # git from PATH
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def git(*args: str) -> str:
    """`git -C REPO ARGS...`'s output: the bench's own repository, arguments it chose itself."""
    return subprocess.run(  # noqa: S603  # our own arguments
        ["git", "-C", str(REPO), *args],  # noqa: S607  # git from PATH
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, {os.cpu_count()} CPUs, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )
