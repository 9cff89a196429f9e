"""Volume acts and actual balances.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE volume_acts (
            act_id            text PRIMARY KEY,
            contract_id       text NOT NULL,
            period            text NOT NULL,
            volume_kwh        numeric(20, 3) NOT NULL,
            issued_on         date NOT NULL,
            delivered_on      date NOT NULL,
            issue_deadline    date,
            status            text NOT NULL,
            corrects_act_id   text,
            accepted_on       date,
            deemed            boolean,
            disputed_reason   text
        )
    """)
    op.execute("CREATE INDEX volume_acts_contract_idx ON volume_acts (contract_id, period)")
    op.execute("""
        CREATE TABLE actual_balances (
            contract_id       text NOT NULL,
            period            text NOT NULL,
            volume_kwh        numeric(20, 3) NOT NULL,
            meter_volume_kwh  numeric(20, 3),
            difference_kwh    numeric(20, 3),
            published_on      date NOT NULL,
            PRIMARY KEY (contract_id, period)
        )
    """)
    op.execute("""
        CREATE TABLE preliminary_acts (
            contract_id  text NOT NULL,
            period       text NOT NULL,
            received_on  date NOT NULL,
            volume_kwh   numeric(20, 3) NOT NULL,
            on_time      boolean NOT NULL,
            PRIMARY KEY (contract_id, period, received_on)
        )
    """)


def downgrade() -> None:
    for table in ("preliminary_acts", "actual_balances", "volume_acts"):
        op.execute(f"DROP TABLE {table}")
