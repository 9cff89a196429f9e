"""Proves the ports chosen for local systems (tests, bench, `make run` when its defaults are taken) lie
below the kernel's ephemeral range, so an outgoing connection cannot take a service's port in the
seconds before the service binds it, and that they are free to bind."""

from __future__ import annotations

import socket

from devtools.infra.ports import _ephemeral_start, free_port, free_port_run


def test_single_ports_are_below_the_ephemeral_range_and_bindable():
    for port in [free_port() for _ in range(20)]:
        assert 10_000 <= port < _ephemeral_start()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_run_of_ports_stays_below_the_ephemeral_range():
    for _ in range(20):
        base = free_port_run(4)
        assert 10_000 <= base and base + 4 <= _ephemeral_start()
