"""Free TCP ports on loopback, for tests and `make run` when the defaults are taken."""

import socket


def free_port(host: str = "127.0.0.1") -> int:
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
        if base + length < 65535 and not run & avoid and not any(port_is_open("127.0.0.1", p) for p in run):
            return base
    raise RuntimeError(f"no run of {length} free ports found")


def free_port_outside(avoid: set[int], attempts: int = 50) -> int:
    for _ in range(attempts):
        port = free_port()
        if port not in avoid:
            return port
    raise RuntimeError("no free port found")
