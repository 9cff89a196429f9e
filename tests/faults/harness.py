"""The fault harness: a seeded schedule of faults, a seeded burst of commands, and the promises checked
afterwards on each service's own store.

Everything random comes from one `random.Random(seed)`: the same seed gives the same faults in the same
order and the same commands with the same amounts, so a failing seed replays. (Wall-clock timing still
differs from run to run: a replay brings back the schedule, not every interleaving.)
"""

from __future__ import annotations

import asyncio
import json
import queue
import random
import secrets
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx

from devtools.infra.runner import LocalSystem
from ledger_cli.audit import verify_service
from shared.auth import Role, token_hash
from shared.migrate import SERVICES
from shared.topics import all_topics, ensure_topics
from tests.support import on_free_ports, portfolio_contracts

CONSUMERS = ("invoicing", "metering", "claims")
RETRY_STATUSES = {502, 503, 504}
RETRY_REASONS = {"concurrency_conflict", "idempotency_key_in_progress"}
# the first attempt committed but its answer was lost (a process killed in between): the key says so, it
# never runs the command again; what it did is read back from the ledger
OUTCOME_UNKNOWN = "idempotency_outcome_unknown"
IDEMPOTENCY_RUNNING_TIMEOUT_S = 15   # how long a key stays in progress before its outcome is called unknown


# ---- the schedule of faults ----------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    pause_s: float         # after the previous fault's recovery: a restart's own time must not eat the gaps
    action: str            # "kill" (SIGKILL, then start again), "restart_postgres", "restart_broker"
    target: str | None = None


def fault_schedule(seed: int, kills: int, pause_s: tuple[float, float] = (3.0, 6.0)) -> list[Fault]:
    """`kills` SIGKILLs of a random service a few seconds apart, PostgreSQL crashed once in the first
    half of the sequence and the broker restarted once in the second."""
    assert kills >= 2
    rng = random.Random(seed)
    faults = [Fault(round(rng.uniform(*pause_s), 2), "kill", rng.choice(SERVICES)) for _ in range(kills)]
    postgres_at = rng.randint(1, kills // 2)
    broker_at = rng.randint(kills // 2 + 1, kills)
    faults.insert(broker_at, Fault(round(rng.uniform(*pause_s), 2), "restart_broker"))
    faults.insert(postgres_at, Fault(round(rng.uniform(*pause_s), 2), "restart_postgres"))
    return faults


# ---- the commands -----------------------------------------------------------------------------------
@dataclass
class Command:
    kind: str              # "payment", "reversal", "application", "readings"
    service: str
    path: str
    key: str               # what identifies it to the checks: a bank reference, contract/day, a file name
    contract_id: str
    json: dict | None = None
    content: bytes | None = None
    params: dict | None = None
    # every attempt carries the same Idempotency-Key: a retry after a lost answer gets the first answer
    idempotency_key: str = ""
    # a reversal: the payment it takes back (sent once that payment is acknowledged), and the second
    # person's approval (four eyes), sent after the request with a key of its own
    after: str | None = None


@dataclass(frozen=True)
class Contract:
    contract_id: str
    meters: tuple[str, ...]


def workload(seed: int, contracts: list[Contract], count: int, year: int = 2022) -> list[Command]:
    """`count` commands in a seeded mix: half payments, one in twenty a reversal of an earlier payment (asked
    for by one person, approved by another), the rest applications and readings files. Each application is
    for a day not applied for yet and each file for a day not read yet, so every acknowledged command must
    leave exactly its events behind."""
    rng = random.Random(seed * 7919 + 1)
    next_day = Counter()      # per contract: applications so far
    next_read = Counter()     # per contract: readings files so far
    reversible: list[Command] = []   # payments no reversal takes back yet
    commands = []
    for n in range(count):
        contract = rng.choice(contracts)
        draw = rng.random()
        if draw < 0.05 and reversible:
            paid = reversible.pop(rng.randrange(len(reversible)))
            commands.append(Command("reversal", "invoicing", f"/payments/{paid.key}/reverse", f"REV-{paid.key}",
                                    paid.contract_id, json={"contract_id": paid.contract_id,
                                                            "reason": "posted to the wrong contract",
                                                            "reversed_on": f"{year}-03-15"},
                                    idempotency_key=f"chaos-{seed}-{n:06d}", after=paid.key))
        elif draw < 0.5:
            tiyn = rng.randint(1, 50_000_000)   # up to 500,000.00 KZT
            amount = f"{Decimal(tiyn) / 100:.2f}"
            reference = f"CHAOS-{seed}-{n:06d}"
            commands.append(Command("payment", "invoicing", "/payments", reference, contract.contract_id, json={
                "contract_id": contract.contract_id, "bank_reference": reference,
                "amount": {"amount": amount, "currency": "KZT"}, "received_on": f"{year}-02-{rng.randint(1, 28):02d}",
                "purpose": f"chaos payment {n}"}, idempotency_key=f"chaos-{seed}-{n:06d}"))
            reversible.append(commands[-1])
        elif draw < 0.75:
            ordinal = next_day[contract.contract_id]
            next_day[contract.contract_id] += 1
            day = _day_of_year(year, ordinal)
            hours = [str(rng.randint(0, 3)) for _ in range(24)]
            commands.append(Command("application", "contracts", f"/contracts/{contract.contract_id}/applications",
                                    f"{contract.contract_id}/{day}", contract.contract_id, json={
                                        "day": day, "hours_kwh": hours,
                                        "submitted_at": f"{year - 1}-12-20T09:00:00+06:00"},
                                    idempotency_key=f"chaos-{seed}-{n:06d}"))
        else:
            ordinal = next_read[contract.contract_id]
            next_read[contract.contract_id] += 1
            day = _day_of_year(year, ordinal)
            # registers grow a little each day, so every file is valid and different from the others
            lines = ["meter_serial,read_at,register_kwh"] + [
                f"{serial},{day}T00:00:00+06:00,{1000 + ordinal + rng.randint(0, 99) / 10_000:.4f}"
                for serial in contract.meters]
            name = f"chaos-{seed}-{n:06d}.csv"
            commands.append(Command("readings", "metering", "/readings/import", name, contract.contract_id,
                                    content=("\n".join(lines) + "\n").encode(),
                                    params={"format": "csv", "file_name": name},
                                    idempotency_key=f"chaos-{seed}-{n:06d}"))
    return commands


def _day_of_year(year: int, ordinal: int) -> str:
    from datetime import date, timedelta

    return (date(year, 1, 1) + timedelta(days=ordinal % 365)).isoformat()


# ---- the system under test ----------------------------------------------------------------------
class ChaosSystem(LocalSystem):
    """`make run`'s system with secrets worth leaking: random tokens, and a database password in every
    service's URL (PostgreSQL trusts local connections, so the password is carried but never needed)."""

    db_password: str = ""
    fuzz_token: str = ""   # every role at once, so a fuzzed request is judged on its content, not refused at the door

    def service_env(self, service: str) -> dict[str, str]:
        env = super().service_env(service)
        name = f"{service.upper()}_TOKENS"
        grants = json.loads(env[name])
        grants[token_hash(self.fuzz_token)] = {"actor": "fuzzer", "roles": [role.value for role in Role]}
        env[name] = json.dumps(grants)
        # a killed request's key is not held for the default hour: the burst retries within two minutes
        env[f"{service.upper()}_IDEMPOTENCY_RUNNING_TIMEOUT_S"] = str(IDEMPOTENCY_RUNNING_TIMEOUT_S)
        return env

    def database_url(self, service: str) -> str:
        url = super().database_url(service)
        return url.replace("@", f":{self.db_password}@", 1)   # after the user name: the first "@"

    def secrets(self) -> list[str]:
        return [self.db_password, self.fuzz_token, *self.tokens.values()]


def chaos_system(data_dir: Path, partitions: int = 3) -> ChaosSystem:
    system = on_free_ports(ChaosSystem, data_dir, partitions=partitions, database_prefix="chaos",
                           tokens={role: f"{role}-{secrets.token_urlsafe(24)}" for role in
                                   ("operator", "approver", "auditor", "admin")})
    system.db_password = f"pw-{secrets.token_urlsafe(24)}"
    system.fuzz_token = f"fuzz-{secrets.token_urlsafe(24)}"
    return system


def operator(system: LocalSystem) -> dict[str, str]:
    return {"Authorization": f"Bearer {system.tokens['operator']}"}


def approver(system: LocalSystem) -> dict[str, str]:
    """A second person at every desk: approves what the operator asks for (four eyes)."""
    return {"Authorization": f"Bearer {system.tokens['approver']}"}


def sql(system: LocalSystem, service: str, statement: str) -> list[list[str]]:
    out = system.postgres.execute(f"{system.database_prefix}_{service}", statement)
    return [line.split("|") for line in out.splitlines() if line]


def open_accounts(system: LocalSystem, count: int, year: int = 2022) -> list[Contract]:
    """`count` signed contracts (KEGOC's shapes, distinct meters), known to every consumer, each with
    a prepayment demand for February so payments have debts to settle before the rest is advance."""
    portfolio = portfolio_contracts(year)[:count]
    response = httpx.post(f"{system.url_of('contracts')}/contracts/import", json={"contracts": portfolio},
                          headers=operator(system), timeout=60)
    response.raise_for_status()
    ids = [row["contract_id"] for row in response.json()["imported"]]
    contracts = [Contract(cid, tuple(p["meter"]["serial"] for p in terms["terms"]["delivery_points"]))
                 for cid, terms in zip(ids, portfolio, strict=True)]
    wait_for(lambda: int(sql(system, "invoicing", "SELECT count(*) FROM accounts")[0][0]) == count
             and int(sql(system, "metering", "SELECT count(DISTINCT contract_id) FROM meters")[0][0]) == count,
             60, "accounts and meters of the imported contracts")
    for contract in contracts:
        httpx.post(f"{system.url_of('invoicing')}/accounts/{contract.contract_id}/prepayments",
                   json={"period": f"{year}-02", "requested_on": f"{year}-01-20"}, headers=operator(system),
                   timeout=30).raise_for_status()
    return contracts


def wait_for(check, timeout_s: float, what: str, interval_s: float = 0.5) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if check():
                return time.monotonic() - started
        except Exception:  # a process or the database still coming back
            pass
        time.sleep(interval_s)
    raise AssertionError(f"{what}: not reached in {timeout_s}s")


# ---- running the burst and the faults -----------------------------------------------------------
@dataclass
class Outcome:
    acknowledged: dict[str, dict] = field(default_factory=dict)   # key → answer
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    unanswered: list[str] = field(default_factory=list)           # gave up retrying: the outcome is unknown
    attempts: int = 0
    retries: int = 0
    statuses: Counter = field(default_factory=Counter)          # every answer's status ("no answer" too)
    latencies_ms: list[tuple[float, float]] = field(default_factory=list)   # (seconds into the run, ms)
    lock: threading.Lock = field(default_factory=threading.Lock)


def run_commands(system: LocalSystem, commands: list[Command], rate_per_s: float, stop: threading.Event,
                 workers: int = 4, give_up_after_s: float = 120) -> Outcome:
    """Send the commands at about `rate_per_s` until `stop`, each retried with the same content (so with
    the same bank reference) until it is answered: a client that cannot tell whether its request
    committed. A command not yet sent at `stop` is never sent."""
    outcome = Outcome()
    work: queue.Queue[tuple[float, Command] | None] = queue.Queue()
    started = time.monotonic()
    for index, command in enumerate(commands):
        work.put((started + index / rate_per_s, command))
    for _ in range(workers):
        work.put(None)

    def worker() -> None:
        with httpx.Client(timeout=10, headers=operator(system)) as client, \
                httpx.Client(timeout=10, headers=approver(system)) as second:
            while (item := work.get()) is not None and not stop.is_set():
                due, command = item
                time.sleep(max(0.0, due - time.monotonic()))
                if stop.is_set():
                    return
                if command.after is not None and not _answered(outcome, command.after, stop, give_up_after_s):
                    continue   # its payment was refused or never answered: nothing to take back
                answer = _send(system, client, command, outcome, started, give_up_after_s)
                if command.kind == "reversal" and answer is not None:
                    # four eyes: the second person approves the request, under a key of its own
                    approval = Command("approval", "invoicing", f"/approvals/{answer[0]['request_id']}/approve",
                                       f"APPROVE-{command.key}", command.contract_id,
                                       idempotency_key=f"{command.idempotency_key}-approval")
                    _send(system, second, approval, outcome, started, give_up_after_s)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def _answered(outcome: Outcome, key: str, stop: threading.Event, give_up_after_s: float) -> bool:
    """Wait (bounded) until the command `key` is answered; whether it was acknowledged."""
    deadline = time.monotonic() + give_up_after_s
    while time.monotonic() < deadline and not stop.is_set():
        with outcome.lock:
            if key in outcome.acknowledged:
                return True
            if key in outcome.refused or key in outcome.unanswered:
                return False
        time.sleep(0.2)
    return False


def _send(system, client: httpx.Client, command: Command, outcome: Outcome, started: float,
          give_up_after_s: float) -> dict | list | None:
    """The command's acknowledged answer (None: refused or unanswered)."""
    deadline = time.monotonic() + give_up_after_s
    first = True
    while time.monotonic() < deadline:
        sent = time.monotonic()
        with outcome.lock:
            outcome.attempts += 1
            outcome.retries += 0 if first else 1
        first = False
        try:
            response = client.post(system.url_of(command.service) + command.path, json=command.json,
                                   content=command.content, params=command.params,
                                   headers={"Idempotency-Key": command.idempotency_key} if command.idempotency_key
                                   else None)
        except httpx.HTTPError:
            with outcome.lock:
                outcome.statuses["no answer"] += 1
            time.sleep(0.3)
            continue
        with outcome.lock:
            outcome.statuses[response.status_code] += 1
        reason = _reason(response)
        if response.status_code in RETRY_STATUSES or reason in RETRY_REASONS:
            time.sleep(0.3)
            continue
        answer = response.json() if response.is_success else None
        if reason == OUTCOME_UNKNOWN:
            answer = _read_back(system, client, command)
        with outcome.lock:
            if answer is not None:
                outcome.acknowledged[command.key] = answer
                outcome.latencies_ms.append((sent - started, (time.monotonic() - sent) * 1000))
            else:
                outcome.refused[command.key] = (response.status_code, response.text[:300])
        return answer
    with outcome.lock:
        outcome.unanswered.append(command.key)
    return None


def _read_back(system, client: httpx.Client, command: Command) -> dict | list | None:
    """What a command whose answer was lost after its commit recorded, as an operator would look it up: a
    reversal's request among the approvals waiting; an approval by its event in the store (`lost_commands`
    checks every acknowledged command there)."""
    if command.kind == "reversal":
        pending = client.get(system.url_of("invoicing") + "/approvals", params={
            "contract_id": command.contract_id, "limit": 500}).json()["items"]
        found = [p["request"] for p in pending if p["request"].get("bank_reference") == command.after]
        return found or None
    return {"outcome": "committed, answer lost"}


def _reason(response: httpx.Response) -> str | None:
    try:
        return response.json().get("reason")
    except (ValueError, AttributeError):
        return None


@dataclass
class FaultLog:
    kills: Counter = field(default_factory=Counter)
    postgres_restarts: int = 0
    broker_restarts: int = 0
    actions: list[str] = field(default_factory=list)


def inject(system: LocalSystem, faults: list[Fault], log: FaultLog) -> None:
    """Carry the schedule out in order, each fault a pause after the previous one's recovery."""
    started = time.monotonic()
    for fault in faults:
        time.sleep(fault.pause_s)
        at = time.monotonic() - started
        if fault.action == "kill":
            system.kill_service(fault.target)
            system.start_service(fault.target)
            system.wait_ready(fault.target)
            log.kills[fault.target] += 1
        elif fault.action == "restart_postgres":
            system.postgres.stop(mode="immediate")   # a crash: no checkpoint, recovery from the WAL
            system.postgres.start()
            log.postgres_restarts += 1
        else:
            restart_broker(system)
            log.broker_restarts += 1
        log.actions.append(f"{at:6.1f}s {fault.action} {fault.target or ''}".rstrip())


def restart_broker(system: LocalSystem) -> None:
    """tansu keeps messages in memory: what was published and not consumed is gone. As `make run` does
    on start, every relay publishes its history again (consumers' inboxes drop what they have), and
    the topics exist again before the relays may publish into them."""
    system.broker.stop()
    system.reset_relay_positions()
    system.broker.start()
    asyncio.run(ensure_topics(system.broker.bootstrap, all_topics(), system.partitions))
    system.reset_relay_positions()  # a relay that published just before the stop may have moved it


# ---- the promises -------------------------------------------------------------------------------
def subscribed_types(service: str) -> dict[str, set[str]]:
    module = __import__(f"services.{service}.app", fromlist=["definition"])
    return {topic: set(handlers) for topic, handlers in module.definition.subscriptions.items()}


def source_of(topic: str) -> str:
    return topic.split(".", 1)[0]


def missing_deliveries(system: LocalSystem) -> dict[str, int]:
    """Per consumer and topic, the events of a subscribed type that its inbox does not hold yet."""
    missing = {}
    for consumer in CONSUMERS:
        for topic, types in subscribed_types(consumer).items():
            listed = ",".join(f"'{t}'" for t in sorted(types))
            expected = {row[0] for row in sql(system, source_of(topic),
                                              f"SELECT event_id FROM event_store WHERE event_type IN ({listed})")}
            applied = {row[0] for row in sql(system, consumer,
                                             f"SELECT event_id FROM inbox WHERE source_topic = '{topic}'")}
            assert applied <= expected, f"{consumer} applied events {topic} never recorded: {applied - expected}"
            missing[f"{consumer}<-{topic}"] = len(expected - applied)
    return missing


def caught_up(system: LocalSystem) -> bool:
    relays = all(sql(system, s, "SELECT coalesce((SELECT max(position) FROM event_store), 0) = "
                                "coalesce((SELECT max(position) FROM relay_position), 0)")[0][0] == "t"
                 for s in SERVICES)
    return relays and not any(missing_deliveries(system).values())


_PAYLOAD = "convert_from(body, 'UTF8')::jsonb -> 'payload'"


def double_posted(system: LocalSystem) -> list[list[str]]:
    return sql(system, "invoicing", f"""
        SELECT {_PAYLOAD} ->> 'bank_reference', count(*) FROM event_store
        WHERE event_type = 'invoicing.PaymentReceived' GROUP BY 1 HAVING count(*) > 1""")


def lost_commands(system: LocalSystem, commands: list[Command], outcome: Outcome) -> list[str]:
    """Every acknowledged command whose event is not in its service's store."""
    payments = {row[0]: (row[1], Decimal(row[2])) for row in sql(system, "invoicing", f"""
        SELECT {_PAYLOAD} ->> 'bank_reference', contract_id, {_PAYLOAD} -> 'amount' ->> 'amount'
        FROM event_store WHERE event_type = 'invoicing.PaymentReceived'""")}
    applications = {row[0] for row in sql(system, "contracts", f"""
        SELECT {_PAYLOAD} ->> 'application_id' FROM event_store WHERE event_type LIKE 'contracts.Application%'""")}
    files = {row[0] for row in sql(system, "metering", f"""
        SELECT {_PAYLOAD} ->> 'file_sha256' FROM event_store WHERE event_type = 'metering.ReadingsImported'""")}
    requested = {row[0] for row in sql(system, "invoicing", f"""
        SELECT {_PAYLOAD} ->> 'bank_reference' FROM event_store WHERE event_type = 'invoicing.PaymentReversalRequested'""")}
    # a reversal is recorded once its second person approved it, naming both (four eyes)
    reversed_ = {row[0]: (row[1], row[2]) for row in sql(system, "invoicing", f"""
        SELECT {_PAYLOAD} ->> 'bank_reference', {_PAYLOAD} -> 'approval' ->> 'requested_by',
               {_PAYLOAD} -> 'approval' ->> 'approved_by'
        FROM event_store WHERE event_type = 'invoicing.PaymentReversed'""")}
    lost = []
    for command in commands:
        answer = outcome.acknowledged.get(command.key)
        if answer is None:
            continue
        if command.kind == "payment":
            stored = payments.get(command.key)
            if stored != (command.contract_id, Decimal(command.json["amount"]["amount"])):
                lost.append(f"payment {command.key}: stored {stored}")
        elif command.kind == "application" and answer["application_id"] not in applications:
            lost.append(f"application {command.key} ({answer['application_id']})")
        elif command.kind == "readings" and answer["file_sha256"] not in files:
            lost.append(f"readings {command.key}")
        elif command.kind == "reversal" and command.after not in requested:
            lost.append(f"reversal request {command.key}")
    for key in outcome.acknowledged:
        if key.startswith("APPROVE-REV-"):
            people = reversed_.get(key.removeprefix("APPROVE-REV-"))
            if people is None or people[0] == people[1]:
                lost.append(f"approved reversal {key}: recorded as {people}")
    return lost


def conservation(system: LocalSystem) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Per contract, from the invoicing store: (payments in net of reversals, allocated to debts net of what
    reversals reopened, advance held)."""
    received = defaultdict(Decimal)
    allocated = defaultdict(Decimal)
    for contract_id, event_type, body in sql(system, "invoicing", """
            SELECT contract_id, event_type, convert_from(body, 'UTF8') FROM event_store
            WHERE event_type IN ('invoicing.PaymentReceived', 'invoicing.PaymentAllocated',
                                 'invoicing.PaymentReversed') ORDER BY position"""):
        payload = json.loads(body)["payload"]
        if event_type == "invoicing.PaymentAllocated":
            allocated[contract_id] += sum((Decimal(s["amount"]["amount"]) for s in payload["slices"]), Decimal(0))
        elif event_type == "invoicing.PaymentReversed":
            received[contract_id] -= Decimal(payload["amount"]["amount"])
            allocated[contract_id] -= sum((Decimal(s["amount"]["amount"]) for s in payload["reopened"]), Decimal(0))
        else:
            received[contract_id] += Decimal(payload["amount"]["amount"])
    advance = {row[0]: Decimal(row[1]) for row in sql(system, "invoicing", "SELECT contract_id, advance FROM accounts")}
    return {c: (received[c], allocated[c], advance.get(c, Decimal(0))) for c in set(received) | set(advance)}


def verify_all(system: LocalSystem) -> dict[str, bool]:
    async def run():
        return {s: (await verify_service(s, system.database_url(s))).ok for s in SERVICES}

    return asyncio.run(run())


def log_lines(system: LocalSystem) -> list[str]:
    lines = []
    for service in SERVICES:
        path = system.data_dir / f"{service}.log"
        if path.exists():
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines


def leaked_secrets(system: ChaosSystem) -> list[str]:
    return [line[:200] for line in log_lines(system) for secret in system.secrets() if secret in line]


def check_promises(system: ChaosSystem, commands: list[Command], outcome: Outcome, contracts: int,
                   report) -> None:
    """After a run has caught up: every command answered and none refused, nothing dead-lettered or
    undelivered, nothing double-posted or lost, money conserved per contract, `verify` passes for every
    service, no secret in the logs."""
    dead_letters = [line for line in log_lines(system) if "event_dead_lettered" in line]
    assert not outcome.refused, outcome.refused
    assert not outcome.unanswered, outcome.unanswered
    assert not dead_letters, dead_letters[:3]
    assert not any(missing_deliveries(system).values())
    assert double_posted(system) == []
    assert lost_commands(system, commands, outcome) == []
    balances = conservation(system)
    assert len(balances) == contracts
    unbalanced = {c: v for c, v in balances.items() if v[0] != v[1] + v[2]}
    assert not unbalanced, unbalanced
    paid = sum((b[0] for b in balances.values()), start=Decimal(0))
    report(f"conservation: {len(balances)} contracts, payments in {paid} KZT = allocations + advance on each")
    verified = verify_all(system)
    report(f"verify: {verified}")
    assert all(verified.values()), verified
    assert leaked_secrets(system) == []


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
