"""The four services. Importing this package registers every service's own events (`services/<svc>/events.py`)
in the one registry beside the shared ones, so each service's process knows every type on the topics it
reads: its consumer acknowledges a type it does not apply (`shared/consumer.py`), where an unknown type would
be dead-lettered as `unknown_event_type`, and `ledger verify` decodes any service's whole store."""

from services.invoicing import events as _invoicing_events  # noqa: F401
