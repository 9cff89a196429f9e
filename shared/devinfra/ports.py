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
