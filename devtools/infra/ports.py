"""Free TCP ports on loopback, for tests and `make run` when the defaults are taken."""

import random
import socket
from pathlib import Path

# Ports are chosen below the kernel's ephemeral range. A port the kernel hands out (bind to 0) is also
# one it may give any outgoing connection as its source port: a service binds its HTTP port only after
# its consumers joined their groups (~30 s after a restart on tansu), and in that window a connection
# to PostgreSQL or the broker took the port once and the restarted service died with EADDRINUSE.
_FIRST_PORT = 10_000
_ATTEMPTS = 200
# not the `random` module's state: tests seed it (hypothesis), and two runs must not pick alike
_PICK = random.SystemRandom()


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    end = _ephemeral_start()
    if end - _FIRST_PORT > 1_000:
        for _ in range(_ATTEMPTS):
            port = _PICK.randrange(_FIRST_PORT, end)
            if _bindable(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_port_free(host: str, port: int, timeout_s: float = 15.0) -> bool:
    """True once nothing listens on the port (a server we just stopped may still be closing it)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not port_is_open(host, port):
            return True
        time.sleep(0.1)
    return False


def free_port_run(length: int, avoid: set[int] = frozenset(), attempts: int = 50) -> int:
    """The first of `length` consecutive free ports (for `make run`-style base + index addressing)."""
    for _ in range(attempts):
        base = free_port()
        run = set(range(base, base + length))
        # the run stays on one side of the ephemeral range's start (below it unless free_port fell back)
        below = base >= _ephemeral_start() or base + length <= _ephemeral_start()
        if base + length < 65535 and below and not run & avoid and not any(port_is_open("127.0.0.1", p) for p in run):
            return base
    raise RuntimeError(f"no run of {length} free ports found")


def free_port_outside(avoid: set[int], attempts: int = 50) -> int:
    for _ in range(attempts):
        port = free_port()
        if port not in avoid:
            return port
    raise RuntimeError("no free port found")
