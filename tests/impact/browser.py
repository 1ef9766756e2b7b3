"""Headless Chromium (Debian's `chromium` package) for opening a report the way an analyst would.

Started with no network features, no sandbox (CI runs as root) and a fresh profile each time, so
a run never reaches out and never depends on a previous one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.delivery.tools import find_tool

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",  # let every data-URI image decode before the dump
)


# Debian's package first; the names other images ship the same engine under.
ALTERNATIVES = ("chromium-browser", "google-chrome")


def chromium_binary() -> Path:
    if shutil.which("chromium") is None:
        for name in ALTERNATIVES:
            found = shutil.which(name)
            if found:
                return Path(found)
    return find_tool("chromium")  # fails under CI=true, skips loudly elsewhere


def _chromium(arguments: list[str], page: Path) -> subprocess.CompletedProcess[str]:
    binary = chromium_binary()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [str(binary), *FLAGS, f"--user-data-dir={profile}", *arguments, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )


def dump_dom(page: Path) -> str:
    """The DOM after scripts ran, serialised."""
    return _chromium(["--dump-dom"], page).stdout


def screenshot(page: Path, out: Path, width: int, height: int) -> Path:
    _chromium([f"--screenshot={out}", f"--window-size={width},{height}"], page)
    return out
