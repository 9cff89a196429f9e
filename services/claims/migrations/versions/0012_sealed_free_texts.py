"""The desk's free texts sealed (law 94-V): a claim's description, comment and reasons and a request's
details are kept sealed in `sealed` (`{column: blob}`, as the events carry them) and opened into their
columns only while the contract's key is held (`services/claims/sealed_texts.py`).

The rows written before become what a rebuild writes now: each text in the form its v1 event is upcast to
(recorded in clear), opened as it was where the desk holds a key of the contract, "[shredded]" where the
contract was shredded, NULL where no key has arrived.

Revision ID: 0012
"""

from alembic import op

revision = "0012"
down_revision = "0011"


def _in_clear(column: str) -> str:
    return f"jsonb_build_object('{column}', jsonb_build_object('in_clear', jsonb_build_object('text', {column})))"


# the rows of contracts whose texts no key opens: "[shredded]" once shredded, NULL while none has arrived
_UNOPENED = """
    SELECT t.{key}, CASE WHEN k.shredded_at IS NOT NULL THEN '[shredded]' END AS mark
    FROM {table} t LEFT JOIN personal_data_keys k USING (contract_id)
    WHERE k.key IS NULL AND k.own_key IS NULL
"""


def upgrade() -> None:
    op.execute("ALTER TABLE claims ADD COLUMN sealed jsonb NOT NULL DEFAULT '{}',"
               " ALTER COLUMN description DROP NOT NULL")
    op.execute("ALTER TABLE personal_data_requests ADD COLUMN sealed jsonb NOT NULL DEFAULT '{}',"
               " ALTER COLUMN details DROP NOT NULL")
    # an empty comment or details was an absent one (the upcasters make it none)
    op.execute(f"""
        UPDATE claims SET sealed = {_in_clear('description')}
            || CASE WHEN comment IS NULL THEN '{{}}'::jsonb ELSE {_in_clear('comment')} END
            || CASE WHEN reasons IS NULL THEN '{{}}'::jsonb ELSE {_in_clear('reasons')} END
    """)
    op.execute(f"UPDATE personal_data_requests SET sealed = {_in_clear('details')} WHERE details <> ''")
    op.execute(f"""
        UPDATE claims c SET description = m.mark,
            comment = CASE WHEN c.comment IS NULL THEN NULL ELSE m.mark END,
            reasons = CASE WHEN c.reasons IS NULL OR m.mark IS NULL THEN NULL ELSE jsonb_build_array(m.mark) END
        FROM ({_UNOPENED.format(key="claim_id", table="claims")}) m
        WHERE c.claim_id = m.claim_id
    """)
    op.execute(f"""
        UPDATE personal_data_requests r SET details = CASE WHEN r.details = '' THEN '' ELSE m.mark END
        FROM ({_UNOPENED.format(key="request_id", table="personal_data_requests")}) m
        WHERE r.request_id = m.request_id
    """)


def downgrade() -> None:
    raise NotImplementedError("texts blanked or emptied while no key opens them are not brought back")
