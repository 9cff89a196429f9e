"""The month's plan (§4.1) and the paid share of a restricted day (§5.3): each day's volume agreed out of
the month (`applications.held_kwh`) and the share of the prepayment the ledger last said was paid
(`supply_conditions.covered_share`).

`held_kwh` is filled from the day's events as the projection folds them: the newest accepted, corrected or
reinstated volume of the day (a restriction's cut leaves it), so the live table equals a rebuilt one.

Revision ID: 0009
"""

from alembic import op

from shared.eventstore.schema import no_downgrade

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.execute("ALTER TABLE applications ADD COLUMN held_kwh numeric(20, 3) NOT NULL DEFAULT 0")
    op.execute("""
        UPDATE applications a SET held_kwh = COALESCE((
            SELECT CAST(convert_from(e.body, 'UTF8')::jsonb -> 'payload' ->> 'accepted_kwh' AS numeric)
            FROM event_store e
            WHERE e.stream_id = 'applications-' || a.contract_id || '-' || a.day
              AND e.event_type IN ('contracts.ApplicationAccepted', 'contracts.ApplicationCorrected',
                                   'contracts.ApplicationReinstated')
            ORDER BY e.position DESC LIMIT 1), 0)
        WHERE a.status = 'accepted'
    """)
    op.execute("ALTER TABLE supply_conditions ADD COLUMN covered_share numeric")


downgrade = no_downgrade
