"""The four services. Importing any part of one registers every service's own events
(`services/<service>/events.py`, the types no other service reads) in the one registry, in every process:
a consumer skips a type of a topic it reads without reading the body only when it knows the type, and
dead-letters a type it does not know (`shared/consumer.py`), so the contracts, metering and invoicing
processes must know the claims desk's own types too; `ledger verify` and `ledger replay` decode a whole
store through the registry as well."""

from importlib import import_module
from importlib.util import find_spec
from pkgutil import iter_modules

for _service in iter_modules(__path__):
    if _service.ispkg and find_spec(f"{__name__}.{_service.name}.events") is not None:
        import_module(f"{__name__}.{_service.name}.events")
