"""Debian's Chromium for the back office's browser tests: `python -m devtools.browser` finds it, installing
the `chromium` package with apt-get when it is missing (`make test` runs this first). Playwright's own
browser download is never used: these machines reach the package registries only.

Exits non-zero, saying why, when there is no browser and it cannot be installed: the browser tests then
fail, never skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# the package's real binary first: Debian's /usr/bin/chromium is a wrapper script that warns about flags
CANDIDATES = (Path("/usr/lib/chromium/chromium"), Path("/usr/bin/chromium"))
INSTALL_TIMEOUT_S = 600


def chromium() -> Path | None:
    named = os.environ.get("LEDGER_CHROMIUM")
    if named:
        return Path(named) if Path(named).exists() else None
    return next((path for path in CANDIDATES if path.exists()), None)


def ensure_chromium() -> Path:
    found = chromium()
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError("Chromium is not installed and there is no apt-get to install it: install Debian's "
                           "`chromium` package, or name a Chromium binary in LEDGER_CHROMIUM")
    command = [apt, "install", "-y", "--no-install-recommends", "chromium"]
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise RuntimeError("Chromium is not installed; installing it needs root: "
                               "`sudo apt-get install -y chromium`")
        command = ["sudo", "-n", *command]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    if done.returncode != 0:   # the package lists may be stale on a fresh machine: refresh once, then retry
        subprocess.run([*command[:-3], "update"] if command[0] == "sudo" else [apt, "update"], env=env,
                       capture_output=True, timeout=INSTALL_TIMEOUT_S)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    found = chromium()
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"installing Chromium failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return found


def main() -> None:
    try:
        print(f"chromium: {ensure_chromium()}")
    except RuntimeError as exc:
        print(f"no browser for the back office's tests: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
