"""The requests awaiting their second person (`request_projection.py`): one row per pending request, so the
approvals list and the desks' counts read what waits, not every request ever made. Filled here from the
events: a request is pending while no `RequestDeclined` names it and no event carries its approval.

Revision ID: 0016
"""

from alembic import op

revision = "0016"
down_revision = "0015"

DESKS = {"invoicing.PaymentReversalRequested": "treasury", "invoicing.PenaltyWaiverRequested": "billing",
         "invoicing.RefundRequested": "billing", "invoicing.TerminationNoticeProposed": "collections",
         "invoicing.CollectionReversalRequested": "collections",
         "invoicing.InstallmentAgreementProposed": "collections", "invoicing.WriteOffRequested": "collections",
         "invoicing.DepositApplicationRequested": "collections", "invoicing.DepositReturnRequested": "treasury"}
APPROVING = ("invoicing.CollectionLineExecuted", "invoicing.CollectionLineReversed", "invoicing.DebtWrittenOff",
             "invoicing.DepositApplied", "invoicing.DepositReturned",
             "invoicing.InstallmentAgreementConcluded", "invoicing.PaymentReversed", "invoicing.PenaltyReversed",
             "invoicing.PenaltyWaived", "invoicing.RefundIssued", "invoicing.RestrictionNoticeWithdrawn",
             "invoicing.TerminationNoticeIssued", "invoicing.TerminationNoticeWithdrawn")


def _list(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


def upgrade() -> None:
    op.execute("""
        CREATE TABLE pending_requests (
            request_id    text PRIMARY KEY,
            contract_id   text NOT NULL,
            position      bigint NOT NULL UNIQUE,
            action        text NOT NULL,
            desk          text NOT NULL,
            requested_by  text NOT NULL,
            requested_at  timestamptz NOT NULL
        )
    """)
    op.execute("CREATE INDEX pending_requests_contract_idx ON pending_requests (contract_id, position)")
    op.execute("CREATE INDEX statement_lines_esf_deadline_idx ON statement_lines ((details->>'esf_deadline'))"
               " WHERE kind = 'invoice'")
    desk_of = " ".join(f"WHEN '{event_type}' THEN '{desk}'" for event_type, desk in DESKS.items())
    op.execute(f"""
        WITH stored AS (
            SELECT position, event_type, contract_id, recorded_at,
                   CAST(convert_from(body, 'UTF8') AS jsonb) -> 'payload' AS payload
            FROM event_store WHERE event_type IN ({_list(DESKS)}, 'invoicing.RequestDeclined', {_list(APPROVING)})
        ), decided AS (
            SELECT payload ->> 'request_id' AS request_id FROM stored WHERE event_type = 'invoicing.RequestDeclined'
            UNION
            SELECT payload -> 'approval' ->> 'request_id' FROM stored
            WHERE event_type IN ({_list(APPROVING)}) AND jsonb_typeof(payload -> 'approval') = 'object'
        )
        INSERT INTO pending_requests (request_id, contract_id, position, action, desk, requested_by, requested_at)
        SELECT payload ->> 'request_id', contract_id, position, event_type, CASE event_type {desk_of} END,
               payload ->> 'requested_by', recorded_at
        FROM stored
        WHERE event_type IN ({_list(DESKS)})
          AND payload ->> 'request_id' NOT IN (SELECT request_id FROM decided WHERE request_id IS NOT NULL)
    """)


def downgrade() -> None:
    op.execute("DROP INDEX statement_lines_esf_deadline_idx")
    op.execute("DROP TABLE pending_requests")
