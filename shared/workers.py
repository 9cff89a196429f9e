"""Several worker processes serving one instance's port, each on its own listening socket (`SO_REUSEPORT`).

Why not uvicorn's own supervisor: it binds one socket and hands it to every worker, and an idle worker
accepts every connection waiting. Connections opened together (a bank gateway's keep-alive pool, a
load balancer's) then land mostly on one worker: 32 opened at once split anywhere from 15/17 to 0/32
(20 trials), which caps the instance at one process, one core. With a socket per worker the
kernel picks the socket for each new connection by a hash of its addresses, so they spread evenly and
no worker's speed at accepting matters.

The supervisor is small on purpose: it starts the workers, starts again one that dies (at most one
start a second, so a crash loop does not spin), and on SIGTERM or SIGINT passes the signal on and
waits for their graceful shutdown. A worker that finds its supervisor gone stops too, so no orphan
keeps serving the port after its instance was killed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE

from shared.logging import get_logger

RESTART_INTERVAL_S = 1.0        # a worker that died is started again at most this often
PARENT_CHECK_INTERVAL_S = 1.0   # how often a worker looks whether its supervisor is still there
SUPERVISE_TICK_S = 0.5

log = get_logger("workers")


# (family, type, protocol, address) of a TCP socket, as `socket.getaddrinfo` gives them
SocketAddress = tuple[socket.AddressFamily, socket.SocketKind, int, tuple[Any, ...]]


def _address(host: str, port: int) -> SocketAddress:
    """(family, type, protocol, address) of a listening TCP socket on host:port; a bad host raises here."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    return family, kind, proto, address


def _bound_socket(family: int, kind: int, proto: int, address: tuple[Any, ...], *, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to `address` (OSError when the port is taken for it)."""
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT of the last run is no owner
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def port_is_free(host: str, port: int) -> bool:
    """True when no socket listens on host:port. Checked without `SO_REUSEPORT`: with it, a stale instance
    of the same user would silently share the port with the new one instead of refusing it."""
    address = _address(host, port)
    try:
        _bound_socket(*address, reuse_port=False).close()
    except OSError:
        return False
    return True


def listening_socket(host: str, port: int) -> socket.socket:
    """This worker's own socket on the instance's port, shared with its siblings through `SO_REUSEPORT`."""
    return _bound_socket(*_address(host, port), reuse_port=True)


def _stop_when_orphaned(supervisor_pid: int) -> None:
    """A daemon thread's loop: SIGTERM to this worker (its graceful shutdown) once the supervisor is gone."""
    while os.getppid() == supervisor_pid:
        time.sleep(PARENT_CHECK_INTERVAL_S)
    os.kill(os.getpid(), signal.SIGTERM)


def serve_worker(build_app: Callable[[], ASGIApp], options: dict[str, Any], supervisor_pid: int) -> None:
    """One worker process: its own app (service, pool, consumer, relay candidate) on its own socket."""
    threading.Thread(target=_stop_when_orphaned, args=(supervisor_pid,), daemon=True, name="orphan-watch").start()
    app = build_app()
    server = uvicorn.Server(uvicorn.Config(app, **options))
    server.run(sockets=[listening_socket(options["host"], options["port"])])
    if not server.started:  # the app's startup failed: starting it again would fail the same way
        raise SystemExit(STARTUP_FAILURE)


class Supervisor:
    def __init__(self, workers: int, build_app: Callable[[], ASGIApp], options: dict[str, Any]):
        assert workers >= 1
        self.workers = workers
        self.build_app = build_app
        self.options = options
        self._context = multiprocessing.get_context("spawn")  # a fresh interpreter: no state forked mid-flight
        self._stopping = threading.Event()
        self._signal: int = signal.SIGTERM

    def _start(self) -> SpawnProcess:
        process = self._context.Process(target=serve_worker, args=(self.build_app, self.options, os.getpid()),
                                        name="http-worker")
        process.start()
        return process

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signal = signum
        self._stopping.set()

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; the exit code (non-zero when a worker could not start)."""
        if not port_is_free(self.options["host"], self.options["port"]):
            log.error("port_in_use", host=self.options["host"], port=self.options["port"])
            return STARTUP_FAILURE
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        processes = [self._start() for _ in range(self.workers)]
        log.info("workers_started", pids=[p.pid for p in processes])
        code, last_start = 0, time.monotonic()
        while not self._stopping.wait(SUPERVISE_TICK_S):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("worker_failed_to_start", pid=process.pid)
                    code = STARTUP_FAILURE
                    self._stopping.set()
                    break
                if time.monotonic() - last_start < RESTART_INTERVAL_S:
                    continue  # the next tick: at most one start a second
                log.warning("worker_died", pid=process.pid, exitcode=process.exitcode)
                processes[index], last_start = self._start(), time.monotonic()
        for process in processes:
            if process.is_alive() and process.pid is not None:  # alive: started, so it has its pid
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, self._signal)
        grace_s = self.options.get("timeout_graceful_shutdown") or 10
        for process in processes:
            process.join(grace_s + 5)
            if process.is_alive():
                process.kill()
                process.join()
        log.info("workers_stopped", code=code)
        return code
