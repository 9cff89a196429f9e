"""Proves every service's OpenAPI document says what the service really accepts and answers: schemathesis,
with every check it has, the examples and fuzzing phases and 15 examples per operation, run against the four
services started as `make run` starts them (`python -m devtools.conformance`), finds no failure — no status,
body or header the document does not describe, no request refused that the document calls valid (but the
operations `devtools/conformance.toml` names, each with the rule no schema can state), no 5xx.

And that the run can fail: a document that hides a status the service gives is caught."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools import conformance

# the same requests every build (a failure is then a change, not a draw); `python -m devtools.conformance`
# draws new ones each run, and `CONFORMANCE_SEED` here replays one of those
SEED = int(os.environ.get("CONFORMANCE_SEED", "20261206"))


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    with conformance.started(tmp_path_factory.mktemp("conformance") / "system") as system:
        yield system


@pytest.mark.parametrize("service", ["contracts", "metering", "invoicing", "claims"])
def test_the_service_answers_as_its_document_says(running, service, tmp_path):
    outcome = conformance.run_service(running, service, tmp_path, seed=SEED)
    assert outcome.failures == [], "\n".join(outcome.failures)
    assert outcome.exit_code == 0, outcome.output


def test_an_undocumented_status_is_found(running, tmp_path):
    # the claims document with 404 taken out of every answer list: the paged lists' unknown cursor (and a
    # claim id that names nothing) answer 404, so schemathesis must report an undocumented status
    document = conformance.document_of(running, "claims")
    for operations in document["paths"].values():
        for operation in operations.values():
            operation.get("responses", {}).pop("404", None)
    outcome = conformance.run_service(running, "claims", tmp_path, document=document, seed=SEED)
    assert any("Undocumented status code" in failure and "404" in failure for failure in outcome.failures), \
        "\n".join(outcome.failures) or outcome.output[-3000:]
    assert Path(tmp_path / "claims.xml").exists()
