"""What readiness and `/metrics` say about the relay and the dead letters (architecture MUST 13: a stalled
relay says so).

The relay's lag is read from the database, so every replica says the same whether or not it leads: the
events stored after the relay's stored position. The relay is *stalled* when events wait and that
position has not moved for `relay_stall_after_s`, as this process saw it across its readiness checks
(no clock of the events is trusted: a test's or a replay's clock may be anywhere). A relay that is
publishing moves its position every round; one that cannot (the broker refuses, an event too large for
it, no replica able to lead) leaves it where it is while the lag stays.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_LAG = text("""
    SELECT (SELECT coalesce(max(position), 0) FROM event_store) AS head,
           coalesce((SELECT position FROM relay_position WHERE topic = :t), 0) AS position
""")


@dataclass(frozen=True)
class RelayLag:
    head: int        # the last stored event's position
    position: int    # the relay's stored position: published up to here

    @property
    def waiting(self) -> int:
        return max(0, self.head - self.position)


async def relay_lag(conn: AsyncConnection, topic: str) -> RelayLag:
    row = (await conn.execute(_LAG, {"t": topic})).one()
    return RelayLag(int(row.head), int(row.position))


class StallWatch:
    """Remembers since when the relay's position has stood still with events waiting."""

    def __init__(self, stall_after_s: float, clock: Callable[[], float] = time.monotonic):
        self.stall_after_s = stall_after_s
        self.clock = clock
        self._position: int | None = None
        self._since: float | None = None

    def unmoved_s(self, lag: RelayLag) -> float:
        """Seconds the position has stood still while events waited (0 when none wait or it just moved)."""
        now = self.clock()
        if lag.waiting == 0 or lag.position != self._position or self._since is None:
            self._position, self._since = lag.position, (now if lag.waiting else None)
            return 0.0
        return now - self._since

    def stalled(self, unmoved_s: float) -> bool:
        return unmoved_s >= self.stall_after_s


Sample = tuple[str, str, dict[str, str], float]   # (name, help, labels, value)


def metric_samples(service: str, checks: dict[str, str], health: dict[str, Any]) -> list[Sample]:
    """The readiness figures (`Service.readiness`) as samples for `/metrics`."""
    labels = {"service": service}
    relay, letters = health["relay"], health["dead_letters"]
    samples: list[Sample] = [
        ("ledger_ready", "1 when every readiness check is ok", labels, float(all(v == "ok" for v in checks.values()))),
        *(("ledger_check_ok", "1 when the readiness check is ok", {**labels, "check": name}, float(value == "ok"))
          for name, value in checks.items()),
        ("ledger_relay_leader", "1 when this process leads the relay", labels, float(relay["leader"])),
        ("ledger_relay_published_total", "events this process published", labels, relay["published_total"]),
        ("ledger_relay_blocked", "1 when the relay waits at an event too large to publish", labels,
         float(relay["blocked"] is not None)),
        ("ledger_dead_letters_sent_total", "dead letters this process sent to a dead-letter topic", labels,
         letters["sent_total"]),
        *(("ledger_consumer_messages_total", "messages consumed, by outcome", {**labels, "outcome": outcome}, count)
          for outcome, count in health["consumer"].items()),
    ]
    if "lag" in relay:   # read from the database: absent when it did not answer
        samples += [("ledger_relay_lag_events", "events stored and not yet published", labels, relay["lag"]),
                    ("ledger_relay_unmoved_seconds", "how long the relay position stood still with events waiting",
                     labels, relay["unmoved_s"]),
                    ("ledger_relay_stalled", "1 when the relay is stalled", labels, float(relay["stalled"]))]
    if "unsent" in letters:
        samples += [("ledger_dead_letters_unsent", "dead letters parked, not yet on the dead-letter topic", labels,
                     letters["unsent"]),
                    ("ledger_dead_letters_waiting", "dead letters not resolved by a redrive", labels,
                     letters["waiting"])]
    if "payment_queue" in health:
        queue = health["payment_queue"]
        samples += [("ledger_payment_queue_depth", "payments waiting for the group commit", labels, queue["depth"]),
                    ("ledger_payment_queue_refused_total", "payments refused with queue_full", labels,
                     queue["refused_total"])]
    return samples


def prometheus_text(samples: Iterable[Sample]) -> str:
    """The Prometheus text format (0.0.4) of (name, help, labels, value) samples; a name's help once, a
    name ending in `_total` a counter, any other a gauge."""
    lines, described = [], set()
    for name, help_text, labels, value in samples:
        if name not in described:
            described.add(name)
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        rendered = ",".join(f'{k}="{_escaped(v)}"' for k, v in sorted(labels.items()))
        lines.append(f"{name}{{{rendered}}} {value:g}" if rendered else f"{name} {value:g}")
    return "\n".join(lines) + "\n"


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
