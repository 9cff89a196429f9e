"""The clause index: which rule of the code comes from which clause of the contract, what it records and which
tests prove it, generated from the `§` citations in the code and the tests.

    python -m devtools.clauses write     # docs/clauses.md from the code as it is
    python -m devtools.clauses check     # exit 1 when docs/clauses.md is stale or a citation is wrong

A citation is `§` and a clause number of the seed contract (No. 01/2021-85, `CONTRACT_CLAUSES`) in a comment
or docstring. Each is filed under the function or class it stands in (a module's docstring: the module);
the events a cited function constructs are listed beside it, and every test function (or test module, by its
docstring) that cites the same clause. `problems` finds a citation of a clause the contract does not have
and a clause cited in a `domain/` package that no test cites.
"""

from __future__ import annotations

import ast
import importlib
import io
import re
import sys
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "docs" / "clauses.md"
CITATION = re.compile(r"§\s?(\d+(?:\.\d+)*)")

# the clauses of the seed contract, with a few words of what each says (the contract itself is the source)
CONTRACT_CLAUSES = {
    "1": "definitions", "2": "subject", "2.1": "sale and purchase", "2.2": "the buyer's own consumption",
    "3": "term", "3.1": "in force for 2022; until every obligation is performed", "3.2": "extension",
    "4": "supply", "4.1": "within the monthly volumes of Appendix 1", "4.2": "delivery points",
    "4.3": "daily application by 10:00 Astana time", "4.4": "operative correction within 5%, 3 hours ahead",
    "4.5": "above the plan only with the seller's free volume", "4.6": "no or late application: refusal to buy",
    "4.7": "agreed channels", "4.8": "balancing provider", "4.9": "imbalance responsibility",
    "4.10": "deficit of capacity", "4.11": "actual volume from the system operator's balance",
    "4.12": "preliminary reconciliation act by the 3rd", "4.13": "volume act within 3 working days",
    "4.14": "deemed signed after 15 days",
    "5": "settlement", "5.1": "price (Appendix 4)", "5.2": "price change on 10 days' notice",
    "5.3": "100% prepayment of the next 10 days; restriction", "5.4": "final settlement within 5 banking days",
    "5.5": "ESF dated the period's last day", "5.6": "reconciliation act by the 15th",
    "5.7": "penalty: 1.5 × the refinancing (base) rate a day", "5.8": "debt first; advance; refund on leaving",
    "6": "quality", "6.1": "GOST 13109-97",
    "7": "rights and duties", "7.1": "the seller may", "7.1.1": "terminate on 30 days' notice; restrict supply",
    "7.1.2": "demand performance", "7.1.3": "recover costs", "7.2": "the seller shall", "7.2.1": "supply",
    "7.3": "the buyer may", "7.3.1": "demand performance", "7.3.2": "recover costs", "7.4": "the buyer shall",
    "7.4.1": "pay on time", "7.4.2": "submit applications", "7.4.3": "keep to the declared volume",
    "7.4.4": "take the energy",
    "8": "force majeure", "8.1": "released for the event's duration", "8.2": "notified within 30 days",
    "8.3": "no notice: no release", "8.4": "the right lost", "8.5": "after 3 months the parties decide",
    "9": "disputes", "9.1": "negotiation", "9.2": "claims answered within 15 days", "9.3": "court",
    "10": "jurisdiction", "10.1": "the law of Kazakhstan",
    "11": "other terms", "11.1": "no assignment", "11.2": "withdrawal after repeated breach, 7 days' notice",
    "11.3": "amendments in writing", "11.4": "penalties paid do not release", "11.5": "change of requisites",
    "11.6": "confidentiality", "11.7": "notices by agreed channels", "11.8": "language and copies",
    "12": "addresses and bank requisites",
}


@dataclass(frozen=True)
class Site:
    """Where a clause is cited: `module:function` (or the module alone), and the events it constructs."""

    module: str
    name: str
    events: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.module}:{self.name}" if self.name else self.module


@dataclass
class Index:
    rules: dict[str, list[Site]] = field(default_factory=lambda: defaultdict(list))   # clause → domain sites
    code: dict[str, list[Site]] = field(default_factory=lambda: defaultdict(list))    # clause → other code
    tests: dict[str, list[Site]] = field(default_factory=lambda: defaultdict(list))   # clause → tests


def _module(path: Path) -> str:
    if not path.is_relative_to(ROOT):
        return path.stem
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _scopes(tree: ast.Module) -> list[tuple[int, int, str, ast.AST]]:
    """(first line, last line, name, node) of every function and class, outermost first."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node.lineno, node.end_lineno or node.lineno, node.name, node))
    return sorted(found, key=lambda s: (s[0], -s[1]))


def _innermost(scopes, line: int):
    inside = [s for s in scopes if s[0] <= line <= s[1]]
    return max(inside, key=lambda s: s[0]) if inside else None


def _constructed(node: ast.AST, event_names: frozenset[str]) -> tuple[str, ...]:
    names = {call.func.id for call in ast.walk(node) if isinstance(call, ast.Call)
             and isinstance(call.func, ast.Name) and call.func.id in event_names}
    return tuple(sorted(names))


def citations(path: Path, event_names: frozenset[str] = frozenset()) -> list[tuple[str, Site]]:
    """(clause, site) of every `§` in a file's comments and docstrings."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    scopes = _scopes(tree)
    module = _module(path)
    cited: list[tuple[int, str]] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in (tokenize.COMMENT, tokenize.STRING):
            cited += [(token.start[0], m.group(1)) for m in CITATION.finditer(token.string)]
    found = []
    for line, clause in cited:
        scope = _innermost(scopes, line)
        if scope is None:
            found.append((clause, Site(module, "")))
        else:
            found.append((clause, Site(module, scope[2], _constructed(scope[3], event_names))))
    return found


def _event_names() -> frozenset[str]:
    sys.path.insert(0, str(ROOT))
    import services  # noqa: F401  (registers each service's own events, `services/<service>/events.py`)
    from shared.events import registry

    for module in sorted((ROOT / "services").glob("*/events.py")):   # the events only their own service reads
        importlib.import_module(f"services.{module.parent.name}.events")
    return frozenset(cls.__name__ for cls in registry.types())


def build() -> Index:
    index, events = Index(), _event_names()
    for path in sorted((ROOT / "services").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        target = index.rules if "domain" in path.parts else index.code
        for clause, site in citations(path, events):
            if site not in target[clause]:
                target[clause].append(site)
    for folder in ("shared", "ledger_cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for clause, site in citations(path, events):
                if site not in index.code[clause]:
                    index.code[clause].append(site)
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for clause, site in citations(path):
            site = Site(site.module, site.name if site.name.startswith("test") else "")
            if site not in index.tests[clause]:
                index.tests[clause].append(site)
    return index


def _key(clause: str) -> tuple[int, ...]:
    return tuple(int(part) for part in clause.split("."))


def problems(index: Index) -> list[str]:
    found = []
    for kind, cited in (("code", index.rules), ("code", index.code), ("a test", index.tests)):
        for clause, sites in cited.items():
            if clause not in CONTRACT_CLAUSES:
                found.append(f"§{clause} cited by {kind} ({', '.join(map(str, sites))}) is not a clause of the contract")
    for clause, sites in index.rules.items():
        if clause in CONTRACT_CLAUSES and not index.tests.get(clause):
            found.append(f"§{clause} is a rule of {', '.join(map(str, sites))} that no test cites")
    return found


def render(index: Index) -> str:
    lines = ["# Clause index", "",
             "Which rule comes from which clause of the seed contract (No. 01/2021-85), what it records and which",
             "tests prove it. Generated by `python -m devtools.clauses write` from the `§` citations in the code and",
             "the tests; `tests/unit/test_clause_index.py` fails when it is stale, when a citation names a clause",
             "the contract does not have, or when a clause a rule cites has no test citing it.", ""]
    for clause in sorted(set(index.rules) | set(index.code) | set(index.tests), key=_key):
        lines.append(f"## §{clause} — {CONTRACT_CLAUSES.get(clause, 'not a clause of the contract')}")
        lines.append("")
        for title, sites in (("rules", index.rules.get(clause, [])), ("edges", index.code.get(clause, []))):
            for site in sites:
                events = f" → {', '.join(site.events)}" if site.events else ""
                lines.append(f"- {title[:-1]}: `{site}`{events}")
        for site in index.tests.get(clause, []):
            lines.append(f"- test: `{site}`")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    command = (argv if argv is not None else sys.argv[1:] or ["check"])[0]
    index = build()
    text = render(index)
    if command == "write":
        INDEX.write_text(text, encoding="utf-8")
        print(f"wrote {INDEX.relative_to(ROOT)}")
    found = problems(index)
    if command == "check" and INDEX.read_text(encoding="utf-8") != text:
        found.append(f"{INDEX.relative_to(ROOT)} is stale: run `python -m devtools.clauses write`")
    for problem in found:
        print(problem)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
