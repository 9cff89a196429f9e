"""The menu: each desk's pages. An entry shows when the person works at one of its desks; hiding it is
a convenience, not the protection (the services refuse what a person's desks do not allow)."""

from __future__ import annotations

from dataclasses import dataclass

from services.backoffice.i18n import N_
from services.backoffice.people import Person


@dataclass(frozen=True)
class Entry:
    path: str
    label: str           # an English msgid; the template shows the catalogue's text
    desks: frozenset[str] | None = None   # None: everyone

    def shown_to(self, person: Person) -> bool:
        return self.desks is None or person.works_at(*self.desks)


MENU = (
    Entry("/", N_("Today")),
    Entry("/contracts", N_("Contracts")),
    Entry("/treasury", N_("Treasury"), frozenset({"treasury", "auditor"})),
    Entry("/dispatch", N_("Dispatch"), frozenset({"dispatch", "contracts", "auditor"})),
    Entry("/metering", N_("Metering"), frozenset({"metering", "billing", "auditor"})),
    Entry("/claims", N_("Claims desk"), frozenset({"claims", "privacy", "auditor"})),
    Entry("/audit", N_("Audit"), frozenset({"auditor", "admin"})),
)


def menu_for(person: Person) -> list[Entry]:
    return [entry for entry in MENU if entry.shown_to(person)]
