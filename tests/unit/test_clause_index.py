"""Proves the clause index (docs/clauses.md, `python -m devtools.clauses`) is current, that every `§` cited
anywhere is a clause of the seed contract, and that every clause a `domain/` rule cites is cited by a test;
and that the checks catch a clause the contract does not have and a rule no test cites."""

from __future__ import annotations

from devtools import clauses


def test_the_index_is_current_and_every_citation_is_a_tested_clause_of_the_contract():
    index = clauses.build()
    assert clauses.problems(index) == []
    assert clauses.INDEX.read_text(encoding="utf-8") == clauses.render(index), \
        "docs/clauses.md is stale: python -m devtools.clauses write"


def test_a_citation_of_a_clause_the_contract_lacks_and_an_untested_rule_are_found(tmp_path):
    rule = tmp_path / "rule.py"
    wrong = "\u00a7" + "5.9"   # spelled so that this file does not cite it
    rule.write_text(f'def act_of_settlement():\n    """{wrong} the reconciliation act"""\n'
                    'def penalty():\n    return 1  # §5.7 per day of delay\n', encoding="utf-8")
    index = clauses.Index()
    for clause, site in clauses.citations(rule):
        index.rules[clause].append(site)
    assert sorted(index.rules) == ["5.7", "5.9"]
    found = clauses.problems(index)
    assert any(wrong in p and "not a clause of the contract" in p for p in found)
    assert any("§5.7" in p and "no test cites" in p for p in found)
    index.tests["5.7"].append(clauses.Site("tests.unit.test_x", "test_penalty"))
    assert not any("§5.7" in p for p in clauses.problems(index))
